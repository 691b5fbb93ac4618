"""Assignments and work: what a group was set, each pupil's side of it, submissions and their files."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from graph.core.relay import Connection, Node, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.learning.types.content import ContentType
from graph.school.learning.types.progress import pupil_of_row
from graph.school.learning.types.scale import AssignmentKind, WorkStatus
from graph.school.people.types import GroupType, PupilType, StaffType
from learning import assignments
from learning import policies as rules
from models.content import StoredFile
from models.learning import Submission
from storage.files import local_store


async def _file_data(root: FileInfoType, info: Info) -> str:
    store = local_store(info.context.auth.settings.data_dir)
    return base64.b64encode(await store.get(root.row.storage_key)).decode()


@strawberry.type(name="FileInfo", description="An uploaded file. Reached only through Submission.file.")
class FileInfoType:
    row: strawberry.Private[StoredFile]
    file_name: str
    media_type: str
    byte_size: int
    data_base64: str = strawberry.field(resolver=_file_data, description="The file's bytes, base64-encoded.")


async def _submission_file(root: SubmissionType, info: Info) -> FileInfoType | None:
    if root.row.file_id is None:
        return None
    row = await info.context.loaders.learning.file.load(root.row.file_id)
    return (
        None
        if row is None
        else FileInfoType(
            row=row, file_name=row.file_name, media_type=row.media_type, byte_size=row.byte_size
        )
    )


async def _feedback_by(root: SubmissionType, info: Info) -> StaffType | None:
    if root.row.feedback_by_staff is None:
        return None
    row = await info.context.loaders.learning.staff.load(root.row.feedback_by_staff)
    return None if row is None else StaffType.of(row)


@personal_data
@strawberry.type(name="Submission", description="A pupil's work on an assignment and the feedback on it.")
class SubmissionType(Node):
    row: strawberry.Private[Submission]
    id: strawberry.ID = public("opaque identifier")
    text: str | None = guarded(rules.LEARNING_RECORD)
    submitted_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    feedback: str | None = guarded(rules.LEARNING_RECORD)
    feedback_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    file: FileInfoType | None = guarded(rules.LEARNING_RECORD, resolver=_submission_file)
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=pupil_of_row)
    feedback_by: StaffType | None = guarded(rules.LEARNING_RECORD, resolver=_feedback_by)

    @classmethod
    def of(cls, row: Submission) -> SubmissionType:
        return cls(
            row=row,
            id=to_global_id("Submission", row.id),
            text=row.text,
            submitted_at=row.submitted_at,
            feedback=row.feedback,
            feedback_at=row.feedback_at,
        )


def _work_pupil(root: PupilWorkType) -> PupilType:
    return PupilType.of(root.row.pupil)


def _work_status(root: PupilWorkType) -> WorkStatus:
    return WorkStatus(root.row.status)


def _work_submission(root: PupilWorkType) -> SubmissionType | None:
    s = root.row.submission
    return None if s is None else SubmissionType.of(s)


@personal_data
@strawberry.type(name="PupilWork", description="One pupil's side of an assignment: status and submission.")
class PupilWorkType:
    row: strawberry.Private[assignments.PupilWork]
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=_work_pupil)
    status: WorkStatus | None = guarded(rules.LEARNING_RECORD, resolver=_work_status)
    submission: SubmissionType | None = guarded(rules.LEARNING_RECORD, resolver=_work_submission)


async def _assignment_group(root: AssignmentType, info: Info) -> GroupType | None:
    row = await info.context.loaders.learning.group.load(root.row.group_id)
    return None if row is None else GroupType.of(row)


async def _assignment_content(root: AssignmentType, info: Info) -> ContentType | None:
    content_id = root.row.platform_content_id or root.row.school_content_id
    if content_id is None:
        return None
    item = await info.context.loaders.learning.content.load(content_id)
    return None if item is None else ContentType.of(item)


async def _assignment_setter(root: AssignmentType, info: Info) -> StaffType | None:
    if root.row.set_by_staff is None:
        return None
    row = await info.context.loaders.learning.staff.load(root.row.set_by_staff)
    return None if row is None else StaffType.of(row)


async def _assignment_work(root: AssignmentType, info: Info) -> list[PupilWorkType]:
    loaders = info.context.loaders.learning
    loaders.assignments[root.row.id] = root.row
    return [PupilWorkType(row=w) for w in await loaders.work.load(root.row.id)]


@personal_data
@strawberry.type(name="Assignment", description="Homework or a revision resource set to a group.")
class AssignmentType(Node):
    row: strawberry.Private[Any]
    id: strawberry.ID = public("opaque identifier")
    title: str | None = guarded(rules.GROUP_WORK)
    kind: AssignmentKind | None = guarded(rules.GROUP_WORK)
    instructions: str | None = guarded(rules.GROUP_WORK)
    due_on: datetime.date | None = guarded(rules.GROUP_WORK)
    created_at: datetime.datetime | None = guarded(rules.GROUP_WORK)
    group: GroupType | None = guarded(rules.GROUP_WORK, resolver=_assignment_group)
    content: ContentType | None = guarded(
        rules.GROUP_WORK,
        resolver=_assignment_content,
        description="The referenced content; null when none, or when it was taken down.",
    )
    set_by: StaffType | None = guarded(rules.GROUP_WORK, resolver=_assignment_setter)
    work: list[PupilWorkType] | None = guarded(
        rules.GROUP_WORK,
        resolver=_assignment_work,
        description="Status and submission of each pupil the caller may see: the whole group for its "
        "teachers, a pupil themself, a parent their children.",
    )

    @classmethod
    def of(cls, row: Any) -> AssignmentType:
        return cls(
            row=row,
            id=to_global_id("Assignment", row.id),
            title=row.title,
            kind=AssignmentKind(row.kind),
            instructions=row.instructions,
            due_on=row.due_on,
            created_at=row.created_at,
        )


AssignmentConnection = Connection[AssignmentType]

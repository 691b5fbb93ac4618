"""GraphQL types of learning: ladders, judgements and progress, assignments and work, content, records
of achievement and goals.

As in ``graph/school/types.py``: types wrap a row (``row``, private) and every field of a personal-data
type declares its policy (``learning/policies.py``, ``auth/policies.py``). Curriculum types (Ladder, Rung,
Content, LevelLabel) carry no personal data and have plain fields. Cells reached only through a guarded
list (a pupil's latest judgements, a class's distribution per rung) are plain too: the list field's
policy admits the caller before any cell is built, and strawberry skips its per-field machinery on plain
fields, which keeps a class of 30 pupils x 15 rungs cheap.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from enum import Enum
from functools import lru_cache
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.relay import Connection, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.types import GroupType, PupilType, StaffType
from learning import assignments, content, ladders, progress
from learning import policies as rules
from learning.content import ContentItem, DownloadedFile, DownloadRecord
from models import Pupil
from models.learning import (
    Achievement,
    ContentReport,
    Judgement,
    LearningGoal,
    PrintGrant,
    PrintRequest,
    StoredFile,
    Submission,
)
from storage.files import local_store


@strawberry.enum(
    description="The judgement scale, lowest first. A school may rename the labels (levelScale)."
)
class JudgementLevel(Enum):
    NOT_YET = "NOT_YET"
    WORKING_TOWARDS = "WORKING_TOWARDS"
    SECURE = "SECURE"
    GREATER_DEPTH = "GREATER_DEPTH"


LEVEL_BY_NAME = {level.value: level for level in JudgementLevel}


@strawberry.enum(description="PLATFORM: pre-loaded, read by every school. SCHOOL: this school's own.")
class Source(Enum):
    PLATFORM = "PLATFORM"
    SCHOOL = "SCHOOL"


@strawberry.enum
class AssignmentKind(Enum):
    HOMEWORK = "HOMEWORK"
    REVISION = "REVISION"


@strawberry.enum(description="A pupil's side of an assignment.")
class WorkStatus(Enum):
    NOT_SUBMITTED = "NOT_SUBMITTED"
    OVERDUE = "OVERDUE"
    SUBMITTED = "SUBMITTED"
    SUBMITTED_LATE = "SUBMITTED_LATE"
    FEEDBACK_GIVEN = "FEEDBACK_GIVEN"


@strawberry.enum
class AchievementKind(Enum):
    AWARD = "AWARD"
    QUALIFICATION = "QUALIFICATION"
    PARTICIPATION = "PARTICIPATION"


@strawberry.enum
class GoalStatus(Enum):
    OPEN = "OPEN"
    ACHIEVED = "ACHIEVED"
    DROPPED = "DROPPED"


@strawberry.enum
class ReportStatus(Enum):
    OPEN = "OPEN"
    TAKEN_DOWN = "TAKEN_DOWN"
    DISMISSED = "DISMISSED"


def _gid(kind: str, value: uuid.UUID) -> strawberry.ID:
    return to_global_id(kind, value)


# --- curriculum ------------------------------------------------------------------------------------------


@strawberry.type(name="Rung", description="One objective of a ladder.")
class RungType:
    row: strawberry.Private[ladders.RungRow]
    id: strawberry.ID
    position: int = strawberry.field(description="1 = the first objective of the ladder.")
    code: str
    statement: str

    @classmethod
    def of(cls, row: ladders.RungRow) -> RungType:
        return _rung_type(row)


@lru_cache(maxsize=8192)
def _rung_type(row: ladders.RungRow) -> RungType:
    """Rungs are reference data (a platform ladder is read once per process) and a RungType holds nothing
    of a request: one object per rung serves every class view."""
    return RungType(
        row=row, id=_gid("Rung", row.id), position=row.position, code=row.code, statement=row.statement
    )


@strawberry.type(name="Ladder", description="A subject and year group with ordered rungs (objectives).")
class LadderType:
    row: strawberry.Private[ladders.LadderRow]
    id: strawberry.ID
    source: Source
    code: str
    subject: str
    year_group: int | None
    title: str
    archived: bool
    rungs: list[RungType] = strawberry.field(description="In ladder order.")
    """A plain attribute, so the executor reads it directly (a class view stays on its direct path): every
    LadderType is made with its rungs, which the ladder reads load with the ladder."""

    @classmethod
    def of(cls, row: ladders.LadderRow, rungs: tuple[ladders.RungRow, ...]) -> LadderType:
        return cls(
            row=row,
            rungs=[RungType.of(r) for r in rungs],
            id=_gid("Ladder", row.id),
            source=Source(row.source),
            code=row.code,
            subject=row.subject,
            year_group=row.year_group,
            title=row.title,
            archived=row.archived,
        )

    @classmethod
    def full(cls, ladder: ladders.Ladder) -> LadderType:
        return cls.of(ladder.row, ladder.rungs)


LadderConnection = Connection[LadderType]


@strawberry.type(name="LevelLabel", description="The school's name for a level of the scale.")
class LevelLabelType:
    level: JudgementLevel
    label: str


# --- judgements and progress ---------------------------------------------------------------------------


async def _judgement_pupil(root: Any, info: Info) -> PupilType | None:
    row = await info.context.loaders.learning.pupil.load(root.row.pupil_id)
    return None if row is None else PupilType.of(row)


async def _judgement_rung(root: JudgementType, info: Info) -> RungType | None:
    found = await info.context.loaders.learning.rung.load(root.row.rung_id)
    return None if found is None else RungType.of(found[0])


async def _judgement_assessor(root: JudgementType, info: Info) -> StaffType | None:
    if root.row.assessed_by_staff is None:
        return None
    row = await info.context.loaders.learning.staff.load(root.row.assessed_by_staff)
    return None if row is None else StaffType.of(row)


@personal_data
@strawberry.type(
    name="Judgement", description="One recorded judgement of a pupil on a rung (history is kept)."
)
class JudgementType:
    row: strawberry.Private[Judgement]
    id: strawberry.ID = public("opaque identifier")
    level: JudgementLevel | None = guarded(rules.LEARNING_RECORD)
    assessed_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    note: str | None = guarded(rules.LEARNING_RECORD)
    recorded_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=_judgement_pupil)
    rung: RungType | None = guarded(rules.LEARNING_RECORD, resolver=_judgement_rung)
    assessed_by: StaffType | None = guarded(
        rules.LEARNING_RECORD, resolver=_judgement_assessor, description="The member of staff who assessed."
    )

    @classmethod
    def of(cls, row: Judgement) -> JudgementType:
        return cls(
            row=row,
            id=_gid("Judgement", row.id),
            level=LEVEL_BY_NAME[row.level],
            assessed_on=row.assessed_on,
            note=row.note,
            recorded_at=row.recorded_at,
        )


JudgementConnection = Connection[JudgementType]


@strawberry.type(
    name="LatestJudgement",
    description="The judgement that counts on one rung (the latest). Reached only through PupilProgress.latest.",
)
class LatestJudgementType:
    rung_id: strawberry.ID
    level: JudgementLevel
    assessed_on: datetime.date


def _latest(root: PupilProgressType) -> list[LatestJudgementType]:
    latest = root.row.latest
    return [
        LatestJudgementType(
            rung_id=_gid("Rung", rung.id), level=LEVEL_BY_NAME[j.level], assessed_on=j.assessed_on
        )
        for rung in root.row.ladder.rungs
        if (j := latest.get(rung.id)) is not None
    ]


def _levels(root: PupilProgressType) -> list[Any]:
    # The level names as stored: the enum serialises them as they are (no member lookup per cell).
    return root.row.levels


def _secure_share(root: PupilProgressType) -> float:
    return root.row.secure_share


def _secure_count(root: PupilProgressType) -> int:
    return root.row.secure_count


def _current_rung(root: PupilProgressType) -> RungType | None:
    rung = root.row.current_rung
    return None if rung is None else RungType.of(rung)


def _progress_ladder(root: PupilProgressType) -> LadderType:
    return LadderType.full(root.row.ladder)


def _progress_pupil(root: PupilProgressType) -> PupilType:
    return PupilType.of(root.pupil_row)


@personal_data
@strawberry.type(
    name="PupilProgress", description="A pupil's progress on one ladder, from the latest judgements."
)
class PupilProgressType:
    row: strawberry.Private[progress.PupilProgress]
    pupil_row: strawberry.Private[Pupil]
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=_progress_pupil)
    ladder: LadderType | None = guarded(rules.LEARNING_RECORD, resolver=_progress_ladder)
    levels: list[JudgementLevel | None] | None = guarded(
        rules.LEARNING_RECORD,
        resolver=_levels,
        description="The latest level on each rung, in ladder order (null: not assessed yet).",
    )
    latest: list[LatestJudgementType] | None = guarded(
        rules.LEARNING_RECORD, resolver=_latest, description="The latest judgement on each assessed rung."
    )
    secure_count: int | None = guarded(rules.LEARNING_RECORD, resolver=_secure_count)
    secure_share: float | None = guarded(
        rules.LEARNING_RECORD,
        resolver=_secure_share,
        description="Share of the ladder's rungs whose latest judgement is SECURE or GREATER_DEPTH (0..1).",
    )
    current_rung: RungType | None = guarded(
        rules.LEARNING_RECORD,
        resolver=_current_rung,
        description="The first rung not yet secure: the next step (null when every rung is secure).",
    )

    @classmethod
    def of(cls, row: progress.PupilProgress, pupil: Pupil) -> PupilProgressType:
        return cls(row=row, pupil_row=pupil)


@strawberry.type(name="RungDistribution", description="How a class stands on one rung (latest judgements).")
class RungDistributionType:
    rung: RungType
    not_yet: int
    working_towards: int
    secure: int
    greater_depth: int
    not_assessed: int

    @classmethod
    def of(cls, row: progress.RungDistribution) -> RungDistributionType:
        c = row.counts
        return cls(
            rung=RungType.of(row.rung),
            not_yet=c["NOT_YET"],
            working_towards=c["WORKING_TOWARDS"],
            secure=c["SECURE"],
            greater_depth=c["GREATER_DEPTH"],
            not_assessed=c["NOT_ASSESSED"],
        )


def _class_group(root: ClassProgressType) -> GroupType:
    return GroupType.of(root.row.group)


def _class_ladder(root: ClassProgressType) -> LadderType:
    return LadderType.full(root.row.ladder)


def _class_pupils(root: ClassProgressType) -> list[PupilProgressType]:
    return [PupilProgressType.of(p, pupil) for p, pupil in zip(root.row.progress, root.row.pupils)]


def _class_distribution(root: ClassProgressType) -> list[RungDistributionType]:
    return [RungDistributionType.of(d) for d in root.row.distribution]


@personal_data
@strawberry.type(
    name="ClassProgress",
    description="The teacher's class view: a group, its pupils and each one's latest judgement on every rung.",
)
class ClassProgressType:
    row: strawberry.Private[progress.ClassView]
    group: GroupType | None = guarded(rules.GROUP_PROGRESS, resolver=_class_group)
    ladder: LadderType | None = guarded(rules.GROUP_PROGRESS, resolver=_class_ladder)
    pupils: list[PupilProgressType] | None = guarded(
        rules.GROUP_PROGRESS, resolver=_class_pupils, description="In name order."
    )
    distribution: list[RungDistributionType] | None = guarded(
        rules.GROUP_PROGRESS, resolver=_class_distribution, description="One entry per rung, in ladder order."
    )


@strawberry.type(description="Latest judgements of a year group on every rung of a ladder, counted by level.")
class LevelCounts:
    not_yet: int
    working_towards: int
    secure: int
    greater_depth: int
    not_assessed: int


@strawberry.type(name="LadderSummary", description="A year group's standing on one ladder (school summary).")
class LadderSummaryType:
    ladder: LadderType
    cohort: int = strawberry.field(description="Active pupils in the year group's active groups.")
    assessed_pupils: int
    secure_share: float = strawberry.field(
        description="Secure-or-better (pupil, rung) pairs over cohort x rungs (0..1)."
    )
    level_counts: LevelCounts

    @classmethod
    def of(cls, row: progress.LadderSummary) -> LadderSummaryType:
        c = row.level_counts
        return cls(
            ladder=LadderType.full(row.ladder),
            cohort=row.cohort,
            assessed_pupils=row.assessed_pupils,
            secure_share=row.secure_share,
            level_counts=LevelCounts(
                not_yet=c["NOT_YET"],
                working_towards=c["WORKING_TOWARDS"],
                secure=c["SECURE"],
                greater_depth=c["GREATER_DEPTH"],
                not_assessed=c["NOT_ASSESSED"],
            ),
        )


# --- content ---------------------------------------------------------------------------------------------


@strawberry.type(name="Content", description="Pre-loaded (PLATFORM) or school-uploaded (SCHOOL) content.")
class ContentType:
    row: strawberry.Private[ContentItem]
    id: strawberry.ID
    source: Source
    title: str
    description: str | None
    subject: str | None
    year_group: int | None
    is_workbook: bool
    file_name: str
    media_type: str
    byte_size: int | None
    created_at: datetime.datetime
    taken_down: bool = strawberry.field(description="Only ever true for the reviewers of a report.")

    @classmethod
    def of(cls, row: ContentItem) -> ContentType:
        return cls(
            row=row,
            id=_gid("Content", row.id),
            source=Source(row.source),
            title=row.title,
            description=row.description,
            subject=row.subject,
            year_group=row.year_group,
            is_workbook=row.is_workbook,
            file_name=row.file_name,
            media_type=row.media_type,
            byte_size=row.byte_size,
            created_at=row.created_at,
            taken_down=row.taken_down,
        )


ContentConnection = Connection[ContentType]


@strawberry.type(
    name="DownloadedFile", description="A downloaded file; the copyright notice travels with it."
)
class DownloadedFileType:
    download_id: strawberry.ID
    content: ContentType
    file_name: str
    media_type: str
    byte_size: int
    copyright_notice: str = strawberry.field(description="Keep this notice on every copy (licence 7.1.8).")
    data_base64: str

    @classmethod
    def of(cls, row: DownloadedFile) -> DownloadedFileType:
        return cls(
            download_id=_gid("Download", row.download_id),
            content=ContentType.of(row.content),
            file_name=row.file_name,
            media_type=row.media_type,
            byte_size=len(row.data),
            copyright_notice=row.copyright_notice,
            data_base64=base64.b64encode(row.data).decode(),
        )


@personal_data
@strawberry.type(name="DownloadRecord", description="Who downloaded what, when (licence 7.1.4.2).")
class DownloadRecordType:
    row: strawberry.Private[DownloadRecord]
    id: strawberry.ID = public("opaque identifier")
    downloaded_at: datetime.datetime | None = guarded(rules.CONTENT_ADMIN)
    username: str | None = guarded(rules.CONTENT_ADMIN)
    role: str | None = guarded(rules.CONTENT_ADMIN)
    content_id: strawberry.ID | None = guarded(rules.CONTENT_ADMIN)
    source: Source | None = guarded(rules.CONTENT_ADMIN)
    title: str | None = guarded(rules.CONTENT_ADMIN, description="The title when it was downloaded.")

    @classmethod
    def of(cls, row: DownloadRecord) -> DownloadRecordType:
        return cls(
            row=row,
            id=_gid("Download", row.id),
            downloaded_at=row.downloaded_at,
            username=row.username,
            role=row.role,
            content_id=_gid("Content", row.content_id),
            source=Source(row.source),
            title=row.title,
        )


DownloadRecordConnection = Connection[DownloadRecordType]


async def _report_content(root: ContentReportType, info: Info) -> ContentType | None:
    ctx = info.context
    content_id = root.row.platform_content_id or root.row.school_content_id
    assert content_id is not None
    # Reviewers see the item even once taken down; the reporter sees it while it is visible.
    found = await content.content_by_ids(
        ctx.session, ctx.principal, [content_id], include_taken_down=rules.CONTENT_ADMIN(ctx.principal, None)
    )
    item = found.get(content_id)
    return None if item is None else ContentType.of(item)


@personal_data
@strawberry.type(
    name="ContentReport", description="A complaint about content and its review (licence 13.3, 8.4)."
)
class ContentReportType:
    row: strawberry.Private[ContentReport]
    id: strawberry.ID = public("opaque identifier")
    content: ContentType | None = guarded(rules.CONTENT_REPORT, resolver=_report_content)
    reason: str | None = guarded(rules.CONTENT_REPORT)
    reported_at: datetime.datetime | None = guarded(rules.CONTENT_REPORT)
    status: ReportStatus | None = guarded(rules.CONTENT_REPORT)
    decision_note: str | None = guarded(rules.CONTENT_REPORT)
    reviewed_at: datetime.datetime | None = guarded(rules.CONTENT_REPORT)
    reviewed_by_operator: bool | None = guarded(
        rules.CONTENT_REPORT, description="True when the platform operator decided."
    )
    uploader_suspended: bool | None = guarded(rules.CONTENT_ADMIN)

    @classmethod
    def of(cls, row: ContentReport) -> ContentReportType:
        return cls(
            row=row,
            id=_gid("ContentReport", row.id),
            reason=row.reason,
            reported_at=row.reported_at,
            status=ReportStatus(row.status),
            decision_note=row.decision_note,
            reviewed_at=row.reviewed_at,
            reviewed_by_operator=row.reviewed_by_operator is not None,
            uploader_suspended=row.uploader_suspended,
        )


ContentReportConnection = Connection[ContentReportType]


async def _print_content(root: Any, info: Info) -> ContentType | None:
    content_id = root.row.platform_content_id or root.row.school_content_id
    item = await info.context.loaders.learning.content.load(content_id)
    return None if item is None else ContentType.of(item)


@personal_data
@strawberry.type(
    name="PrintRequest", description="A printed copy of a workbook for one pupil (licence 6.4.2)."
)
class PrintRequestType:
    row: strawberry.Private[PrintRequest]
    id: strawberry.ID = public("opaque identifier")
    copy_number: int | None = guarded(rules.LEARNING_RECORD, description="1 for the pupil's first copy.")
    requested_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=_judgement_pupil)
    content: ContentType | None = guarded(rules.LEARNING_RECORD, resolver=_print_content)

    @classmethod
    def of(cls, row: PrintRequest) -> PrintRequestType:
        return cls(
            row=row,
            id=_gid("PrintRequest", row.id),
            copy_number=row.copy_number,
            requested_at=row.requested_at,
        )


@personal_data
@strawberry.type(name="PrintGrant", description="A school admin's permission for one more printed copy.")
class PrintGrantType:
    row: strawberry.Private[PrintGrant]
    id: strawberry.ID = public("opaque identifier")
    reason: str | None = guarded(rules.CONTENT_ADMIN)
    granted_at: datetime.datetime | None = guarded(rules.CONTENT_ADMIN)
    pupil: PupilType | None = guarded(rules.CONTENT_ADMIN, resolver=_judgement_pupil)
    content: ContentType | None = guarded(rules.CONTENT_ADMIN, resolver=_print_content)

    @classmethod
    def of(cls, row: PrintGrant) -> PrintGrantType:
        return cls(row=row, id=_gid("PrintGrant", row.id), reason=row.reason, granted_at=row.granted_at)


# --- assignments and work ---------------------------------------------------------------------------------


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
class SubmissionType:
    row: strawberry.Private[Submission]
    id: strawberry.ID = public("opaque identifier")
    text: str | None = guarded(rules.LEARNING_RECORD)
    submitted_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    feedback: str | None = guarded(rules.LEARNING_RECORD)
    feedback_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    file: FileInfoType | None = guarded(rules.LEARNING_RECORD, resolver=_submission_file)
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=_judgement_pupil)
    feedback_by: StaffType | None = guarded(rules.LEARNING_RECORD, resolver=_feedback_by)

    @classmethod
    def of(cls, row: Submission) -> SubmissionType:
        return cls(
            row=row,
            id=_gid("Submission", row.id),
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
class AssignmentType:
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
            id=_gid("Assignment", row.id),
            title=row.title,
            kind=AssignmentKind(row.kind),
            instructions=row.instructions,
            due_on=row.due_on,
            created_at=row.created_at,
        )


AssignmentConnection = Connection[AssignmentType]


# --- records of achievement and goals ------------------------------------------------------------------


@personal_data
@strawberry.type(name="Achievement", description="Participation or an achievement (award or qualification).")
class AchievementType:
    row: strawberry.Private[Achievement]
    id: strawberry.ID = public("opaque identifier")
    kind: AchievementKind | None = guarded(rules.LEARNING_RECORD)
    title: str | None = guarded(rules.LEARNING_RECORD)
    awarding_body: str | None = guarded(rules.LEARNING_RECORD)
    achieved_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    grade: str | None = guarded(rules.LEARNING_RECORD, description="Grade or result, if any.")

    @classmethod
    def of(cls, row: Achievement) -> AchievementType:
        return cls(
            row=row,
            id=_gid("Achievement", row.id),
            kind=AchievementKind(row.kind),
            title=row.title,
            awarding_body=row.awarding_body,
            achieved_on=row.achieved_on,
            grade=row.grade,
        )


async def _goal_rung(root: LearningGoalType, info: Info) -> RungType | None:
    if root.row.rung_id is None:
        return None
    found = await info.context.loaders.learning.rung.load(root.row.rung_id)
    return None if found is None else RungType.of(found[0])


@personal_data
@strawberry.type(name="LearningGoal")
class LearningGoalType:
    row: strawberry.Private[LearningGoal]
    id: strawberry.ID = public("opaque identifier")
    statement: str | None = guarded(rules.LEARNING_RECORD)
    target_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    status: GoalStatus | None = guarded(rules.LEARNING_RECORD)
    created_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    closed_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    rung: RungType | None = guarded(rules.LEARNING_RECORD, resolver=_goal_rung)

    @classmethod
    def of(cls, row: LearningGoal) -> LearningGoalType:
        return cls(
            row=row,
            id=_gid("LearningGoal", row.id),
            statement=row.statement,
            target_on=row.target_on,
            status=GoalStatus(row.status),
            created_at=row.created_at,
            closed_on=row.closed_on,
        )


def _record_pupil(root: LearnerRecordType) -> PupilType:
    return PupilType.of(root.row)


async def _record_achievements(root: LearnerRecordType, info: Info) -> list[AchievementType]:
    return [AchievementType.of(a) for a in await info.context.loaders.learning.achievements.load(root.row.id)]


async def _record_goals(root: LearnerRecordType, info: Info) -> list[LearningGoalType]:
    return [LearningGoalType.of(g) for g in await info.context.loaders.learning.goals.load(root.row.id)]


@personal_data
@strawberry.type(
    name="LearnerRecord",
    description="A pupil's personal learning record: achievements and goals, with the ULN when present.",
)
class LearnerRecordType:
    row: strawberry.Private[Pupil]
    pupil: PupilType | None = guarded(policies.PUPIL_RECORD, resolver=_record_pupil)
    uln: str | None = guarded(policies.PUPIL_LEARNER_NUMBER, description="Unique Learner Number, if known.")
    achievements: list[AchievementType] | None = guarded(policies.PUPIL_RECORD, resolver=_record_achievements)
    goals: list[LearningGoalType] | None = guarded(policies.PUPIL_RECORD, resolver=_record_goals)

    @classmethod
    def of(cls, row: Pupil) -> LearnerRecordType:
        return cls(row=row, uln=row.uln)

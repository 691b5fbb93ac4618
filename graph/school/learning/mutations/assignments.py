"""Setting work to a group, submitting it, and feedback on it. Files arrive as GraphQL multipart uploads
(``Upload``) and pass the upload gate (``storage.files.check_upload``) before anything is stored.
"""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning.mutations.uploads import max_upload_bytes, read_upload, store
from graph.school.learning.types.assignments import AssignmentType, SubmissionType
from graph.school.learning.types.scale import AssignmentKind
from learning import assignments
from learning import policies as rules
from models.learning import Submission


@strawberry.input
class SetAssignmentInput:
    group_id: strawberry.ID
    title: str
    kind: AssignmentKind
    due_on: datetime.date = strawberry.field(description="Today or later.")
    instructions: str | None = None
    content_id: strawberry.ID | None = None


@strawberry.type
class AssignmentPayload:
    assignment: AssignmentType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SubmitWorkInput:
    assignment_id: strawberry.ID
    text: str | None = None
    file: Upload | None = strawberry.field(
        default=None, description="A multipart upload: PDF, image, text or Office document, 10 MiB at most."
    )


@strawberry.input
class GiveFeedbackInput:
    submission_id: strawberry.ID
    feedback: str


@strawberry.type
class SubmissionPayload:
    submission: SubmissionType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _submission_payload(row: Submission) -> SubmissionPayload:
    return SubmissionPayload(submission=SubmissionType.of(row))


async def set_assignment(info: Info, input: SetAssignmentInput) -> AssignmentPayload:
    ctx = info.context

    def assignment(group_id: uuid.UUID, content_id: uuid.UUID | None = None) -> assignments.NewAssignment:
        return assignments.NewAssignment(
            group_id=group_id,
            title=input.title,
            kind=input.kind.value,
            due_on=input.due_on,
            instructions=input.instructions,
            content_id=content_id,
        )

    wanted = [("groupId", "Group", input.group_id)]
    if input.content_id is not None:
        wanted.append(("contentId", "Content", input.content_id))
    return await mutate(
        info,
        AssignmentPayload,
        lambda *ids: assignments.set_assignment(ctx.session, ctx.principal, assignment(*ids), now=ctx.now),
        wanted,
        done=lambda row: AssignmentPayload(assignment=AssignmentType.of(row)),
    )


async def submit_work(info: Info, input: SubmitWorkInput) -> SubmissionPayload:
    ctx = info.context
    limit = max_upload_bytes(info)

    async def submit(assignment_id: uuid.UUID) -> Submission:
        name, data, size = (None, None, None) if input.file is None else await read_upload(input.file, limit)
        work = assignments.NewWork(
            assignment_id=assignment_id, text=input.text, file_name=name, data=data, size=size
        )
        return await assignments.submit_work(
            ctx.session, ctx.principal, store(info), work, max_bytes=limit, now=ctx.now
        )

    return await mutate(
        info,
        SubmissionPayload,
        submit,
        [("assignmentId", "Assignment", input.assignment_id)],
        done=_submission_payload,
    )


async def give_feedback(info: Info, input: GiveFeedbackInput) -> SubmissionPayload:
    ctx = info.context
    return await mutate(
        info,
        SubmissionPayload,
        lambda submission_id: assignments.give_feedback(
            ctx.session, ctx.principal, submission_id, input.feedback, now=ctx.now
        ),
        [("submissionId", "Submission", input.submission_id)],
        done=_submission_payload,
    )


@strawberry.type
class AssignmentMutation:
    set_assignment: AssignmentPayload = guarded_mutation(
        policies.STAFF,
        resolver=set_assignment,
        description="Set work to a group you teach, due today or later.",
    )
    submit_work: SubmissionPayload = guarded_mutation(
        rules.SUBMITTER,
        resolver=submit_work,
        description="Submit (or resubmit, until feedback is given) work for one of your assignments.",
    )
    give_feedback: SubmissionPayload = guarded_mutation(
        policies.STAFF, resolver=give_feedback, description="Feedback on the work of a pupil you teach."
    )

"""The school schema's learning mutations: each hands
:func:`graph.core.mutations.mutate` the input's global ids and a call of a :mod:`learning` service (run in
a savepoint: a refused input writes nothing), and wraps what it returns.

Each mutation declares its policy (who may call it at all); the services check the rows (the pupil is
taught by the caller, the group is theirs, the content is visible) and report every problem as a
``UserError``. Files arrive as GraphQL multipart uploads (``Upload``) and pass the upload gate
(``storage.files.check_upload``) before anything is stored.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning_types import (
    LEVEL_BY_NAME,
    AchievementKind,
    AchievementType,
    AssignmentKind,
    AssignmentType,
    ContentReportType,
    ContentType,
    DownloadedFileType,
    GoalStatus,
    JudgementLevel,
    JudgementType,
    LadderType,
    LearningGoalType,
    LevelLabelType,
    PrintGrantType,
    PrintRequestType,
    SubmissionType,
)
from learning import achievements, assignments, content, judgements, ladders, prints, reports
from learning import policies as rules
from models.learning import ContentReport, LearningGoal, Submission
from storage.files import MAX_FILE_BYTES, FileStore, local_store


def _store(info: Info) -> FileStore:
    return local_store(info.context.auth.settings.data_dir)


def _max_bytes(info: Info) -> int:
    configured = info.context.auth.settings.extra.get("upload_max_bytes")
    return int(configured) if configured else MAX_FILE_BYTES


async def _read(upload: Any, limit: int) -> tuple[str, bytes]:
    """The upload's name and at most ``limit + 1`` bytes (enough to tell it is too large)."""
    name = str(getattr(upload, "filename", None) or "")
    try:
        data = await upload.read(limit + 1)
    finally:
        # The edge spools uploads to temporary files: release this one as soon as it is read.
        await upload.close()
    return name, bytes(data)


# --- ladders and scale -------------------------------------------------------------------------------------


@strawberry.input
class RungInput:
    code: str
    statement: str


@strawberry.input
class CreateLadderInput:
    code: str = strawberry.field(description="Unique at the school, e.g. Y4-SCIENCE.")
    subject: str
    title: str
    rungs: list[RungInput] = strawberry.field(description="In teaching order.")
    year_group: int | None = None


@strawberry.input
class ArchiveLadderInput:
    ladder_id: strawberry.ID


@strawberry.type
class LadderPayload:
    ladder: LadderType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LevelLabelInput:
    level: JudgementLevel
    label: str | None = strawberry.field(default=None, description="Null or blank restores the default.")


@strawberry.input
class SetLevelLabelsInput:
    labels: list[LevelLabelInput]


@strawberry.type
class LevelLabelsPayload:
    level_scale: list[LevelLabelType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _ladder_payload(ladder: ladders.Ladder) -> LadderPayload:
    return LadderPayload(ladder=LadderType.full(ladder))


async def create_ladder(info: Info, input: CreateLadderInput) -> LadderPayload:
    ctx = info.context
    data = ladders.NewLadder(
        code=input.code,
        subject=input.subject,
        title=input.title,
        year_group=input.year_group,
        rungs=tuple(ladders.NewRung(r.code, r.statement) for r in input.rungs),
    )
    return await mutate(
        info,
        LadderPayload,
        lambda: ladders.create_ladder(ctx.session, ctx.principal, data, now=ctx.now),
        done=_ladder_payload,
    )


async def archive_ladder(info: Info, input: ArchiveLadderInput) -> LadderPayload:
    ctx = info.context
    return await mutate(
        info,
        LadderPayload,
        lambda ladder_id: ladders.archive_ladder(ctx.session, ctx.principal, ladder_id, now=ctx.now),
        [("ladderId", "Ladder", input.ladder_id)],
        done=_ladder_payload,
    )


async def set_level_labels(info: Info, input: SetLevelLabelsInput) -> LevelLabelsPayload:
    ctx = info.context
    wanted = [(item.level.value, item.label) for item in input.labels]
    return await mutate(
        info,
        LevelLabelsPayload,
        lambda: ladders.set_level_labels(ctx.session, ctx.principal, wanted, now=ctx.now),
        done=lambda labels: LevelLabelsPayload(
            level_scale=[LevelLabelType(level=LEVEL_BY_NAME[k], label=v) for k, v in labels.items()]
        ),
    )


# --- judgements --------------------------------------------------------------------------------------------


@strawberry.input
class RecordJudgementInput:
    pupil_id: strawberry.ID
    rung_id: strawberry.ID
    level: JudgementLevel
    assessed_on: datetime.date | None = strawberry.field(default=None, description="Today when not given.")
    note: str | None = None


@strawberry.type
class JudgementPayload:
    judgement: JudgementType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class GroupJudgementInput:
    pupil_id: strawberry.ID
    level: JudgementLevel
    note: str | None = None


@strawberry.input
class AssessGroupInput:
    group_id: strawberry.ID
    rung_id: strawberry.ID
    entries: list[GroupJudgementInput] = strawberry.field(description="One per pupil; all or nothing.")
    assessed_on: datetime.date | None = strawberry.field(default=None, description="Today when not given.")


@strawberry.type
class AssessGroupPayload:
    judgements: list[JudgementType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def record_judgement(info: Info, input: RecordJudgementInput) -> JudgementPayload:
    ctx = info.context

    def judgement(pupil_id: uuid.UUID, rung_id: uuid.UUID) -> judgements.NewJudgement:
        return judgements.NewJudgement(
            pupil_id=pupil_id,
            rung_id=rung_id,
            level=input.level.value,
            assessed_on=input.assessed_on,
            note=input.note,
        )

    return await mutate(
        info,
        JudgementPayload,
        lambda *ids: judgements.record_judgement(ctx.session, ctx.principal, judgement(*ids), now=ctx.now),
        [("pupilId", "Pupil", input.pupil_id), ("rungId", "Rung", input.rung_id)],
        done=lambda row: JudgementPayload(judgement=JudgementType.of(row)),
    )


async def assess_group(info: Info, input: AssessGroupInput) -> AssessGroupPayload:
    ctx = info.context

    def assessment(
        group_id: uuid.UUID, rung_id: uuid.UUID, *pupil_ids: uuid.UUID
    ) -> judgements.GroupAssessment:
        return judgements.GroupAssessment(
            group_id=group_id,
            rung_id=rung_id,
            assessed_on=input.assessed_on,
            entries=tuple(
                judgements.GroupEntry(pupil_id, e.level.value, e.note)
                for pupil_id, e in zip(pupil_ids, input.entries)
            ),
        )

    return await mutate(
        info,
        AssessGroupPayload,
        lambda *ids: judgements.assess_group(ctx.session, ctx.principal, assessment(*ids), now=ctx.now),
        [
            ("groupId", "Group", input.group_id),
            ("rungId", "Rung", input.rung_id),
            *((f"entries.{i}.pupilId", "Pupil", e.pupil_id) for i, e in enumerate(input.entries)),
        ],
        done=lambda rows: AssessGroupPayload(judgements=[JudgementType.of(r) for r in rows]),
    )


# --- assignments and work ------------------------------------------------------------------------------


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
    limit = _max_bytes(info)

    async def submit(assignment_id: uuid.UUID) -> Submission:
        name, data = (None, None) if input.file is None else await _read(input.file, limit)
        work = assignments.NewWork(assignment_id=assignment_id, text=input.text, file_name=name, data=data)
        return await assignments.submit_work(
            ctx.session, ctx.principal, _store(info), work, max_bytes=limit, now=ctx.now
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


# --- content -------------------------------------------------------------------------------------------


@strawberry.input
class UploadContentInput:
    title: str
    file: Upload = strawberry.field(description="PDF, image, text or Office document, 10 MiB at most.")
    description: str | None = None
    subject: str | None = None
    year_group: int | None = None
    is_workbook: bool = False


@strawberry.type
class ContentPayload:
    content: ContentType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DownloadContentInput:
    content_id: strawberry.ID


@strawberry.type
class DownloadPayload:
    file: DownloadedFileType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestWorkbookPrintInput:
    content_id: strawberry.ID
    pupil_ids: list[strawberry.ID]


@strawberry.type
class PrintPayload:
    prints: list[PrintRequestType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class GrantExtraPrintInput:
    content_id: strawberry.ID
    pupil_id: strawberry.ID
    reason: str


@strawberry.type
class PrintGrantPayload:
    grant: PrintGrantType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReportContentInput:
    content_id: strawberry.ID
    reason: str


@strawberry.enum
class ReviewDecision(Enum):
    TAKE_DOWN = "TAKE_DOWN"
    DISMISS = "DISMISS"


@strawberry.input
class ReviewContentReportInput:
    report_id: strawberry.ID
    decision: ReviewDecision
    note: str = strawberry.field(description="The reason for the decision; kept with the report.")
    suspend_uploader: bool = strawberry.field(
        default=False, description="With TAKE_DOWN: also disable the uploader's account (licence 8.4)."
    )


@strawberry.type
class ContentReportPayload:
    report: ContentReportType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _report_payload(row: ContentReport) -> ContentReportPayload:
    return ContentReportPayload(report=ContentReportType.of(row))


async def upload_content(info: Info, input: UploadContentInput) -> ContentPayload:
    ctx = info.context
    limit = _max_bytes(info)

    async def upload() -> content.ContentItem:
        name, data = await _read(input.file, limit)
        new = content.NewContent(
            title=input.title,
            file_name=name,
            data=data,
            description=input.description,
            subject=input.subject,
            year_group=input.year_group,
            is_workbook=input.is_workbook,
        )
        return await content.upload_content(
            ctx.session, ctx.principal, _store(info), new, max_bytes=limit, now=ctx.now
        )

    return await mutate(
        info, ContentPayload, upload, done=lambda item: ContentPayload(content=ContentType.of(item))
    )


async def download_content(info: Info, input: DownloadContentInput) -> DownloadPayload:
    ctx = info.context

    async def download(content_id: uuid.UUID) -> content.DownloadedFile:
        found = await content.download(
            ctx.session, ctx.principal, _store(info), content_id, school_name=ctx.tenant.name, now=ctx.now
        )
        ctx.audit.record(
            "content.downloaded",
            target_type="Content",
            target_id=content_id,
            detail={"source": found.content.source, "title": found.content.title},
        )
        return found

    return await mutate(
        info,
        DownloadPayload,
        download,
        [("contentId", "Content", input.content_id)],
        done=lambda found: DownloadPayload(file=DownloadedFileType.of(found)),
    )


async def request_workbook_print(info: Info, input: RequestWorkbookPrintInput) -> PrintPayload:
    ctx = info.context
    return await mutate(
        info,
        PrintPayload,
        lambda content_id, *pupil_ids: prints.request_prints(
            ctx.session, ctx.principal, content_id, list(pupil_ids), now=ctx.now
        ),
        [
            ("contentId", "Content", input.content_id),
            *((f"pupilIds.{i}", "Pupil", p) for i, p in enumerate(input.pupil_ids)),
        ],
        done=lambda rows: PrintPayload(prints=[PrintRequestType.of(r) for r in rows]),
    )


async def grant_extra_print(info: Info, input: GrantExtraPrintInput) -> PrintGrantPayload:
    ctx = info.context
    return await mutate(
        info,
        PrintGrantPayload,
        lambda content_id, pupil_id: prints.grant_print(
            ctx.session, ctx.principal, content_id, pupil_id, input.reason, now=ctx.now
        ),
        [("contentId", "Content", input.content_id), ("pupilId", "Pupil", input.pupil_id)],
        done=lambda row: PrintGrantPayload(grant=PrintGrantType.of(row)),
    )


async def report_content(info: Info, input: ReportContentInput) -> ContentReportPayload:
    ctx = info.context
    return await mutate(
        info,
        ContentReportPayload,
        lambda content_id: reports.report_content(
            ctx.session, ctx.principal, content_id, input.reason, now=ctx.now
        ),
        [("contentId", "Content", input.content_id)],
        done=_report_payload,
    )


async def review_content_report(info: Info, input: ReviewContentReportInput) -> ContentReportPayload:
    ctx = info.context
    return await mutate(
        info,
        ContentReportPayload,
        lambda report_id: reports.review_report(
            ctx.session,
            ctx.principal,
            report_id,
            input.decision.value,
            input.note,
            suspend_uploader=input.suspend_uploader,
            now=ctx.now,
        ),
        [("reportId", "ContentReport", input.report_id)],
        done=_report_payload,
    )


# --- records of achievement and goals ------------------------------------------------------------------


@strawberry.input
class RecordAchievementInput:
    pupil_id: strawberry.ID
    kind: AchievementKind
    title: str
    achieved_on: datetime.date
    awarding_body: str | None = strawberry.field(default=None, description="Required for a qualification.")
    grade: str | None = strawberry.field(default=None, description="Grade or result.")


@strawberry.type
class AchievementPayload:
    achievement: AchievementType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetLearningGoalInput:
    pupil_id: strawberry.ID
    statement: str
    rung_id: strawberry.ID | None = None
    target_on: datetime.date | None = None


@strawberry.input
class CloseLearningGoalInput:
    goal_id: strawberry.ID
    status: GoalStatus


@strawberry.type
class LearningGoalPayload:
    goal: LearningGoalType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _goal_payload(row: LearningGoal) -> LearningGoalPayload:
    return LearningGoalPayload(goal=LearningGoalType.of(row))


async def record_achievement(info: Info, input: RecordAchievementInput) -> AchievementPayload:
    ctx = info.context

    def achievement(pupil_id: uuid.UUID) -> achievements.NewAchievement:
        return achievements.NewAchievement(
            pupil_id=pupil_id,
            kind=input.kind.value,
            title=input.title,
            achieved_on=input.achieved_on,
            awarding_body=input.awarding_body,
            grade=input.grade,
        )

    return await mutate(
        info,
        AchievementPayload,
        lambda pupil_id: achievements.record_achievement(
            ctx.session, ctx.principal, achievement(pupil_id), now=ctx.now
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=lambda row: AchievementPayload(achievement=AchievementType.of(row)),
    )


async def set_learning_goal(info: Info, input: SetLearningGoalInput) -> LearningGoalPayload:
    ctx = info.context

    def goal(pupil_id: uuid.UUID, rung_id: uuid.UUID | None = None) -> achievements.NewGoal:
        return achievements.NewGoal(
            pupil_id=pupil_id, statement=input.statement, rung_id=rung_id, target_on=input.target_on
        )

    wanted = [("pupilId", "Pupil", input.pupil_id)]
    if input.rung_id is not None:
        wanted.append(("rungId", "Rung", input.rung_id))
    return await mutate(
        info,
        LearningGoalPayload,
        lambda *ids: achievements.set_goal(ctx.session, ctx.principal, goal(*ids), now=ctx.now),
        wanted,
        done=_goal_payload,
    )


async def close_learning_goal(info: Info, input: CloseLearningGoalInput) -> LearningGoalPayload:
    ctx = info.context
    return await mutate(
        info,
        LearningGoalPayload,
        lambda goal_id: achievements.close_goal(
            ctx.session, ctx.principal, goal_id, input.status.value, now=ctx.now
        ),
        [("goalId", "LearningGoal", input.goal_id)],
        done=_goal_payload,
    )


@strawberry.type
class LearningMutation:
    create_ladder: LadderPayload = guarded_mutation(
        policies.STAFF,
        resolver=create_ladder,
        description="A school ladder with its rungs (school admins, staff).",
    )
    archive_ladder: LadderPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=archive_ladder,
        description="Hide a school ladder from lists; its judgements are kept.",
    )
    set_level_labels: LevelLabelsPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=set_level_labels, description="Rename the levels of the scale."
    )
    record_judgement: JudgementPayload = guarded_mutation(
        policies.STAFF,
        resolver=record_judgement,
        description="Judge a pupil you teach on a rung. History is kept; the latest counts.",
    )
    assess_group: AssessGroupPayload = guarded_mutation(
        policies.STAFF,
        resolver=assess_group,
        description="Judge pupils of a group you teach on one rung, all in one call (all or nothing).",
    )
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
    upload_content: ContentPayload = guarded_mutation(
        policies.STAFF,
        resolver=upload_content,
        description="Upload content for the school (licence 6.4.4: allowed types and size only).",
    )
    download_content: DownloadPayload = guarded_mutation(
        policies.SIGNED_IN,
        resolver=download_content,
        description="Download an item: recorded (licence 7.1.4.2), with the copyright notice (7.1.8).",
    )
    request_workbook_print: PrintPayload = guarded_mutation(
        policies.STAFF,
        resolver=request_workbook_print,
        description="A printed workbook for each pupil: one per pupil unless an admin grants another (6.4.2).",
    )
    grant_extra_print: PrintGrantPayload = guarded_mutation(
        rules.CONTENT_ADMIN,
        resolver=grant_extra_print,
        description="Allow one more printed copy for a pupil.",
    )
    report_content: ContentReportPayload = guarded_mutation(
        policies.SIGNED_IN,
        resolver=report_content,
        description="Report an item to the school (licence 13.3).",
    )
    review_content_report: ContentReportPayload = guarded_mutation(
        rules.CONTENT_ADMIN,
        resolver=review_content_report,
        description="Decide a report about the school's own upload: take it down everywhere, or dismiss.",
    )
    record_achievement: AchievementPayload = guarded_mutation(
        policies.STAFF,
        resolver=record_achievement,
        description="Add to the learning record of a pupil you teach.",
    )
    set_learning_goal: LearningGoalPayload = guarded_mutation(
        policies.STAFF, resolver=set_learning_goal, description="A learning goal for a pupil you teach."
    )
    close_learning_goal: LearningGoalPayload = guarded_mutation(
        policies.STAFF,
        resolver=close_learning_goal,
        description="Mark a goal achieved or dropped (or reopen it).",
    )

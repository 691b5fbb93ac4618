"""The school schema's learning queries: thin resolvers over :mod:`learning` services.

Every root field declares its policy; row scopes apply inside the services, so an id the caller may not
see (or of another school) returns null or an empty list, never an error that would tell it exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from auth import policies
from graph.audit import pupils_read
from graph.core.arguments import lookup_id, page_of
from graph.core.relay import connection, node_kind
from graph.execution import COMPILED_KEY
from graph.permissions import guarded
from graph.school.learning import compiled
from graph.school.learning.types.assignments import AssignmentConnection, AssignmentType, SubmissionType
from graph.school.learning.types.content import (
    ContentConnection,
    ContentReportConnection,
    ContentReportType,
    ContentType,
    DownloadRecordConnection,
    DownloadRecordType,
    PrintGrantType,
    PrintRequestType,
)
from graph.school.learning.types.curriculum import LadderConnection, LadderType, LevelLabelType, RungType
from graph.school.learning.types.progress import (
    ClassProgressType,
    JudgementConnection,
    JudgementType,
    LadderSummaryType,
    PupilProgressType,
)
from graph.school.learning.types.records import AchievementType, LearnerRecordType, LearningGoalType
from graph.school.learning.types.scale import LEVEL_BY_NAME, ReportStatus
from learning import assignments, content, judgements, ladders, progress, reports, scale
from learning import policies as rules
from models.content import PrintGrant, PrintRequest
from models.curriculum import Judgement
from models.learning import Achievement, LearningGoal, Submission
from people import queries as people


def _selects(selections: Sequence[Selection], name: str) -> bool:
    """Whether a field called ``name`` is selected anywhere below, fragments included. It may answer yes
    for a field a directive skips (a needless read), never no for a field the response shows."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if _selects(selection.selections, name):
            return True
    return False


async def _ladders(
    info: Info,
    subject: str | None = None,
    year_group: int | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> LadderConnection:
    page = page_of(info, first, after)
    rows = await ladders.ladders_page(
        info.context.session,
        info.context.principal,
        page,
        subject=subject,
        year_group=year_group,
        include_archived=include_archived,
    )
    # A LadderType holds its rungs (Ladder.rungs is a plain attribute): when the document asks for them,
    # the page's rungs come in one batch (none for platform ladders, which the process keeps).
    rungs: dict[uuid.UUID, tuple[ladders.RungRow, ...]] = {}
    if _selects(info.selected_fields, "rungs"):
        found = await info.context.loaders.learning.ladder.load_many([row.id for row in rows[: page.first]])
        rungs = {ladder.id: ladder.rungs for ladder in found if ladder is not None}
    return connection(
        rows, page, key=ladders.ladder_cursor, node=lambda row: LadderType.of(row, rungs.get(row.id, ()))
    )


async def _ladder(info: Info, id: strawberry.ID) -> LadderType | None:
    ladder_id = lookup_id(id, "Ladder")
    if ladder_id is None:
        return None
    found = await info.context.loaders.learning.ladder.load(ladder_id)
    return None if found is None else LadderType.full(found)


async def _level_scale(info: Info) -> list[LevelLabelType]:
    labels = await scale.level_labels(info.context.session, info.context.tenant.id)
    return [LevelLabelType(level=LEVEL_BY_NAME[level], label=label) for level, label in labels.items()]


async def _pupil_progress(
    info: Info, pupil_id: strawberry.ID, ladder_id: strawberry.ID
) -> PupilProgressType | None:
    pupil, ladder = lookup_id(pupil_id, "Pupil"), lookup_id(ladder_id, "Ladder")
    if pupil is None or ladder is None:
        return None
    loaders = info.context.loaders.learning
    row = await loaders.pupil.load(pupil)
    if row is None:
        return None
    found = await loaders.progress.load((pupil, ladder))
    if found is None:
        return None
    pupils_read(info, "pupilProgress", [row.id])
    return PupilProgressType.of(found, row)


async def _class_progress(
    info: Info, group_id: strawberry.ID, ladder_id: strawberry.ID
) -> ClassProgressType | None:
    group, ladder = lookup_id(group_id, "Group"), lookup_id(ladder_id, "Ladder")
    if group is None or ladder is None:
        return None
    view = await progress.class_view(info.context.session, info.context.principal, group, ladder)
    if view is None:
        return None
    pupils_read(info, "classProgress", (p.id for p in view.pupils))
    return ClassProgressType(row=view)


async def _school_progress(info: Info, year_group: int) -> list[LadderSummaryType]:
    rows = await progress.school_summary(info.context.session, info.context.principal, year_group)
    return [LadderSummaryType.of(r) for r in rows]


async def _judgement_history(
    info: Info,
    pupil_id: strawberry.ID,
    ladder_id: strawberry.ID | None = None,
    rung_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> JudgementConnection:
    page = page_of(info, first, after)
    pupil = lookup_id(pupil_id, "Pupil")
    ladder, rung = lookup_id(ladder_id, "Ladder"), lookup_id(rung_id, "Rung")
    rows = []
    if pupil is not None and (ladder_id is None or ladder) and (rung_id is None or rung):
        rows = await judgements.history(
            info.context.session, info.context.principal, page, pupil_id=pupil, ladder_id=ladder, rung_id=rung
        )
    return connection(rows, page, key=lambda j: (j.assessed_on, j.recorded_at, j.id), node=JudgementType.of)


async def _assignments(
    info: Info,
    group_id: strawberry.ID | None = None,
    pupil_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> AssignmentConnection:
    page = page_of(info, first, after)
    group, pupil = lookup_id(group_id, "Group"), lookup_id(pupil_id, "Pupil")
    rows = []
    if (group_id is None or group) and (pupil_id is None or pupil):
        rows = await assignments.assignments_page(
            info.context.session, info.context.principal, page, group_id=group, pupil_id=pupil
        )
    return connection(rows, page, key=lambda a: (a.due_on, a.id), node=AssignmentType.of)


async def _assignment(info: Info, id: strawberry.ID) -> AssignmentType | None:
    assignment_id = lookup_id(id, "Assignment")
    if assignment_id is None:
        return None
    found = await assignments.assignments_by_ids(
        info.context.session, info.context.principal, [assignment_id]
    )
    row = found.get(assignment_id)
    return None if row is None else AssignmentType.of(row)


async def _content(
    info: Info,
    subject: str | None = None,
    year_group: int | None = None,
    workbooks_only: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> ContentConnection:
    page = page_of(info, first, after)
    rows = await content.content_page(
        info.context.session,
        info.context.principal,
        page,
        subject=subject,
        year_group=year_group,
        workbooks_only=workbooks_only,
    )
    return connection(rows, page, key=lambda c: (c.title, c.id), node=ContentType.of)


async def _downloads(
    info: Info, content_id: strawberry.ID | None = None, first: int | None = None, after: str | None = None
) -> DownloadRecordConnection:
    page = page_of(info, first, after)
    item = lookup_id(content_id, "Content")
    rows = []
    if content_id is None or item is not None:
        rows = await content.downloads_page(
            info.context.session, info.context.principal, page, content_id=item
        )
    return connection(rows, page, key=lambda d: (d.downloaded_at, d.id), node=DownloadRecordType.of)


async def _content_reports(
    info: Info, status: ReportStatus | None = None, first: int | None = None, after: str | None = None
) -> ContentReportConnection:
    page = page_of(info, first, after)
    rows = await reports.reports_page(
        info.context.session, info.context.principal, page, status=None if status is None else status.value
    )
    return connection(rows, page, key=lambda r: (r.reported_at, r.id), node=ContentReportType.of)


async def _learner_record(info: Info, pupil_id: strawberry.ID) -> LearnerRecordType | None:
    pupil = lookup_id(pupil_id, "Pupil")
    if pupil is None:
        return None
    rows = await people.pupils_by_ids(info.context.session, info.context.principal, [pupil])
    row = rows.get(pupil)
    if row is None:
        return None
    pupils_read(info, "learnerRecord", [row.id])  # the record carries the ULN
    return LearnerRecordType.of(row)


@strawberry.type
class LearningQuery:
    ladders: LadderConnection | None = guarded(
        policies.SIGNED_IN_PROGRESS,
        resolver=_ladders,
        description="Platform ladders (every school) and this school's own, by subject, year and title.",
    )
    ladder: LadderType | None = guarded(policies.SIGNED_IN_PROGRESS, resolver=_ladder)
    level_scale: list[LevelLabelType] | None = guarded(
        policies.SIGNED_IN_PROGRESS,
        resolver=_level_scale,
        description="The scale's levels with this school's labels.",
    )
    pupil_progress: PupilProgressType | None = guarded(
        policies.SIGNED_IN_PROGRESS,
        resolver=_pupil_progress,
        description="A pupil's progress on a ladder, if the caller may see the pupil.",
    )
    class_progress: ClassProgressType | None = guarded(
        policies.STAFF,
        resolver=_class_progress,
        description="The class view: null unless the caller teaches the group (or has school-wide access).",
        metadata={COMPILED_KEY: compiled.class_progress},
    )
    school_progress: list[LadderSummaryType] | None = guarded(
        rules.SCHOOL_PROGRESS,
        resolver=_school_progress,
        description="Each ladder of a year group with the year group's summary.",
    )
    judgement_history: JudgementConnection | None = guarded(
        policies.SIGNED_IN_PROGRESS,
        resolver=_judgement_history,
        description="Every judgement of a pupil the caller may see, newest first.",
    )
    assignments: AssignmentConnection | None = guarded(
        policies.SIGNED_IN,
        resolver=_assignments,
        description="Assignments of the groups the caller may see, latest due date first.",
    )
    assignment: AssignmentType | None = guarded(policies.SIGNED_IN, resolver=_assignment)
    content: ContentConnection | None = guarded(
        policies.SIGNED_IN,
        resolver=_content,
        description="Pre-loaded and school content; never taken-down items.",
    )
    downloads: DownloadRecordConnection | None = guarded(
        rules.CONTENT_ADMIN,
        resolver=_downloads,
        description="The download log, newest first (licence 7.1.4.2).",
    )
    content_reports: ContentReportConnection | None = guarded(
        rules.CONTENT_ADMIN, resolver=_content_reports, description="Reports about content, newest first."
    )
    learner_record: LearnerRecordType | None = guarded(
        policies.LEARNER_RECORD_ACHIEVEMENTS,
        resolver=_learner_record,
        description="A pupil's learning record, if the caller may see the pupil.",
    )


# --- node(id): each kind read by the policy and row scope of the field that lists it -------------------


def _pupil_rows(prefix: str, policy: policies.Policy, model: Any, wrap: Any) -> None:
    """A kind of a pupil's rows (judgements, records, prints): visible exactly when its pupil is."""

    async def by_ids(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        rows = await people.pupil_rows_by_ids(info.context.session, info.context.principal, model, ids)
        return {key: wrap(row) for key, row in rows.items()}

    node_kind(prefix, policy)(by_ids)


_pupil_rows("Judgement", policies.SIGNED_IN, Judgement, JudgementType.of)
_pupil_rows("Achievement", policies.SIGNED_IN, Achievement, AchievementType.of)
_pupil_rows("LearningGoal", policies.SIGNED_IN, LearningGoal, LearningGoalType.of)
_pupil_rows("PrintRequest", policies.SIGNED_IN, PrintRequest, PrintRequestType.of)
_pupil_rows("PrintGrant", rules.CONTENT_ADMIN, PrintGrant, PrintGrantType.of)


@node_kind("Ladder", policies.SIGNED_IN)
async def _ladder_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await info.context.loaders.learning.ladder.load_many(ids)
    return {ladder.row.id: LadderType.full(ladder) for ladder in found if ladder is not None}


@node_kind("Rung", policies.SIGNED_IN)
async def _rung_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await ladders.rungs_by_ids(info.context.session, info.context.tenant.id, ids)
    return {key: RungType.of(rung) for key, (rung, _) in found.items()}


@node_kind("Assignment", policies.SIGNED_IN)
async def _assignment_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await assignments.assignments_by_ids(info.context.session, info.context.principal, ids)
    return {key: AssignmentType.of(row) for key, row in found.items()}


@node_kind("Submission", policies.SIGNED_IN)
async def _submission_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """A pupil's work: visible when both its pupil and its assignment are (as in the assignment's work)."""
    ctx = info.context
    rows = await people.pupil_rows_by_ids(ctx.session, ctx.principal, Submission, ids)
    visible = await assignments.assignments_by_ids(
        ctx.session, ctx.principal, list({row.assignment_id for row in rows.values()})
    )
    return {key: SubmissionType.of(row) for key, row in rows.items() if row.assignment_id in visible}


@node_kind("Content", policies.SIGNED_IN)
async def _content_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await content.content_by_ids(info.context.session, info.context.principal, ids)
    return {key: ContentType.of(item) for key, item in found.items()}


@node_kind("Download", rules.CONTENT_ADMIN)
async def _download_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await content.downloads_by_ids(info.context.session, info.context.principal, ids)
    return {key: DownloadRecordType.of(record) for key, record in found.items()}


@node_kind("ContentReport", rules.CONTENT_ADMIN)
async def _report_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await reports.reports_by_ids(info.context.session, info.context.principal, ids)
    return {key: ContentReportType.of(row) for key, row in found.items()}

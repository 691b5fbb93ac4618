"""The operator's view of learning across schools: usage statistics (LL-A 5.2) and the review of reports
about pre-loaded content (LL 13.3, LL 8.4). Aggregates and content only: no pupil's personal data.

Both read every school's rows, so each binds the transaction to every school for exactly that read
(``tenants.context.bound``); a review then binds to the one school whose report it decides.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import replace

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from common.errors import DomainError
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import Node, to_global_id
from graph.permissions import guarded, guarded_mutation
from graph.platform.context import AdminContext, operator_of
from graph.school.learning.mutations.content import ReviewDecision
from graph.school.learning.types.scale import ReportStatus
from learning import reports, statistics
from subscriptions.trusts import every_school
from tenants.context import bound


@strawberry.type(
    name="ContentUsage", description="A pre-loaded item's use across schools (counts below 5: null)."
)
class ContentUsageType:
    content_id: strawberry.ID
    code: str
    title: str
    schools: int | None
    assignments: int | None
    pupils_submitted: int | None
    downloads: int | None


@strawberry.type(
    name="SubjectUsage", description="Assignments set across schools, by subject of their content."
)
class SubjectUsageType:
    subject: str
    assignments: int | None
    schools: int | None


@strawberry.type(
    name="PlatformUsage",
    description="LL-A 5.2: what is used across schools. Counts only; any count below 5 is null, and an item "
    "whose every count is suppressed is left out.",
)
class PlatformUsageType:
    top_content: list[ContentUsageType]
    assignments_by_subject: list[SubjectUsageType]
    school_uploads: int | None

    @classmethod
    def of(cls, row: statistics.PlatformUsage) -> PlatformUsageType:
        return cls(
            top_content=[
                ContentUsageType(
                    content_id=to_global_id("Content", c.content_id),
                    code=c.code,
                    title=c.title,
                    schools=c.schools,
                    assignments=c.assignments,
                    pupils_submitted=c.pupils_submitted,
                    downloads=c.downloads,
                )
                for c in row.top_content
            ],
            assignments_by_subject=[
                SubjectUsageType(subject=s.subject, assignments=s.assignments, schools=s.schools)
                for s in row.assignments_by_subject
            ],
            school_uploads=row.school_uploads,
        )


@strawberry.type(
    name="PlatformContentReport",
    description="A report about a pre-loaded item, for the operator to review. The reporter is not shown.",
)
class PlatformReportType(Node):
    id: strawberry.ID
    school_slug: str
    content_code: str
    content_title: str
    reason: str
    status: ReportStatus
    reported_at: datetime.datetime
    decision_note: str | None
    reviewed_at: datetime.datetime | None

    @classmethod
    def of(cls, row: reports.PlatformReport) -> PlatformReportType:
        report = row.report
        return cls(
            id=to_global_id("ContentReport", report.id),
            school_slug=row.school_slug,
            content_code=row.content_code,
            content_title=row.content_title,
            reason=report.reason,
            status=ReportStatus(report.status),
            reported_at=report.reported_at,
            decision_note=report.decision_note,
            reviewed_at=report.reviewed_at,
        )


async def _usage(info: Info, limit: int = 20) -> PlatformUsageType:
    ctx: AdminContext = info.context
    async with every_school(ctx.session) as ids:
        usage = await statistics.platform_usage(ctx.session, ids, limit=min(max(limit, 1), 100))
    return PlatformUsageType.of(usage)


async def _reports(info: Info, status: ReportStatus | None = ReportStatus.OPEN) -> list[PlatformReportType]:
    ctx: AdminContext = info.context
    async with every_school(ctx.session):
        rows = await reports.platform_reports(
            ctx.session, status=None if status is None else status.value, limit=ctx.max_page_size
        )
    return [PlatformReportType.of(r) for r in rows]


@strawberry.type
class LearningQuery:
    usage: PlatformUsageType | None = guarded(
        OPERATOR, resolver=_usage, description="LL-A 5.2: the most used pre-loaded content and subjects."
    )
    content_reports: list[PlatformReportType] | None = guarded(
        OPERATOR,
        resolver=_reports,
        description="Reports about pre-loaded content at any school, newest first (default: open ones).",
    )


@strawberry.input
class OperatorReviewInput:
    report_id: strawberry.ID
    decision: ReviewDecision
    note: str = strawberry.field(description="The reason for the decision; shown to the school.")


@strawberry.type
class OperatorReviewPayload:
    report: PlatformReportType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def review_content_report(info: Info, input: OperatorReviewInput) -> OperatorReviewPayload:
    """LL 13.3, LL 8.4: the operator takes down (everywhere at once) or dismisses a reported item."""
    ctx: AdminContext = info.context
    principal = operator_of(info)

    async def review(report_id: uuid.UUID) -> reports.PlatformReport:
        async with every_school(ctx.session):
            found = await reports.platform_reports(ctx.session, limit=1, report_id=report_id)
        if not found:
            raise DomainError.one("reportId", "NOT_FOUND", "No report about pre-loaded content with this id.")
        school_id = found[0].report.school_id
        async with bound(ctx.session, [school_id]):
            decided = await reports.operator_review_report(
                ctx.session,
                school_id,
                report_id,
                input.decision.value,
                input.note,
                operator=f"operator:{principal.username}",
                now=ctx.now,
            )
        return replace(found[0], report=decided)

    def done(reviewed: reports.PlatformReport) -> OperatorReviewPayload:
        return OperatorReviewPayload(report=PlatformReportType.of(reviewed))

    return await mutate(
        info, OperatorReviewPayload, review, [("reportId", "ContentReport", input.report_id)], done=done
    )


@strawberry.type
class LearningMutation:
    review_content_report: OperatorReviewPayload = guarded_mutation(
        OPERATOR,
        resolver=review_content_report,
        description="LL 13.3, LL 8.4: decide a report; a takedown hides the item at every school at once.",
    )

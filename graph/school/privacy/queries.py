"""Privacy queries: the admins' queue of subject access requests and its overdue report, the retention
report and the school's retention periods, the overdue leavers, the standing termination handover."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from common.clock import school_today
from graph.limits import list_size
from graph.permissions import guarded
from graph.school.privacy.types import (
    LeaverType,
    RetentionDueType,
    RetentionPeriodType,
    SubjectAccessRequestType,
    TerminationHandoverType,
)
from privacy import leavers, retention, subject_access
from subscriptions import handover


async def _requests(info: Info, overdue: bool = False) -> list[SubjectAccessRequestType]:
    ctx = info.context
    today = school_today(ctx.now)
    rows = await subject_access.requests(ctx.session, ctx.tenant.id, overdue_on=today if overdue else None)
    return [SubjectAccessRequestType.of(row, today) for row in rows]


async def _retention(info: Info) -> list[RetentionDueType]:
    ctx = info.context
    due = await retention.report(ctx.session, ctx.tenant.id, ctx.now)
    return [RetentionDueType(table=d.table, rule=d.rule, rows=d.rows) for d in due]


async def _retention_periods(info: Info) -> list[RetentionPeriodType]:
    ctx = info.context
    found = await retention.periods(
        ctx.session, ctx.tenant.id, leaver_days=ctx.auth.settings.leaver_retention_days
    )
    return [RetentionPeriodType.of(period) for period in found]


async def _overdue_leavers(info: Info) -> list[LeaverType]:
    ctx = info.context
    return [LeaverType(row=row) for row in await leavers.overdue(ctx.session, ctx.tenant.id, now=ctx.now)]


async def _termination_handover(info: Info) -> TerminationHandoverType | None:
    ctx = info.context
    found = await handover.standing(ctx.session, ctx.tenant.id)
    return None if found is None else TerminationHandoverType.of(found)


@strawberry.type
class PrivacyQuery:
    subject_access_requests: list[SubjectAccessRequestType] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_requests,
        description="Subject access requests, soonest due first (at most 200); overdue: only those past their "
        "due date and not yet released (LL 5.1.1).",
        metadata=list_size(200),
    )
    retention_report: list[RetentionDueType] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_retention,
        description="What the retention rules make due for purging now, per table (LL-S2 (v)).",
        metadata=list_size(20),
    )
    retention_periods: list[RetentionPeriodType] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_retention_periods,
        description="The retention rules this school may tighten, with the platform's defaults and floors and "
        "the school's own periods (LL-S2 (v)).",
        metadata=list_size(20),
    )
    termination_handover: TerminationHandoverType | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_termination_handover,
        description="The Super-Users' standing choice for the school's data at termination (LL 5.1.3), and "
        "whether its handover credential would be honoured; null: none recorded.",
    )
    overdue_leavers: list[LeaverType] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_overdue_leavers,
        description="Pupils and staff still active 7 days past their leaving date (LL 11.1): empty while the "
        "leavers jobs step runs.",
        metadata=list_size(200),
    )

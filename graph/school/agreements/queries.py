"""The notices inbox (every signed-in user, readable before anything else works) and the acceptance report."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from graph.permissions import guarded
from graph.school.agreements.types import AcceptanceReportType, NoticesType, NoticeType
from privacy import agreements


async def _notices(info: Info) -> NoticesType:
    ctx = info.context
    views = await agreements.documents(ctx.session, ctx.principal, now=ctx.now)
    return NoticesType(
        unread=sum(1 for v in views if v.read_at is None), items=[NoticeType.of(v) for v in views]
    )


async def _acceptance_report(info: Info) -> AcceptanceReportType:
    ctx = info.context
    return AcceptanceReportType.of(await agreements.report(ctx.session, ctx.tenant.id, now=ctx.now))


@strawberry.type
class AgreementsQuery:
    notices: NoticesType | None = guarded(
        policies.SIGNED_IN,
        resolver=_notices,
        password_change_exempt=True,
        description="The platform's documents you must know of, current and upcoming, with whether you "
        "accepted and read them (LL 6.2, LL 3.1). Readable before anything else works.",
    )
    acceptance_report: AcceptanceReportType | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_acceptance_report,
        description="Whether the school accepted the licence terms in force (LL 21), and the active "
        "accounts that have not accepted each user policy and the LRS agreement (LL 3.1, LRS 1.1).",
    )

"""Privacy queries: the admins' queue of subject access requests and its overdue report."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from common.clock import school_today
from graph.limits import list_size
from graph.permissions import guarded
from graph.school.privacy.types import SubjectAccessRequestType
from privacy import subject_access


async def _requests(info: Info, overdue: bool = False) -> list[SubjectAccessRequestType]:
    ctx = info.context
    today = school_today(ctx.now)
    rows = await subject_access.requests(ctx.session, ctx.tenant.id, overdue_on=today if overdue else None)
    return [SubjectAccessRequestType.of(row, today) for row in rows]


@strawberry.type
class PrivacyQuery:
    subject_access_requests: list[SubjectAccessRequestType] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_requests,
        description="Subject access requests, soonest due first (at most 200); overdue: only those past their "
        "due date and not yet released (LL 5.1.1).",
        metadata=list_size(200),
    )

"""A trust admin's view of consent: per-school counts of the consent report, never a pupil's name."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from graph.core.relay import to_global_id
from graph.limits import list_size
from graph.permissions import guarded
from graph.platform.context import AdminContext
from graph.school.consent.types import ConsentCountsType
from privacy import consent_report
from subscriptions import trusts


@strawberry.type(name="SchoolConsent", description="One of the trust's schools: its consent counts.")
class SchoolConsentType:
    school_id: strawberry.ID
    slug: str
    name: str
    counts: ConsentCountsType


async def _consent_summaries(info: Info) -> list[SchoolConsentType]:
    ctx: AdminContext = info.context
    ids = list(ctx.school_ids)  # the trust's schools today; the transaction is bound to exactly these
    schools = {s.id: s for s in await trusts.schools_by_ids(ctx.session, ids)}
    return [
        SchoolConsentType(
            school_id=to_global_id("School", row.school_id),
            slug=schools[row.school_id].slug,
            name=schools[row.school_id].name,
            counts=ConsentCountsType.of(row),
        )
        for row in await consent_report.counts(ctx.session, ids, now=ctx.now)
        if row.school_id in schools
    ]


@strawberry.type
class ConsentQuery:
    consent_summaries: list[SchoolConsentType] | None = guarded(
        TRUST_ADMIN,
        resolver=_consent_summaries,
        description="Per-school consent counts for the trust's schools today (LL 6.3.2, LL 6.3.3); no names.",
        metadata=list_size(100),
    )

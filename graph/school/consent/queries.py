"""Consent queries: a parent's children and their consent requests, and a pupil's consent history."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.arguments import lookup_id
from graph.core.relay import node_kind
from graph.limits import list_size
from graph.permissions import guarded
from graph.school.consent.types import ConsentReportType, ConsentRequestType, ConsentType
from models.privacy import PupilConsent
from people import queries as people
from privacy import consent_queries, consent_report


async def _consent_requests(info: Info) -> list[ConsentRequestType]:
    ctx = info.context
    children = ctx.principal.pupil_scope or frozenset()
    requests = await consent_queries.requests_for(ctx.session, ctx.tenant.id, children, now=ctx.now)
    return [ConsentRequestType(row=r) for r in requests]


async def _pupil_consents(info: Info, pupil_id: strawberry.ID) -> list[ConsentType]:
    ctx = info.context
    pupil = lookup_id(pupil_id, "Pupil")
    if pupil is None or not ctx.principal.may_see_pupil(pupil):  # another parent's child: nothing
        return []
    rows = await consent_queries.history(ctx.session, ctx.tenant.id, [pupil])
    return [ConsentType.of(r) for r in rows]


async def _consent_report(info: Info) -> ConsentReportType:
    ctx = info.context
    return ConsentReportType.of(await consent_report.report(ctx.session, ctx.tenant.id, now=ctx.now))


@node_kind("Consent", policies.CONSENT_MANAGER)
async def _consent_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """As ``pupilConsents``: school admins any pupil's, a parent their own children's."""
    ctx = info.context
    found = await people.pupil_rows_by_ids(ctx.session, ctx.principal, PupilConsent, ids)
    return {key: ConsentType.of(row) for key, row in found.items()}


@strawberry.type
class ConsentQuery:
    consent_requests: list[ConsentRequestType] | None = guarded(
        policies.PARENT,
        resolver=_consent_requests,
        description="Your children, each with the consent it needs and the one in force (LL 6.3.2).",
        metadata=list_size(10),
    )
    pupil_consents: list[ConsentType] | None = guarded(
        policies.CONSENT_MANAGER,
        resolver=_pupil_consents,
        description="A pupil's consents, given and withdrawn, newest first: for school admins, and for a "
        "parent their own child's.",
        metadata=list_size(50),
    )
    consent_report: ConsentReportType | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_consent_report,
        description="Pupils without a current consent, turning 13 soon, 13+ without their own, and recent "
        "withdrawals (LL 6.3.2, LL 6.3.3).",
    )

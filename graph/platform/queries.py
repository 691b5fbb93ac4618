"""The platform schema's root query: operators only, aggregates only."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR, OperatorPrincipal
from graph.core.arguments import page_of
from graph.core.relay import connection
from graph.permissions import guarded, public
from graph.platform.context import AdminContext
from graph.platform.documents import DocumentsQuery
from graph.platform.learning import LearningQuery
from graph.platform.nodes import NodeQuery
from graph.platform.novations.types import NovationStatus, NovationType
from graph.platform.partners import PartnerQuery
from graph.platform.refs import SchoolStatus
from graph.platform.types import (
    DestructionRecordType,
    JobRunType,
    OperatorViewer,
    PlatformSchool,
    SchoolConnection,
    TrustConnection,
    TrustType,
)
from models.platform import OperatorAccount
from subscriptions import licences, records, trusts


async def _viewer(info: Info) -> OperatorViewer | None:
    principal = info.context.principal
    if not isinstance(principal, OperatorPrincipal):
        return None
    account = await info.context.session.get(OperatorAccount, principal.account_id)
    return None if account is None else OperatorViewer.of(account)


async def _trusts(info: Info, first: int | None = None, after: str | None = None) -> TrustConnection:
    page = page_of(info, first, after)
    rows = await trusts.trusts_page(
        info.context.session, first=page.first, after_slug=page.after[0] if page.after else None
    )
    return connection(rows, page, key=lambda t: (t.slug,), node=TrustType.of)


async def _trust(info: Info, slug: str) -> TrustType | None:
    row = await records.trust_by_slug(info.context.session, slug)
    return None if row is None else TrustType.of(row)


async def _schools(
    info: Info, first: int | None = None, after: str | None = None, status: SchoolStatus | None = None
) -> SchoolConnection:
    page = page_of(info, first, after)
    rows = await trusts.schools_page(
        info.context.session,
        first=page.first,
        after_slug=page.after[0] if page.after else None,
        status=None if status is None else status.value,
    )
    return connection(rows, page, key=lambda s: (s.slug,), node=PlatformSchool.of)


async def _school(info: Info, slug: str) -> PlatformSchool | None:
    row = await records.school_by_slug(info.context.session, slug)
    return None if row is None else PlatformSchool.of(row)


async def _novations(info: Info, status: NovationStatus | None = None) -> list[NovationType]:
    rows = await records.recent_novations(
        info.context.session,
        status=None if status is None else status.value,
        limit=info.context.max_page_size,
    )
    return [NovationType.of(r) for r in rows]


async def _destructions(info: Info) -> list[DestructionRecordType]:
    rows = await records.recent_destructions(info.context.session, limit=info.context.max_page_size)
    return [DestructionRecordType.of(r) for r in rows]


async def _job_runs(info: Info, first: int = 20) -> list[JobRunType]:
    ctx: AdminContext = info.context
    rows = await records.recent_job_runs(ctx.session, limit=min(max(first, 1), ctx.max_page_size))
    return [JobRunType.of(r) for r in rows]


async def _terms(info: Info) -> str:
    ctx: AdminContext = info.context
    return await licences.terms_in_force(ctx.session, ctx.now)


@strawberry.type
class Query(NodeQuery, LearningQuery, DocumentsQuery, PartnerQuery):
    viewer: OperatorViewer | None = public("says who the caller is; null when anonymous", resolver=_viewer)
    trusts: TrustConnection | None = guarded(OPERATOR, resolver=_trusts, description="Every trust, by slug.")
    trust: TrustType | None = guarded(OPERATOR, resolver=_trust)
    schools: SchoolConnection | None = guarded(
        OPERATOR, resolver=_schools, description="Every school (tenant), by slug; counts only, no pupil data."
    )
    school: PlatformSchool | None = guarded(OPERATOR, resolver=_school)
    novations: list[NovationType] | None = guarded(OPERATOR, resolver=_novations, description="Newest first.")
    destruction_records: list[DestructionRecordType] | None = guarded(OPERATOR, resolver=_destructions)
    job_runs: list[JobRunType] | None = guarded(OPERATOR, resolver=_job_runs, description="Newest first.")
    current_terms_version: str | None = guarded(
        OPERATOR,
        resolver=_terms,
        description="The version of the licence terms in force (the published licence terms): what a successor "
        "accepts on novation and a new licence is agreed under by default.",
    )

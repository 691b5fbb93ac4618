"""Trusts as a tenant context: resolving a trust from its URL, its schools on a date, their summaries.

A trust's schools are those whose membership row is current: ``effective_from <= today`` and
``effective_to`` unset or after today. The trust endpoint reads them with ``app.trust_ids`` bound (the
memberships' second, read-only policy), then binds ``app.school_ids`` to exactly those schools, so every
tenant row of any other school stays invisible to the request at the database too.

Nothing here binds the transaction: resolvers of one request run concurrently on one session, so a
binding changed by one would leak into another. The caller binds (the edge, once per request; a
platform resolver inside ``AdminContext.tenant_rows``, which serialises such blocks).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problems
from models import Account, Pupil, School, SchoolTrustMembership, Staff, Trust
from models.schools import TRUST_KINDS
from tenants.context import bound
from tenants.scoping import in_school, in_schools


@dataclass(frozen=True)
class TrustTenant:
    """The trust a ``/trusts/{slug}/graphql`` request is about."""

    id: uuid.UUID
    slug: str
    name: str
    kind: str


@dataclass(frozen=True)
class SchoolSummary:
    """Counts only (no one's personal data): what a trust admin or operator sees of a school's size."""

    pupils: int = 0
    staff: int = 0
    active_accounts: int = 0


async def resolve_trust(session: AsyncSession, slug: str) -> TrustTenant | None:
    row = (
        await session.execute(select(Trust.id, Trust.slug, Trust.name, Trust.kind).where(Trust.slug == slug))
    ).one_or_none()
    return None if row is None else TrustTenant(*row)


def _current(on: date) -> object:
    return and_(
        SchoolTrustMembership.effective_from <= on,
        or_(SchoolTrustMembership.effective_to.is_(None), SchoolTrustMembership.effective_to > on),  # type: ignore[union-attr]
    )


async def current_school_ids(session: AsyncSession, trust_id: uuid.UUID, on: date) -> list[uuid.UUID]:
    """The trust's schools on ``on``, read through the memberships' trust policy: the transaction must be
    bound to the trust (``app.trust_ids``)."""
    rows = await session.execute(
        select(SchoolTrustMembership.school_id)
        .where(SchoolTrustMembership.trust_id == trust_id, _current(on))
        .order_by(SchoolTrustMembership.school_id)
    )
    return list(rows.scalars())


async def current_trust_ids(
    session: AsyncSession, school_ids: Sequence[uuid.UUID], on: date
) -> dict[uuid.UUID, uuid.UUID]:
    """school -> its trust on ``on``, for schools that have one (the schools must be bound)."""
    if not school_ids:
        return {}
    rows = await session.execute(
        select(SchoolTrustMembership.school_id, SchoolTrustMembership.trust_id).where(
            in_schools(SchoolTrustMembership, school_ids),
            _current(on),
        )
    )
    return {school: trust for school, trust in rows.all()}


async def membership_history(session: AsyncSession, school_id: uuid.UUID) -> list[SchoolTrustMembership]:
    """Every membership of the school, oldest first: the full history stays queryable after a novation.
    The school must be bound."""
    rows = await session.execute(
        select(SchoolTrustMembership)
        .where(in_school(SchoolTrustMembership, school_id))
        .order_by(SchoolTrustMembership.effective_from)
    )
    return list(rows.scalars())


async def summaries(session: AsyncSession, school_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SchoolSummary]:
    """Pupils and staff on roll and active accounts per school: three grouped counts, whatever the number.
    The schools must be bound."""
    if not school_ids:
        return {}
    counts: dict[uuid.UUID, dict[str, int]] = {s: {} for s in school_ids}
    for name, model, condition in (
        ("pupils", Pupil, Pupil.active),
        ("staff", Staff, Staff.active),
        ("active_accounts", Account, Account.status == "ACTIVE"),
    ):
        rows = await session.execute(
            select(model.school_id, func.count())
            .where(in_schools(model, school_ids), condition)
            .group_by(model.school_id)
        )
        for school, count in rows.all():
            counts[school][name] = int(count)
    return {school: SchoolSummary(**values) for school, values in counts.items()}


async def schools_by_ids(session: AsyncSession, school_ids: Sequence[uuid.UUID]) -> list[School]:
    if not school_ids:
        return []
    rows = await session.execute(
        select(School).where(School.id.in_(school_ids)).order_by(School.name, School.id)  # type: ignore[attr-defined]
    )
    return list(rows.scalars())


async def trust_by_id(session: AsyncSession, trust_id: uuid.UUID, *, field: str = "trustId") -> Trust:
    trust = await session.get(Trust, trust_id)
    if trust is None:
        raise DomainError.one(field, "NOT_FOUND", "No such trust.")
    return trust


async def update_trust(
    session: AsyncSession, trust_id: uuid.UUID, *, name: str | None, kind: str | None, now: datetime
) -> Trust:
    """Rename a trust or change its kind (a single-academy trust joining a MAT keeps its own record)."""
    trust = await trust_by_id(session, trust_id)
    problems = Problems()
    if name is not None and not name.strip():
        problems.add("name", "REQUIRED", "A trust needs a name.")
    if kind is not None and kind not in TRUST_KINDS:
        problems.add("kind", "INVALID_KIND", f"kind must be one of {', '.join(TRUST_KINDS)}.")
    problems.raise_if_any()
    if name is not None:
        trust.name = name.strip()
    if kind is not None:
        trust.kind = kind
    await session.flush()
    return trust


async def trusts_page(session: AsyncSession, *, first: int, after_slug: str | None) -> list[Trust]:
    stmt = select(Trust).order_by(Trust.slug).limit(first + 1)
    if after_slug is not None:
        stmt = stmt.where(Trust.slug > after_slug)
    return list((await session.execute(stmt)).scalars())


async def schools_page(
    session: AsyncSession, *, first: int, after_slug: str | None, status: str | None
) -> list[School]:
    stmt = select(School).order_by(School.slug).limit(first + 1)
    if after_slug is not None:
        stmt = stmt.where(School.slug > after_slug)
    if status is not None:
        stmt = stmt.where(School.status == status)
    return list((await session.execute(stmt)).scalars())


async def all_school_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every school (tenant) on the platform: what an operator's aggregate across schools binds to."""
    return list((await session.execute(select(School.id).order_by(School.slug))).scalars())


@asynccontextmanager
async def every_school(session: AsyncSession) -> AsyncIterator[list[uuid.UUID]]:
    """Bind the transaction to every school for a block (an operator's read across schools), then restore
    the binding it had; yields the schools' ids."""
    ids = await all_school_ids(session)
    async with bound(session, ids):
        yield ids

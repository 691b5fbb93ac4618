"""Reads of the platform's global records for the trust and platform schemas (the resolvers stay SQL-free).

All of these tables are global (no ``school_id``), so no binding is needed; a trust's or a school's rows
are picked by the ids the caller was allowed to ask about.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import School, SchoolTrustMembership, Trust
from models.licensing import (
    OPEN_NOVATION,
    DestructionRecord,
    Invoice,
    Licence,
    LicenceSchool,
    Novation,
    Suspension,
)
from models.platform import JobRun, TrustAdminAccount
from tenants.scoping import in_schools


async def trust_by_slug(session: AsyncSession, slug: str) -> Trust | None:
    return (await session.execute(select(Trust).where(Trust.slug == slug))).scalar_one_or_none()


async def school_by_slug(session: AsyncSession, slug: str) -> School | None:
    return (await session.execute(select(School).where(School.slug == slug))).scalar_one_or_none()


async def trust_admins(session: AsyncSession, trust_id: uuid.UUID) -> list[TrustAdminAccount]:
    rows = await session.execute(
        select(TrustAdminAccount)
        .where(TrustAdminAccount.trust_id == trust_id)
        .order_by(TrustAdminAccount.username)
    )
    return list(rows.scalars())


async def licences_held(session: AsyncSession, trust_id: uuid.UUID) -> list[Licence]:
    rows = await session.execute(
        select(Licence).where(Licence.licensee_trust_id == trust_id).order_by(Licence.term_start, Licence.id)
    )
    return list(rows.scalars())


async def covers(session: AsyncSession, licence_id: uuid.UUID) -> list[LicenceSchool]:
    rows = await session.execute(
        select(LicenceSchool)
        .where(LicenceSchool.licence_id == licence_id)
        .order_by(LicenceSchool.covered_from)
    )
    return list(rows.scalars())


async def invoices(session: AsyncSession, licence_id: uuid.UUID) -> list[Invoice]:
    rows = await session.execute(
        select(Invoice)
        .where(Invoice.licence_id == licence_id)
        .order_by(Invoice.period_start, Invoice.issued_on)
    )
    return list(rows.scalars())


async def suspensions(session: AsyncSession, school_id: uuid.UUID) -> list[Suspension]:
    rows = await session.execute(
        select(Suspension).where(Suspension.tenant_id == school_id).order_by(Suspension.starts_at.desc())  # type: ignore[attr-defined]
    )
    return list(rows.scalars())


async def novations_of_school(session: AsyncSession, school_id: uuid.UUID) -> list[Novation]:
    rows = await session.execute(
        select(Novation).where(Novation.tenant_id == school_id).order_by(Novation.proposed_at.desc())  # type: ignore[attr-defined]
    )
    return list(rows.scalars())


async def recent_novations(session: AsyncSession, *, status: str | None, limit: int) -> list[Novation]:
    stmt = select(Novation).order_by(Novation.proposed_at.desc()).limit(limit)  # type: ignore[attr-defined]
    if status is not None:
        stmt = stmt.where(Novation.status == status)
    return list((await session.execute(stmt)).scalars())


async def destruction_of(session: AsyncSession, school_id: uuid.UUID) -> DestructionRecord | None:
    return (
        await session.execute(select(DestructionRecord).where(DestructionRecord.tenant_id == school_id))
    ).scalar_one_or_none()


async def recent_destructions(session: AsyncSession, *, limit: int) -> list[DestructionRecord]:
    rows = await session.execute(
        select(DestructionRecord).order_by(DestructionRecord.requested_at.desc()).limit(limit)  # type: ignore[attr-defined]
    )
    return list(rows.scalars())


async def recent_job_runs(session: AsyncSession, *, limit: int) -> list[JobRun]:
    rows = await session.execute(select(JobRun).order_by(JobRun.started_at.desc()).limit(limit))  # type: ignore[attr-defined]
    return list(rows.scalars())


async def member_since(
    session: AsyncSession, trust_id: uuid.UUID, school_ids: Sequence[uuid.UUID], on: date
) -> dict[uuid.UUID, date]:
    """When each school joined the trust, for its membership current on ``on`` (trust or schools bound)."""
    rows = await session.execute(
        select(SchoolTrustMembership.school_id, SchoolTrustMembership.effective_from).where(
            SchoolTrustMembership.trust_id == trust_id,
            in_schools(SchoolTrustMembership, school_ids),
            SchoolTrustMembership.effective_from <= on,
            SchoolTrustMembership.effective_to.is_(None) | (SchoolTrustMembership.effective_to > on),  # type: ignore[union-attr]
        )
    )
    return {school: since for school, since in rows.all()}


async def novations_of_trust(
    session: AsyncSession, trust_id: uuid.UUID, *, direction: str, open_only: bool
) -> list[Novation]:
    """A trust's novations: IN (it is the successor), OUT (the outgoing trust) or ALL, newest first."""
    sides = {
        "IN": Novation.to_trust_id == trust_id,
        "OUT": Novation.from_trust_id == trust_id,
        "ALL": or_(Novation.to_trust_id == trust_id, Novation.from_trust_id == trust_id),
    }
    stmt = select(Novation).where(sides[direction]).order_by(Novation.proposed_at.desc(), Novation.id)  # type: ignore[attr-defined]
    if open_only:
        stmt = stmt.where(Novation.status.in_(OPEN_NOVATION))  # type: ignore[attr-defined]
    return list((await session.execute(stmt)).scalars())

"""Creating trusts and schools (tenants) and joining a school to a trust.

A school's membership of a trust is an effective-dated row: joining ends the open row (if any) the day
the new one starts, so a later novation only adds a row and no tenant data ever moves.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problems
from models import School, SchoolTrustMembership, Trust
from models.schools import SCHOOL_PHASES, TRUST_KINDS
from tenants.context import bind
from tenants.scoping import scoped


async def create_trust(session: AsyncSession, *, slug: str, name: str, kind: str, now: datetime) -> Trust:
    problems = Problems()
    if kind not in TRUST_KINDS:
        problems.add("kind", "INVALID_KIND", f"kind must be one of {', '.join(TRUST_KINDS)}.")
    if (await session.execute(select(Trust.id).where(Trust.slug == slug))).first() is not None:
        problems.add("slug", "SLUG_TAKEN", f"A trust with slug {slug!r} exists already.")
    problems.raise_if_any()
    trust = Trust(slug=slug, name=name, kind=kind, created_at=now)
    session.add(trust)
    await session.flush()
    return trust


async def create_school(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    phase: str,
    urn: str | None,
    now: datetime,
) -> School:
    """Create the tenant. The caller's transaction is then bound to it (and any schools bound before)."""
    problems = Problems()
    if phase not in SCHOOL_PHASES:
        problems.add("phase", "INVALID_PHASE", f"phase must be one of {', '.join(SCHOOL_PHASES)}.")
    if (await session.execute(select(School.id).where(School.slug == slug))).first() is not None:
        problems.add("slug", "SLUG_TAKEN", f"The address /schools/{slug} is taken.")
    if urn is not None and (await session.execute(select(School.id).where(School.urn == urn))).first():
        problems.add("urn", "URN_TAKEN", f"A school with URN {urn} exists already.")
    problems.raise_if_any()
    school = School(slug=slug, name=name, phase=phase, urn=urn, created_at=now)
    session.add(school)
    await session.flush()
    return school


async def join_trust(
    session: AsyncSession, school_id: uuid.UUID, trust_id: uuid.UUID, *, effective_from: date, now: datetime
) -> SchoolTrustMembership:
    """Make ``trust_id`` the school's trust from ``effective_from``, ending the current membership then."""
    await bind(session, [school_id])
    current = (
        await session.execute(
            scoped(SchoolTrustMembership, school_id).where(SchoolTrustMembership.effective_to.is_(None))  # type: ignore[union-attr]
        )
    ).scalar_one_or_none()
    if current is not None:
        if current.trust_id == trust_id:
            raise DomainError.one("trustId", "ALREADY_MEMBER", "The school is already in this trust.")
        if effective_from <= current.effective_from:
            raise DomainError.one(
                "effectiveFrom",
                "BEFORE_CURRENT",
                "The new membership must start after the current one began.",
            )
        current.effective_to = effective_from
        current.ended_at = now
        await session.flush()
    membership = SchoolTrustMembership(
        school_id=school_id, trust_id=trust_id, effective_from=effective_from, created_at=now
    )
    session.add(membership)
    await session.flush()
    return membership

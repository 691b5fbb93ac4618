"""Suspending a school on a security or personal-data breach (LL-A 9.1).

Either party may suspend for up to 30 days, or longer when agreed (the agreement is recorded). Suspending
revokes every session of the school at once and refuses every request to it with 403 and the reason; it is
lifted by an operator, or by ``schoolgraph jobs run`` when it ends. A school has at most one open
suspension.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.service import revoke_sessions
from common.errors import DomainError, Problems
from common.events import emit_for_school
from models import School
from models.licensing import SUSPENSION_REASONS, Suspension
from subscriptions import outbox
from subscriptions.licences import refresh_school_status
from tenants.context import bound

MAX_DAYS_WITHOUT_AGREEMENT = 30
"""LL-A 9.1: a suspension lasts up to 30 days unless a longer period is agreed."""


async def suspend(
    session: AsyncSession,
    school_id: uuid.UUID,
    *,
    reason: str,
    days: int,
    agreed_longer: bool,
    agreement: str | None,
    note: str | None,
    by: uuid.UUID | None,
    now: datetime,
) -> Suspension:
    """Suspend the school for ``days`` from ``now``: its sessions are revoked and its status refreshed, and
    its Super-Users are told. Raises every problem at once (each naming the input it is about: ``days``,
    not the end it makes), writing nothing; flushes, never commits."""
    school = await session.get(School, school_id, with_for_update=True)
    if school is None:
        raise DomainError.one("schoolId", "NOT_FOUND", "No such school.")
    await _check_suspension(
        session, school, reason=reason, days=days, agreed_longer=agreed_longer, agreement=agreement
    )
    ends_at = now + timedelta(days=days)
    async with bound(session, [school_id]):
        revoked = await revoke_sessions(session, school_id, reason="SCHOOL_SUSPENDED", now=now)
    suspension = Suspension(
        tenant_id=school_id,
        reason=reason,
        note=note,
        starts_at=now,
        ends_at=ends_at,
        agreed_longer=agreed_longer,
        agreement=(agreement or "").strip() or None,
        sessions_revoked=revoked,
        created_by=by,
        created_at=now,
    )
    session.add(suspension)
    await session.flush()
    await refresh_school_status(session, school_id, now=now)
    await _announce(session, school, reason=reason, ends_at=ends_at, now=now)
    await emit_for_school(
        session,
        school_id,
        "school.suspended",
        target_type="School",
        target_id=school_id,
        detail={"reason": reason, "days": (ends_at - now).days, "agreedLonger": agreed_longer},
    )
    return suspension


async def _check_suspension(
    session: AsyncSession,
    school: School,
    *,
    reason: str,
    days: int,
    agreed_longer: bool,
    agreement: str | None,
) -> None:
    """Raise every problem with suspending ``school`` at once (one read: its open suspension)."""
    problems = Problems()
    if school.status == "TERMINATED":
        problems.add("schoolId", "SCHOOL_TERMINATED", f"{school.name} is terminated.")
    if reason not in SUSPENSION_REASONS:
        problems.add("reason", "INVALID_REASON", f"reason must be one of {', '.join(SUSPENSION_REASONS)}.")
    if days < 1:
        problems.add("days", "INVALID_DAYS", "A suspension lasts at least a day.")
    elif days > MAX_DAYS_WITHOUT_AGREEMENT and not agreed_longer:
        problems.add(
            "days",
            "SUSPENSION_TOO_LONG",
            "A suspension lasts up to 30 days unless a longer period is agreed (LL-A 9.1): set agreedLonger "
            "and record the agreement.",
        )
    if agreed_longer and not (agreement or "").strip():
        problems.add("agreement", "REQUIRED", "Record what was agreed, with whom and when.")
    open_one = (
        await session.execute(
            select(Suspension.id).where(Suspension.tenant_id == school.id, Suspension.lifted_at.is_(None))  # type: ignore[union-attr]
        )
    ).first()
    if open_one is not None:
        problems.add("schoolId", "ALREADY_SUSPENDED", f"{school.name} is suspended already.")
    problems.raise_if_any()


async def _announce(
    session: AsyncSession, school: School, *, reason: str, ends_at: datetime, now: datetime
) -> None:
    """Tell the school (its Super-Users, through the outbox) that its access is suspended and until when."""
    await outbox.enqueue(
        session,
        kind="SCHOOL_SUSPENDED",
        subject=f"{school.name}: access suspended until {ends_at:%Y-%m-%d %H:%M} UTC",
        body=(
            f"Access to {school.name} is suspended following a {reason.replace('_', ' ').lower()} (LL-A 9.1), "
            f"until {ends_at:%Y-%m-%d %H:%M} UTC unless lifted sooner. Every session was signed out."
        ),
        now=now,
        tenant_id=school.id,
    )


async def lift(
    session: AsyncSession, suspension: Suspension, *, by: uuid.UUID | None, reason: str, now: datetime
) -> tuple[str, str | None] | None:
    """Lift an open suspension (MANUAL, EXPIRED or TERMINATED); returns the school's new status if it changed.
    Emitted to the school's chain and the platform log, whoever lifted it (an operator or the jobs runner)."""
    suspension.lifted_at = now
    suspension.lifted_by = by
    suspension.lift_reason = reason
    await session.flush()
    await emit_for_school(
        session,
        suspension.tenant_id,
        "school.suspension_lifted",
        target_type="Suspension",
        target_id=suspension.id,
        detail={"reason": reason},
    )
    return await refresh_school_status(session, suspension.tenant_id, now=now)


async def open_suspension(session: AsyncSession, school_id: uuid.UUID) -> Suspension:
    suspension = (
        await session.execute(
            select(Suspension)
            .where(Suspension.tenant_id == school_id, Suspension.lifted_at.is_(None))  # type: ignore[union-attr]
            .with_for_update()
        )
    ).scalar_one_or_none()
    if suspension is None:
        raise DomainError.one("schoolId", "NOT_SUSPENDED", "This school has no open suspension.")
    return suspension


def due_lift(now: datetime) -> object:
    return (Suspension.lifted_at.is_(None)) & (Suspension.ends_at <= now)  # type: ignore[union-attr]

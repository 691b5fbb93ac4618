"""Reading a school's audit log (LRS 7.3 spot checks, LRS 8.9 activity reported to administrators)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEntry
from tenants.scoping import scoped

PUPIL_READ_ACTIONS = ("read.pupil", "read.pupils")


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def entries_page(
    session: AsyncSession, school_id: uuid.UUID, where: AuditFilter, *, first: int, before_seq: int | None
) -> Sequence[AuditEntry]:
    """Newest first; ``first + 1`` rows at most (the extra one says there is a next page)."""
    stmt = scoped(AuditEntry, school_id)
    if where.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == where.actor_id)
    if where.action is not None:
        stmt = stmt.where(AuditEntry.action == where.action)
    if where.target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == where.target_type)
    if where.target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == where.target_id)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < where.until)
    if before_seq is not None:
        stmt = stmt.where(AuditEntry.seq < before_seq)
    stmt = stmt.order_by(AuditEntry.seq.desc()).limit(first + 1)  # type: ignore[attr-defined]
    return (await session.execute(stmt)).scalars().all()


async def pupil_access(
    session: AsyncSession, school_id: uuid.UUID, pupil_id: uuid.UUID, *, first: int, before_seq: int | None
) -> Sequence[AuditEntry]:
    """Who accessed this pupil's record: reads of the record itself and lists that included it."""
    stmt = scoped(AuditEntry, school_id).where(
        AuditEntry.action.in_(PUPIL_READ_ACTIONS),  # type: ignore[attr-defined]
        or_(
            AuditEntry.target_id == pupil_id,
            AuditEntry.detail.contains({"pupil_ids": [str(pupil_id)]}),  # type: ignore[attr-defined]
        ),
    )
    if before_seq is not None:
        stmt = stmt.where(AuditEntry.seq < before_seq)
    stmt = stmt.order_by(AuditEntry.seq.desc()).limit(first + 1)  # type: ignore[attr-defined]
    return (await session.execute(stmt)).scalars().all()

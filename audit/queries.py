"""Reading a school's audit log (LRS 7.3 spot checks, LRS 8.9 activity reported to administrators).

Every function reads one school's entries through the scoping helper, newest first, as keyset pages on
``id`` (the insertion order: a pending entry has no ``seq`` yet, but is listed too; ``first + 1`` rows at
most: the extra one says there is a next page).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import AuditEntry
from tenants.scoping import scoped

BULK_PUPIL_READ = "read.pupils"
"""A list of pupils was read: ``detail.pupil_ids`` names the pupils of the page, there is no target."""
PUPIL_READ = "read.pupil"
"""One pupil's full record was read: the pupil is the target."""


@dataclass(frozen=True)
class AuditFilter:
    """What to match; every given field must match. ``action`` ending in ``.*`` matches a prefix."""

    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: uuid.UUID | None = None
    outcome: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""


def _page(stmt: Select[AuditEntry], *, first: int, before_id: int | None) -> Select[AuditEntry]:
    if before_id is not None:
        stmt = stmt.where(col(AuditEntry.id) < before_id)
    return stmt.order_by(col(AuditEntry.id).desc()).limit(first + 1)


async def entries_page(
    session: AsyncSession, school_id: uuid.UUID, where: AuditFilter, *, first: int, before_id: int | None
) -> Sequence[AuditEntry]:
    """The school's entries matching ``where``, newest first, older than ``before_id`` when given."""
    stmt = scoped(AuditEntry, school_id)
    if where.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == where.actor_id)
    if where.action is not None:
        if where.action.endswith(".*"):
            stmt = stmt.where(col(AuditEntry.action).startswith(where.action[:-1], autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == where.action)
    if where.target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == where.target_type)
    if where.target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == where.target_id)
    if where.outcome is not None:
        stmt = stmt.where(AuditEntry.outcome == where.outcome)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < where.until)
    rows = (await session.execute(_page(stmt, first=first, before_id=before_id))).scalars().all()
    return rows


async def pupil_access(
    session: AsyncSession, school_id: uuid.UUID, pupil_id: uuid.UUID, *, first: int, before_id: int | None
) -> Sequence[AuditEntry]:
    """Who accessed this pupil's record: every entry about the pupil (its full record read, a change, a
    parent code issued) and every list of pupils that included it, newest first."""
    stmt = scoped(AuditEntry, school_id).where(
        or_(
            and_(AuditEntry.target_type == "Pupil", AuditEntry.target_id == pupil_id),
            and_(
                AuditEntry.action == BULK_PUPIL_READ,
                col(AuditEntry.detail).contains({"pupil_ids": [str(pupil_id)]}),
            ),
        )
    )
    rows = (await session.execute(_page(stmt, first=first, before_id=before_id))).scalars().all()
    return rows

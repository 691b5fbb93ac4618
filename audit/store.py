"""Reading a school's log for the sequencer and the verifiers: entries in ``seq`` order, streamed in
batches (memory does not grow with the log), and the school's stored tree heads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import HASHED_FIELDS, Chained
from models import AuditEntry, AuditTreeHead
from tenants.scoping import in_school

BATCH = 5000

CHAINED_COLUMNS = [getattr(AuditEntry, name) for name in (*HASHED_FIELDS, "prev_hash", "hash")]
"""What the chain and the tree are computed from (and what they stored)."""
PENDING_COLUMNS = [AuditEntry.id, *(getattr(AuditEntry, name) for name in HASHED_FIELDS if name != "seq")]
"""A pending entry's hashed content (it has no ``seq`` yet) and its key."""


async def stream_entries(
    session: AsyncSession, school_id: uuid.UUID, *, after: int = 0, upto: int | None = None
) -> AsyncIterator[Chained]:
    """The school's sequenced entries after ``after`` (up to ``upto`` when given), in ``seq`` order."""
    while True:
        stmt = (
            select(*CHAINED_COLUMNS)
            .where(in_school(AuditEntry, school_id), AuditEntry.seq > after)
            .order_by(AuditEntry.seq)
            .limit(BATCH)
        )
        if upto is not None:
            stmt = stmt.where(AuditEntry.seq <= upto)
        batch: Any = (await session.execute(stmt)).all()
        for row in batch:
            yield row
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


async def tree_heads(session: AsyncSession, school_id: uuid.UUID) -> list[AuditTreeHead]:
    """The school's signed tree heads, smallest first."""
    stmt = select(AuditTreeHead).where(in_school(AuditTreeHead, school_id)).order_by(AuditTreeHead.tree_size)
    return list((await session.execute(stmt)).scalars().all())


async def pending_count(session: AsyncSession, school_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(in_school(AuditEntry, school_id), AuditEntry.seq.is_(None))  # type: ignore[union-attr]
    return int((await session.execute(stmt)).scalar_one())

"""Verifying every school's chain, and signing the chain heads for anchoring outside the database."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import GENESIS, HASHED_FIELDS, Chained, ChainFault, ChainWalk
from audit.recorder import chain_head
from auth.tokens import SigningKeys
from models import AuditEntry, School
from tenants.context import bind
from tenants.scoping import in_school

BATCH = 5000


@dataclass(frozen=True)
class SchoolVerdict:
    school_id: uuid.UUID
    slug: str
    entries: int
    """Entries found intact (up to the fault, if any)."""
    fault: ChainFault | None


_COLUMNS = [getattr(AuditEntry, name) for name in (*HASHED_FIELDS, "prev_hash", "hash")]


async def _entries(session: AsyncSession, school_id: uuid.UUID) -> AsyncIterator[Chained]:
    """The school's entries in seq order, as plain rows streamed in batches (memory does not grow)."""
    after = 0
    while True:
        batch = (
            await session.execute(
                select(*_COLUMNS)
                .where(in_school(AuditEntry, school_id), AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(BATCH)
            )
        ).all()
        for row in batch:
            yield row
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


async def verify_school(session: AsyncSession, school_id: uuid.UUID, slug: str) -> SchoolVerdict:
    """Verify one school's chain; binds the session's transaction to that school.

    Safe while the school is in use: the head is read before the entries and again after them, so entries
    committed meanwhile are accepted when they continue the chain, and nothing is locked.
    """
    await bind(session, [school_id])
    earlier = await chain_head(session, school_id) or (0, GENESIS)
    walk = ChainWalk(remember=earlier[0])
    async for entry in _entries(session, school_id):
        if walk.step(entry) is not None:
            break
    later = await chain_head(session, school_id) or (0, GENESIS)
    return SchoolVerdict(school_id, slug, walk.last_seq, walk.finish(later, earlier=earlier))


async def schools(session: AsyncSession, slug: str | None = None) -> list[tuple[uuid.UUID, str]]:
    """(id, slug) of every school, or of the one with ``slug``, by slug.

    Leaves the session as it found it: a transaction this read began is ended here, so the caller can
    begin one per school next (schools are a global table: no binding needed).
    """
    began = not session.in_transaction()
    stmt = select(School.id, School.slug).order_by(School.slug)
    if slug is not None:
        stmt = stmt.where(School.slug == slug)
    found = [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
    if began:
        await session.commit()
    return found


def sign_head(
    keys: SigningKeys, *, school_id: uuid.UUID, slug: str, seq: int, hash: bytes, at: datetime
) -> str:
    """A compact JWS (ES256, the platform's current key) over the school's chain head."""
    payload = json.dumps(
        {"school_id": str(school_id), "slug": slug, "seq": seq, "hash": hash.hex(), "at": at.isoformat()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return keys.sign_jws(payload, typ="audit-head+jws")

"""Verifying every school's chain, and signing the chain heads for anchoring outside the database."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import ChainFault, verify_chain
from audit.recorder import chain_head
from auth.tokens import SigningKeys
from models import AuditEntry, School
from tenants.context import bind
from tenants.scoping import scoped

BATCH = 5000


@dataclass(frozen=True)
class SchoolVerdict:
    school_id: uuid.UUID
    slug: str
    entries: int
    fault: ChainFault | None


async def _entries(session: AsyncSession, school_id: uuid.UUID) -> AsyncIterator[AuditEntry]:
    """The school's entries in seq order, streamed in batches (memory does not grow with the log)."""
    after = 0
    while True:
        batch = (
            (
                await session.execute(
                    scoped(AuditEntry, school_id)
                    .where(AuditEntry.seq > after)
                    .order_by(AuditEntry.seq)
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        for entry in batch:
            yield entry
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


async def verify_school(session: AsyncSession, school_id: uuid.UUID, slug: str) -> SchoolVerdict:
    """Verify one school's chain; the session's transaction is bound to that school."""
    await bind(session, [school_id])
    entries = [entry async for entry in _entries(session, school_id)]
    fault = verify_chain(entries, await chain_head(session, school_id))
    return SchoolVerdict(school_id, slug, len(entries), fault)


async def schools(session: AsyncSession, slug: str | None = None) -> list[tuple[uuid.UUID, str]]:
    stmt = select(School.id, School.slug).order_by(School.slug)
    if slug is not None:
        stmt = stmt.where(School.slug == slug)
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


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

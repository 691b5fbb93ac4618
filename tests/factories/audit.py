"""Reading and tampering with a school's audit log in tests.

Reads go through the runtime role (``engine``) bound to the school, as the application reads. Tampering
goes through the owner (``owner_engine``) with the append-only triggers (log and tree heads) disabled inside the owner's own
transaction, as an attacker holding the owner's rights would do it; the trigger is back on at commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from audit.sequencer import Sequenced, sequence_school
from audit.verify import Anchor, SchoolVerdict, verify_school
from auth.tokens import SigningKeys
from models import AuditEntry
from tenants.context import bind
from tenants.scoping import in_school
from tests.factories import clock


async def entries(engine: AsyncEngine, school_id: uuid.UUID, action: str | None = None) -> list[AuditEntry]:
    """The school's entries in ``seq`` order, pending ones last in insertion order (only those of
    ``action`` when given)."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school_id])
        stmt = (
            select(AuditEntry)
            .where(in_school(AuditEntry, school_id))
            .order_by(AuditEntry.seq.asc().nulls_last(), AuditEntry.id)  # type: ignore[union-attr]
        )
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return list((await session.execute(stmt)).scalars().all())


async def sequence(engine: AsyncEngine, school_id: uuid.UUID, keys: SigningKeys) -> Sequenced:
    """Run the school's sequencer once, as the server does after a commit (on the suite's clock)."""
    return await sequence_school(engine, school_id, keys, now=clock.now())


async def verify(
    engine: AsyncEngine,
    school_id: uuid.UUID,
    keys: SigningKeys | None = None,
    anchors: list[Anchor] | None = None,
) -> SchoolVerdict:
    async with AsyncSession(engine) as session, session.begin():
        return await verify_school(session, school_id, "test", keys=keys, anchors=anchors or ())


async def tamper(
    owner_engine: AsyncEngine, school_id: uuid.UUID, change: Callable[[AsyncConnection], Awaitable[Any]]
) -> None:
    """Run ``change`` as the owner with the append-only trigger disabled for the length of the change."""
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school_id)})
        await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await connection.execute(
            text("ALTER TABLE audit_tree_heads DISABLE TRIGGER audit_tree_heads_insert_only")
        )
        await change(connection)
        await connection.execute(
            text("ALTER TABLE audit_tree_heads ENABLE TRIGGER audit_tree_heads_insert_only")
        )
        await connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))

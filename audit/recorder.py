"""Recording activity: a request collects its events, and they are appended to the school's chain at once.

A request's :class:`AuditTrail` gathers events while it runs. The edge has it append them in the request's
own transaction just before commit (:meth:`AuditTrail.write`: entries of a write commit or roll back with
it); when the request fails and rolls back, :func:`record_failed_request` appends them in a fresh
transaction with outcome FAILED, so a refused or failed action is still recorded. Appending locks the
school's chain head row until the transaction ends (the edge appends just before it commits), so
concurrent writers queue instead of forking the chain.

What goes into a trail: the domain services emit their actions through ``common.events`` into the trail
attached to their session, and the GraphQL layer records the operation itself (``graph/audit.py``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, Update, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.chain import GENESIS, entry_hash
from common.events import Actor, Event
from models import AuditEntry, AuditHead
from tenants.context import bind
from tenants.scoping import in_school

log = logging.getLogger("schoolgraph.audit")

__all__ = ["Actor", "AuditTrail", "Event", "append", "chain_head", "record_failed_request"]


class AuditTrail:
    """One request's events, for one school's chain (a :class:`common.events.Trail`). Not thread-safe;
    one per request.

    ``school_id`` is the school whose chain the events go to; a subclass that writes elsewhere (the
    platform log) leaves it None and overrides :meth:`write` and :meth:`write_failed`.
    """

    def __init__(
        self,
        *,
        actor: Actor,
        request_id: str | None,
        client_address: str | None,
        school_id: uuid.UUID | None = None,
    ) -> None:
        self.actor, self.request_id, self.client_address = actor, request_id, client_address
        self.school_id = school_id
        self.events: list[Event] = []

    def record(
        self,
        action: str,
        outcome: str = "SUCCESS",
        *,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.events.append(Event(action, outcome, target_type, target_id, detail or {}, actor))

    def for_school(
        self,
        school_id: uuid.UUID,
        action: str,
        outcome: str = "SUCCESS",
        *,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
        chain: bool = True,
    ) -> None:
        """An event about this trail's own school (a school request acting on its school, say). A school
        trail writes only its school's chain, so another school here is a bug."""
        if school_id != self.school_id or not chain:
            raise ValueError("a school's trail records events about its own school's chain only")
        self.record(action, outcome, target_type=target_type, target_id=target_id, detail=detail)

    def failed(self) -> list[Event]:
        """The events as they stand after the request's transaction was rolled back."""
        return [replace(e, outcome="FAILED") if e.outcome == "SUCCESS" else e for e in self.events]

    async def write(self, session: AsyncSession, *, now: datetime) -> None:
        """Append the events in the request's own transaction (already bound to the school), last
        before it commits: the entries commit or roll back with the request's writes."""
        await self._append(session, self.events, now)

    async def write_failed(self, session: AsyncSession, *, now: datetime) -> None:
        """After the request's transaction rolled back: append the events with outcome FAILED, in
        ``session``'s fresh transaction (bound here, as nothing else in it is)."""
        assert self.school_id is not None, "a school trail names its school"
        await bind(session, [self.school_id])
        await self._append(session, self.failed(), now)

    async def _append(self, session: AsyncSession, events: Sequence[Event], now: datetime) -> None:
        assert self.school_id is not None, "a school trail names its school"
        # ``append`` is looked up in this module at call time: bench.audit replaces it with a no-op.
        await append(
            session,
            self.school_id,
            events,
            actor=self.actor,
            request_id=self.request_id,
            client_address=self.client_address,
            now=now,
        )


async def record_failed_request(engine: AsyncEngine, trail: AuditTrail, *, now: datetime) -> None:
    """A failed request's writes are gone, but that it was attempted is still recorded (LRS 5.1): its
    trail, with outcome FAILED, in a transaction of its own. Never raises: the request has already failed,
    and its response must not turn into a second failure; a write that fails is logged."""
    try:
        async with AsyncSession(engine) as session, session.begin():
            await trail.write_failed(session, now=now)
    except Exception:
        log.exception("could not record the audit trail of failed request %s", trail.request_id)


def _append_statement() -> Update:
    """Insert a request's entries and move the chain head, in one statement of one fixed shape.

    The entries travel as one array per column (``unnest`` zips them back into rows), so the statement
    is the same however many entries a request has and SQLAlchemy compiles it once, not per request.
    """
    entries: Table = AuditEntry.__table__  # type: ignore[attr-defined]
    heads: Table = AuditHead.__table__  # type: ignore[attr-defined]
    unnested = select(
        *(
            func.unnest(bindparam(f"entry_{c.name}", type_=ARRAY(c.type))).label(c.name)
            for c in entries.columns
        )
    )
    appended = insert(entries).from_select([c.name for c in entries.columns], unnested).cte("appended")
    return (
        update(heads)
        .where(in_school(AuditHead, bindparam("head_school_id", type_=heads.c.school_id.type)))
        .values(
            seq=bindparam("head_seq", type_=heads.c.seq.type),
            hash=bindparam("head_hash", type_=heads.c.hash.type),
        )
        .add_cte(appended)
    )


_APPEND = _append_statement()
_ENTRY_COLUMNS = tuple(AuditEntry.model_fields)


async def append(
    session: AsyncSession,
    school_id: uuid.UUID,
    events: Sequence[Event],
    *,
    actor: Actor,
    request_id: str | None,
    client_address: str | None,
    now: datetime,
) -> None:
    """Append ``events`` to the school's chain in the session's transaction (bound to the school).

    Two statements: lock the chain head (creating it at the school's first entry), then insert the entries
    and move the head in one (a data-modifying CTE). The lock is held until the transaction ends, so concurrent writers of one
    school queue here and each continues the chain from the head the previous one committed: a chain never
    forks. Call it last before the commit: the fewer steps between the lock and the commit, the shorter
    the queue (a step is an event-loop turn in which every other request may run first).
    """
    if not events:
        return
    if now.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    # Hashed as written and as read back: PostgreSQL returns timestamptz in UTC, to the microsecond.
    now = now.astimezone(UTC)
    seq, prev = await _lock_head(session, school_id)
    rows = []
    for event in events:
        who = event.actor or actor
        seq += 1
        row: dict[str, Any] = {
            "school_id": school_id,
            "seq": seq,
            "occurred_at": now,
            "actor_type": who.type,
            "actor_id": who.id,
            "role": who.role,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "outcome": event.outcome,
            "detail": event.detail,
            "request_id": request_id,
            "prev_hash": prev,
            # Outside the hash: the personal values an erasure may blank later.
            "actor_username": who.username,
            "client_address": client_address,
        }
        row["hash"] = prev = entry_hash(prev, SimpleNamespace(**row))
        rows.append(row)
    connection = await session.connection()
    await connection.execute(
        _APPEND,
        {
            **{f"entry_{name}": [row[name] for row in rows] for name in _ENTRY_COLUMNS},
            "head_school_id": school_id,
            "head_seq": seq,
            "head_hash": prev,
        },
    )


async def _lock_head(session: AsyncSession, school_id: uuid.UUID) -> tuple[int, bytes]:
    """Lock the school's chain head row and return it; create it (at seq 0) before the first entry.

    ``FOR UPDATE`` waits for a concurrent writer to commit and then reads the head it left, in read
    committed as in every other isolation level.
    """
    connection = await session.connection()  # Core: prebuilt, columns only (as the request prelude)
    row = (await connection.execute(_LOCK_HEAD, {"school_id": school_id})).one_or_none()
    if row is None:
        await session.execute(
            pg_insert(AuditHead).values(school_id=school_id, seq=0, hash=GENESIS).on_conflict_do_nothing()
        )
        row = (await connection.execute(_LOCK_HEAD, {"school_id": school_id})).one()
    return int(row[0]), bytes(row[1])


_LOCK_HEAD = (
    select(AuditHead.seq, AuditHead.hash)
    .where(in_school(AuditHead, bindparam("school_id", type_=PG_UUID(as_uuid=True))))
    .with_for_update()
)


async def chain_head(session: AsyncSession, school_id: uuid.UUID) -> tuple[int, bytes] | None:
    """The school's chain head (seq, hash) as committed now; None before its first entry."""
    row = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(in_school(AuditHead, school_id)))
    ).one_or_none()
    return None if row is None else (int(row[0]), bytes(row[1]))

"""Recording activity: a request collects its events, and they are appended to the school's chain at once.

A request's :class:`AuditTrail` gathers events while it runs. The edge appends them in the request's own
transaction just before commit (entries of a write commit or roll back with it); when the request fails
and rolls back, it appends them in a fresh transaction with outcome FAILED, so a refused or failed action
is still recorded. Appending locks the school's chain head row for the moment of the insert, so
concurrent writers queue instead of forking the chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import GENESIS, entry_hash
from models import AuditEntry, AuditHead
from tenants.scoping import scoped


@dataclass(frozen=True)
class Actor:
    type: str  # ACCOUNT | PARTNER | OPERATOR | ANONYMOUS | SYSTEM
    id: uuid.UUID | None = None
    username: str | None = None
    role: str | None = None

    @classmethod
    def anonymous(cls) -> Actor:
        return cls("ANONYMOUS")


@dataclass(frozen=True)
class Event:
    action: str
    outcome: str
    target_type: str | None = None
    target_id: uuid.UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
    """Overrides the request's actor (a login names the account it signed in, say)."""


class AuditTrail:
    """One request's events. Not thread-safe; one per request."""

    def __init__(self, *, actor: Actor, request_id: str, client_address: str | None) -> None:
        self.actor, self.request_id, self.client_address = actor, request_id, client_address
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

    def failed(self) -> list[Event]:
        """The events as they stand after the request's transaction was rolled back."""
        return [replace(e, outcome="FAILED") if e.outcome == "SUCCESS" else e for e in self.events]


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
    """Append ``events`` to the school's chain in the session's transaction (bound to the school)."""
    if not events:
        return
    # Make sure the head row exists, then lock it: the lock queues concurrent writers of this school.
    await session.execute(
        pg_insert(AuditHead).values(school_id=school_id, seq=0, hash=GENESIS).on_conflict_do_nothing()
    )
    head = (await session.execute(scoped(AuditHead, school_id).with_for_update())).scalar_one()
    seq, prev = head.seq, head.hash
    rows = []
    for event in events:
        who = event.actor or actor
        seq += 1
        entry = AuditEntry(
            school_id=school_id,
            seq=seq,
            occurred_at=now,
            actor_type=who.type,
            actor_id=who.id,
            role=who.role,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            outcome=event.outcome,
            detail=event.detail,
            request_id=request_id,
            prev_hash=prev,
            hash=b"",
            actor_username=who.username,
            client_address=client_address,
        )
        entry.hash = prev = entry_hash(prev, entry)
        rows.append({c: getattr(entry, c) for c in AuditEntry.model_fields})
    await session.execute(insert(AuditEntry), rows)
    head.seq, head.hash = seq, prev
    await session.flush()


async def chain_head(session: AsyncSession, school_id: uuid.UUID) -> tuple[int, bytes] | None:
    head = (await session.execute(scoped(AuditHead, school_id))).scalar_one_or_none()
    return None if head is None else (head.seq, head.hash)

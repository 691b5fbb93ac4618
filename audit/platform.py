"""Recording what operators, trust admins and the jobs runner do.

Every event goes to the platform audit log (``platform_audit``, global). An event about one school is also
inserted into that school's own log (``audit.recorder.append``), so the school's log shows what was
done to it, and by whom, from outside (an operator provisioning or suspending it, a trust admin creating
its admin, the jobs runner switching its trust).

Actors: an operator is ``OPERATOR``; a trust admin is recorded in a school's chain as an ``ACCOUNT`` whose
role is ``TRUST_ADMIN`` (the school chain's actor types are the audit capability's; the role and the id
tell a trust admin from a school account), and as ``TRUST_ADMIN`` in the platform log; the jobs runner is
``SYSTEM``; an integration partner at the OAuth endpoints is ``PARTNER``; the holder of a terminated
school's handover credential (``subscriptions.handover``) is ``HANDOVER``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from audit.recorder import Actor, AuditTrail, Event, Mark, append, fold_operation
from common.events import operator_actor, trust_admin_actor
from models.platform import PlatformAuditEntry
from tenants.context import bound

JOBS = Actor("SYSTEM", None, "jobs", "JOBS")

__all__ = ["JOBS", "PlatformTrail", "operator_actor", "trust_admin_actor", "write"]


def _platform_actor_type(actor: Actor) -> str:
    if actor.role == "TRUST_ADMIN":
        return "TRUST_ADMIN"
    return (
        actor.type if actor.type in ("OPERATOR", "ANONYMOUS", "SYSTEM", "PARTNER", "HANDOVER") else "SYSTEM"
    )


class PlatformTrail(AuditTrail):
    """The events of one trust or platform request (or one job item), some of them about a school."""

    def __init__(
        self, *, actor: Actor, request_id: str, client_address: str | None, trust_id: uuid.UUID | None = None
    ) -> None:
        super().__init__(actor=actor, request_id=request_id, client_address=client_address)
        self.trust_id = trust_id
        self.school_events: list[tuple[uuid.UUID, Event]] = []
        self.unchained: list[tuple[uuid.UUID, Event]] = []

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
        """An event about ``school_id``: kept in the platform log and appended to that school's chain.

        ``chain=False`` keeps it in the platform log only: for the destruction of the school's data, which
        destroys its chain too.
        """
        event = Event(action, outcome, target_type, target_id, detail or {}, None)
        (self.school_events if chain else self.unchained).append((school_id, event))

    def mark(self) -> Mark:
        return Mark(len(self.events), len(self.school_events), len(self.unchained))

    def rewind(self, mark: Mark) -> None:
        """Forget the events recorded since ``mark`` (their work was rolled back, to be run again)."""
        del self.events[mark.events :]
        del self.school_events[mark.school_events :]
        del self.unchained[mark.unchained :]

    def record_operation(
        self,
        since: Mark,
        action: str,
        outcome: str,
        *,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """As :meth:`AuditTrail.record_operation`; the service's event may be one about a school (then the
        school's chain and the platform log both hold the one entry, carrying the operation)."""
        if len(self.events) > since.events:
            super().record_operation(
                since, action, outcome, target_type=target_type, target_id=target_id, detail=detail
            )
            return
        operation = Event(action, outcome, target_type, target_id, detail or {}, None)
        for emitted, at in ((self.school_events, since.school_events), (self.unchained, since.unchained)):
            if len(emitted) > at:
                school, event = emitted[at]
                emitted[at] = (school, fold_operation(event, operation))
                return
        self.events.append(operation)

    def schools(self) -> set[uuid.UUID]:
        return {school for school, _ in self.school_events}

    def failed(self) -> list[Event]:
        self.school_events = [
            (school, replace(e, outcome="FAILED") if e.outcome == "SUCCESS" else e)
            for school, e in self.school_events
        ]
        return super().failed()

    async def write(self, session: AsyncSession, *, now: datetime) -> None:
        """The request's events, in its own transaction, last before it commits."""
        await write(session, self, now=now)

    async def commit(
        self, session: AsyncSession, transaction: AsyncSessionTransaction, *, now: datetime
    ) -> None:
        """The request's events written in its transaction (:meth:`write`), then the commit."""
        await self.write(session, now=now)
        await transaction.commit()

    async def write_failed(self, session: AsyncSession, *, now: datetime) -> None:
        """After the request's transaction rolled back: its events with outcome FAILED, in ``session``'s
        fresh transaction (each school's chain is written bound to that school)."""
        await write(session, self, now=now, events=self.failed())


async def write(
    session: AsyncSession, trail: PlatformTrail, *, now: datetime, events: list[Event] | None = None
) -> None:
    """Write the trail in the session's transaction: the platform log, then each school's chain."""
    general = trail.events if events is None else events
    rows: list[dict[str, Any]] = []

    def row(event: Event, tenant_id: uuid.UUID | None) -> dict[str, Any]:
        who = event.actor or trail.actor
        return {
            "occurred_at": now,
            "actor_type": _platform_actor_type(who),
            "actor_id": who.id,
            "actor_username": who.username,
            "action": event.action,
            "outcome": event.outcome,
            "trust_id": trail.trust_id,
            "tenant_id": tenant_id,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "detail": event.detail,
            "request_id": trail.request_id,
            "client_address": trail.client_address,
        }

    rows += [row(e, None) for e in general]
    rows += [row(e, school) for school, e in [*trail.school_events, *trail.unchained]]
    if rows:
        await session.execute(insert(PlatformAuditEntry), rows)
    by_school: dict[uuid.UUID, list[Event]] = defaultdict(list)
    for school, event in trail.school_events:
        by_school[school].append(event)
    for school, school_events in by_school.items():
        async with bound(session, [school]):
            await append(
                session,
                school,
                school_events,
                actor=trail.actor,
                request_id=trail.request_id,
                client_address=trail.client_address,
                now=now,
            )

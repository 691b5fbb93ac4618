"""Audit events and the one sink the domain services emit them through.

A service that performs an auditable action (a roster import, an extended-data opt-in, a sign-in, an
activation code issued) says so with :func:`emit`, once, where the action is done; whoever called it (a
GraphQL resolver, a command) does not build the event again. The event goes to the :class:`Trail`
attached to the session for its transaction (:func:`attach`): the HTTP edge attaches the request's trail,
each command and job attaches its own, and ``audit/`` implements the trails and writes them (to the
school's hash chain, the platform log) when the transaction commits, or with outcome FAILED after it
rolled back.

An action with no trail to record it is a bug, not a quiet loss: :func:`emit` raises
:class:`MissingTrail`. This module sits below every domain (it imports nothing of ours) so that any of
them, ``auth`` included, can emit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Actor:
    """Who did it, as the audit log names them."""

    type: str  # ACCOUNT | PARTNER | OPERATOR | ANONYMOUS | SYSTEM
    id: uuid.UUID | None = None
    username: str | None = None
    role: str | None = None

    @classmethod
    def anonymous(cls) -> Actor:
        return cls("ANONYMOUS")


def operator_actor(account_id: uuid.UUID, username: str) -> Actor:
    """A platform operator, as every audit log names them."""
    return Actor("OPERATOR", account_id, username, "OPERATOR")


def trust_admin_actor(account_id: uuid.UUID, username: str) -> Actor:
    """A trust admin: in a school's chain an ``ACCOUNT`` whose role is ``TRUST_ADMIN`` (the chain's actor
    types are the school's), in the platform log ``TRUST_ADMIN`` (``audit.platform``)."""
    return Actor("ACCOUNT", account_id, username, "TRUST_ADMIN")


@dataclass(frozen=True)
class Event:
    """One thing that happened: the action, how it ended, what it concerned."""

    action: str
    outcome: str
    target_type: str | None = None
    target_id: uuid.UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
    """Overrides the trail's actor (a sign-in names the account it signed in, say)."""


class Trail(Protocol):
    """Where a transaction's events are collected until they are written (``audit.recorder.AuditTrail``)."""

    def record(
        self,
        action: str,
        outcome: str = "SUCCESS",
        *,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> None: ...

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
        """An event about one school, done from outside it (an operator, a trust admin, the jobs runner):
        it goes to that school's chain as well as to the trail's own log; ``chain=False`` keeps it out of
        the school's chain (when the action destroys that chain)."""
        ...

    def mark(self) -> Any:
        """Where the trail stands now (what :meth:`rewind` returns it to)."""
        ...

    def rewind(self, mark: Any) -> None:
        """Forget what was recorded since ``mark``: work rolled back to a savepoint taken there, to be run
        again (graph.core.mutations.attempt)."""
        ...


class MissingTrail(RuntimeError):
    """An event was emitted on a session with no audit trail attached."""


_KEY = "schoolgraph.audit_trail"


def attach(session: AsyncSession, trail: Trail) -> None:
    """Make ``trail`` the one that records what is emitted on ``session`` (for its lifetime: a request,
    a command, a job item). Attaching a second trail to a session is a bug and raises ``ValueError``."""
    attached = session.info.get(_KEY)
    if attached is not None and attached is not trail:
        raise ValueError("the session already has an audit trail attached")
    session.info[_KEY] = trail


def trail_of(session: AsyncSession) -> Trail:
    """The trail attached to ``session``; :class:`MissingTrail` if there is none."""
    trail: Trail | None = session.info.get(_KEY)
    if trail is None:
        raise MissingTrail("an auditable action ran on a session with no audit trail attached")
    return trail


async def emit(
    session: AsyncSession,
    action: str,
    outcome: str = "SUCCESS",
    *,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> None:
    """Record that ``action`` was done, in the trail attached to ``session``.

    Call it when the action is complete. The session is flushed first, so the action's writes have been
    accepted by the database (a constraint it violates fails here, before the event exists, and a caller
    that rolls back to a savepoint on that error records nothing). Raises :class:`MissingTrail` when the
    session has no trail.
    """
    trail = trail_of(session)
    await session.flush()
    trail.record(action, outcome, target_type=target_type, target_id=target_id, detail=detail, actor=actor)


async def emit_for_school(
    session: AsyncSession,
    school_id: uuid.UUID,
    action: str,
    outcome: str = "SUCCESS",
    *,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    chain: bool = True,
) -> None:
    """:func:`emit` for an action done to ``school_id`` by whoever the trail names (an operator, a trust
    admin, the jobs runner, or the school's own user): recorded in the school's chain, and in the platform
    log when the trail is a platform one. Raises :class:`MissingTrail` when the session has no trail."""
    trail = trail_of(session)
    await session.flush()
    trail.for_school(
        school_id, action, outcome, target_type=target_type, target_id=target_id, detail=detail, chain=chain
    )

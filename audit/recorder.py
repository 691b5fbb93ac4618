"""Recording activity: a request collects its events and inserts them into the school's log at once.

A request's :class:`AuditTrail` gathers events while it runs. The edge has it insert them in the request's
own transaction as it commits (:meth:`AuditTrail.commit`: entries of a write commit or roll back with it;
on plain PostgreSQL the insert travels in the COMMIT's message); when the request fails and rolls back, :func:`record_failed_request` inserts them in a fresh
transaction with outcome FAILED, so a refused or failed action is still recorded. Inserting takes no lock
and reads nothing: the entries are pending until the school's sequencer (:mod:`audit.sequencer`) numbers
them, chains them and adds them to the school's Merkle tree, after they committed.

What goes into a trail: the domain services emit their actions through ``common.events`` into the trail
attached to their session, and the GraphQL layer records the operation itself (``graph/audit.py``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction

from audit.queries import BULK_PUPIL_READ
from common.commit import commit_with, dollar_quoted
from common.driver import session_connection
from common.events import Actor, Event
from common.faults import database_unavailable
from common.prepared import Prepared
from models import AuditEntry, AuditHead
from tenants.context import bind, on_citus
from tenants.scoping import in_school

if TYPE_CHECKING:
    from audit.spool import AuditSpool

log = logging.getLogger("schoolgraph.audit")

__all__ = [
    "Actor",
    "AuditTrail",
    "Event",
    "Mark",
    "append",
    "append_and_commit",
    "chain_head",
    "fold_operation",
    "record_failed_request",
]


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
        self.pupils_read: dict[uuid.UUID, None] = {}
        """Pupils whose personal data the request returned, in order (one ``read.pupils`` event)."""
        self.read_views: set[str] = set()

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

    def mark(self) -> Mark:
        """Where the trail stands now: :meth:`record_operation` folds into what was emitted after it."""
        return Mark(len(self.events))

    def rewind(self, mark: Mark) -> None:
        """Forget the events recorded since ``mark`` (their work was rolled back, to be run again)."""
        del self.events[mark.events :]

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
        """Record an operation (a GraphQL mutation, ``action`` ``mutation.<name>``) once: when the service
        it ran emitted its own event since ``since`` (``roster.import``, ``auth.login``), that event is the
        action's one entry and carries the operation too (:func:`fold_operation`); otherwise the operation
        is recorded as ``action``."""
        operation = Event(action, outcome, target_type, target_id, detail or {}, None)
        if len(self.events) > since.events:
            self.events[since.events] = fold_operation(self.events[since.events], operation)
        else:
            self.events.append(operation)

    def read_pupils(self, view: str, pupil_ids: Iterable[uuid.UUID]) -> None:
        """Personal data of these pupils was returned by ``view`` (a field: ``pupils``, ``classProgress``,
        ``Group.pupils``, ...). However many fields and objects read pupils, the request records one
        ``read.pupils`` event naming every pupil and the views (LRS 5.1, the pupil access report)."""
        ids = list(pupil_ids)
        if ids:
            self.pupils_read.update(dict.fromkeys(ids))
            self.read_views.add(view)

    def all_events(self) -> list[Event]:
        """The recorded events and, when pupils were read, the one read event naming them."""
        if not self.pupils_read:
            return self.events
        detail = {"pupil_ids": [str(p) for p in self.pupils_read], "views": sorted(self.read_views)}
        return [*self.events, Event(BULK_PUPIL_READ, "SUCCESS", None, None, detail, None)]

    def failed(self) -> list[Event]:
        """The events as they stand after the request's transaction was rolled back."""
        return [replace(e, outcome="FAILED") if e.outcome == "SUCCESS" else e for e in self.all_events()]

    def schools(self) -> set[uuid.UUID]:
        """The schools whose logs this trail writes (their sequencers are woken after the commit)."""
        return {self.school_id} if self.school_id is not None and (self.events or self.pupils_read) else set()

    async def write(self, session: AsyncSession, *, now: datetime) -> None:
        """Insert the events in the session's transaction (already bound to the school), last before its
        owner commits it: the entries commit or roll back with its writes (a job's item, the demo; a
        request commits with :meth:`commit`)."""
        await self._append(session, self.all_events(), now)

    async def commit(
        self, session: AsyncSession, transaction: AsyncSessionTransaction, *, now: datetime
    ) -> None:
        """Insert the events in the request's own transaction (already bound to the school) and commit it:
        the entries commit with the request's writes, in the same round trip on plain PostgreSQL
        (:func:`append_and_commit`). The caller closes the session next (:func:`common.commit.commit_with`).
        Raises what the INSERT or the COMMIT raised, the transaction then the caller's to roll back."""
        assert self.school_id is not None, "a school trail names its school"
        # Looked up in this module at call time, as ``append`` is: bench.audit replaces both.
        await append_and_commit(
            session,
            transaction,
            self.school_id,
            self.all_events(),
            actor=self.actor,
            request_id=self.request_id,
            client_address=self.client_address,
            now=now,
        )

    async def write_failed(self, session: AsyncSession, *, now: datetime) -> None:
        """After the request's transaction rolled back: insert the events with outcome FAILED, in
        ``session``'s fresh transaction (bound here, as nothing else in it is)."""
        await self.write_events(session, self.failed(), now=now)

    async def write_events(self, session: AsyncSession, events: Sequence[Event], *, now: datetime) -> None:
        """Insert ``events`` (a failed request's, say, replayed from the audit spool) in ``session``'s
        fresh transaction, bound here to the school."""
        assert self.school_id is not None, "a school trail names its school"
        await bind(session, [self.school_id])
        await self._append(session, events, now)

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


@dataclass(frozen=True)
class Mark:
    """A position in a trail (:meth:`AuditTrail.mark`): how many events each of its lists held."""

    events: int
    school_events: int = 0
    unchained: int = 0


_SEVERITY = {"SUCCESS": 0, "DENIED": 1, "REJECTED": 2, "FAILED": 3}


def fold_operation(event: Event, operation: Event) -> Event:
    """One entry for one action: the service's ``event`` carrying its ``operation`` as well.

    The action, actor and target stay the service's (an import is ``roster.import`` whether a command or
    a mutation ran it); ``detail.mutation`` names the operation (``mutation.importRoster`` -> ``importRoster``),
    ``detail.codes`` keeps the error codes its payload returned, and ``detail.result`` the object it
    returned when that is not the event's target. The outcome is the worse of the two (a service success
    the operation then refused is REJECTED; an operation that raised is FAILED)."""
    detail = {**event.detail, "mutation": operation.action.removeprefix("mutation.")}
    if "codes" in operation.detail:
        detail["codes"] = operation.detail["codes"]
    target_type, target_id = event.target_type, event.target_id
    if operation.target_id is not None and operation.target_id != target_id:
        if target_id is None:
            target_type, target_id = operation.target_type, operation.target_id
        else:
            detail["result"] = {"type": operation.target_type, "id": str(operation.target_id)}
    outcome = max(event.outcome, operation.outcome, key=lambda o: _SEVERITY.get(o, 0))
    return replace(event, outcome=outcome, target_type=target_type, target_id=target_id, detail=detail)


async def record_failed_request(
    engine: AsyncEngine, trail: AuditTrail, *, now: datetime, spool: AuditSpool | None = None
) -> None:
    """A failed request's writes are gone, but that it was attempted is still recorded (LRS 5.1): its
    trail, with outcome FAILED, in a transaction of its own. When that transaction cannot reach the
    database (often the very fault that failed the request), the events go to ``spool``, durably, and the
    sequencer replays them into the log once the database answers (:mod:`audit.spool`). Never raises: the
    request has already failed, and its response must not turn into a second failure; a write that fails
    otherwise is logged."""
    try:
        async with AsyncSession(engine) as session, session.begin():
            await trail.write_failed(session, now=now)
        return
    except Exception as error:
        if spool is None or not database_unavailable(error):
            log.exception("could not record the audit trail of failed request %s", trail.request_id)
            return
    try:
        spooled = await spool.add(trail, now=now)
    except Exception:
        log.exception("could not spool the audit trail of failed request %s", trail.request_id)
        return
    if spooled is not None:
        log.warning(
            "the database is unavailable: the audit trail of failed request %s is spooled (%s)",
            trail.request_id,
            spooled,
        )


_ENTRIES: Table = AuditEntry.__table__  # type: ignore[attr-defined]
_ROWS_PER_STATEMENT = 2000


def _insert_statement(rows: list[dict[str, Any]]) -> Insert:
    """On Citus: insert a request's entries, pending, in one statement: a multi-row ``INSERT ... VALUES``.

    Not ``INSERT ... SELECT unnest(...)`` (:func:`_unnest_statement`, plain PostgreSQL's one fixed shape
    for any number of entries), because on Citus an INSERT ... SELECT into a distributed table is executed as a COPY into the shard, which row-level
    security refuses ("COPY FROM not supported with row-level security"); a VALUES list is routed to the
    school's shard as a plain INSERT. Still one statement and one round trip; SQLAlchemy caches the
    compiled form per number of rows (a request records a handful of entries, so few shapes exist).
    """
    return insert(_ENTRIES).values(rows)


def _unnest_statement() -> Insert:
    """On plain PostgreSQL: the entries travel as one array per column (``unnest`` zips them back into
    rows), so the statement is the same however many entries a request has, compiled once per process
    (:class:`common.prepared.Prepared`)."""
    columns = [_ENTRIES.c[name] for name in _INSERTED]
    unnested = select(
        *(func.unnest(bindparam(f"entry_{c.name}", type_=ARRAY(c.type))).label(c.name) for c in columns)
    )
    return insert(_ENTRIES).from_select([c.name for c in columns], unnested)


_INSERTED = tuple(name for name in AuditEntry.model_fields if name not in ("id", "seq", "prev_hash", "hash"))
_INSERT = Prepared(_unnest_statement())


def _rows(
    school_id: uuid.UUID,
    events: Sequence[Event],
    *,
    actor: Actor,
    request_id: str | None,
    client_address: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The log's rows for ``events``: one per event, pending (no ``seq``, chain hash or leaf yet)."""
    if now.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    # Hashed as read back: PostgreSQL returns timestamptz in UTC, to the microsecond.
    now = now.astimezone(UTC)
    rows = []
    for event in events:
        who = event.actor or actor
        rows.append(
            {
                "school_id": school_id,
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
                # Outside the hash: the personal values an erasure may blank later.
                "actor_username": who.username,
                "client_address": client_address,
            }
        )
    return rows


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
    """Insert ``events`` into the school's log, pending, in the session's transaction (bound to the school).

    One INSERT and nothing else: no lock, no read of a head, so writers of one school never wait for each
    other here. The entries commit or roll back with the transaction; the school's sequencer
    (:mod:`audit.sequencer`) gives them their ``seq``, chain hash and Merkle leaf after they committed.
    """
    if not events:
        return
    rows = _rows(
        school_id, events, actor=actor, request_id=request_id, client_address=client_address, now=now
    )
    connection = await session.connection()  # Core: prebuilt, one shape
    if not on_citus(connection):
        await _INSERT.execute(
            connection, {f"entry_{name}": [row[name] for row in rows] for name in _INSERTED}
        )
        return
    # On Citus, VALUES: one statement for any request's entries; only a batch past the driver's 32,767
    # bound parameters (13 per entry) is split.
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        await connection.execute(_insert_statement(rows[start : start + _ROWS_PER_STATEMENT]))


def _appending(rows: list[dict[str, Any]]) -> str:
    """The statement that inserts the rows, its values written into its text, for
    :func:`common.commit.commit_with`: a call of ``app_audit_append`` (migration 0027: its INSERT planned
    once per connection) with the rows as one JSON constant (:func:`common.commit.dollar_quoted`: nothing
    in it can end it). The ids and the time are written as PostgreSQL reads them; ``detail`` is encoded by
    the standard library's JSON encoder, as :func:`append` binds it, so what one refuses the other refuses
    too."""
    payload = json.dumps([{**row, **_as_text(row)} for row in rows], separators=(",", ":"))
    return f"SELECT app_audit_append({dollar_quoted(payload)}::jsonb)"


def _as_text(row: dict[str, Any]) -> dict[str, str | None]:
    """A row's values JSON has no type for, as text: its ids and its time (timezone-aware, in UTC)."""
    return {
        "school_id": str(row["school_id"]),
        "actor_id": None if row["actor_id"] is None else str(row["actor_id"]),
        "target_id": None if row["target_id"] is None else str(row["target_id"]),
        "occurred_at": row["occurred_at"].isoformat(),
    }


async def append_and_commit(
    session: AsyncSession,
    transaction: AsyncSessionTransaction,
    school_id: uuid.UUID,
    events: Sequence[Event],
    *,
    actor: Actor,
    request_id: str | None,
    client_address: str | None,
    now: datetime,
) -> None:
    """Insert ``events`` as :func:`append` does, then commit ``transaction`` (the session's): on plain
    PostgreSQL the insert (a call of ``app_audit_append``) travels with the COMMIT, one round trip
    (:func:`common.commit.commit_with`); on Citus, whose INSERT ... SELECT into a distributed table would
    run as a COPY that row-level security refuses, the INSERT and then the COMMIT."""
    connection = await session_connection(session)
    if not events:
        await commit_with(session, transaction, None, connection)
        return
    if on_citus(connection):
        await append(
            session,
            school_id,
            events,
            actor=actor,
            request_id=request_id,
            client_address=client_address,
            now=now,
        )
        await transaction.commit()
        return
    rows = _rows(
        school_id, events, actor=actor, request_id=request_id, client_address=client_address, now=now
    )
    await commit_with(session, transaction, _appending(rows), connection)


async def chain_head(session: AsyncSession, school_id: uuid.UUID) -> tuple[int, bytes] | None:
    """The school's chain head (seq, hash) as committed now; None before its first entry."""
    row = (
        await session.execute(select(AuditHead.seq, AuditHead.hash).where(in_school(AuditHead, school_id)))
    ).one_or_none()
    return None if row is None else (int(row[0]), bytes(row[1]))

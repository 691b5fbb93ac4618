"""A GraphQL query's audit entries, committed together with those of the other queries of the moment.

A query writes nothing but its audit entries (a class view read by a teacher: one ``read.pupils`` entry
naming thirty pupils), yet each used to insert them in a write transaction of its own: about 90 us of the
backend's CPU per entry went to the transaction itself (its id, its commit record, the WAL flush) beside
about 110 us for the insert (ADR 6, "Queries' entries committed together"). Here the queries of the same
moment share one: **group commit**, as PostgreSQL's own WAL writer does for commits.

How a query's request goes (``server.transaction``, the school endpoint on plain PostgreSQL):

1. Its transaction is **read-only**: once the school and caller are read (``app_enter_school``, which ran
   alone), the transaction it begins next begins with ``SET TRANSACTION READ ONLY`` in BEGIN's message
   (:func:`common.driver.read_only_next`), so nothing the operation runs can write: a resolver that tried
   would fail the request, never commit a write ahead of its entry. A request whose transaction began
   before its operation ran (a partner's counts against its rate limit in it), or whose first statement
   ran inside it (an observed engine: tracing, the tests' statement counts), commits its own entries.
2. :meth:`ReadEntries.commit` ends that transaction and writes the entries with **one statement**,
   ``app_audit_append(entries, schools)`` (migration 0034), which binds its own transaction to the
   entries' schools and inserts them, and is sent where it is a transaction of its own:

   * when no batch is being written, in the request's own message, after its COMMIT
     (:func:`common.commit.commit_then`): one round trip, as a mutation's commit is;
   * otherwise the request commits (or sends nothing, when it sent no statement after its first), gives
     its connection back and waits: every request that arrives while a batch is being written joins the
     next, which the writer task sends on a connection of its own, as soon as the one before is done.
     Nothing waits for a batch to fill.
3. Only once its entries have committed does the request answer (LRS 5.1: a read is recorded before the
   data leaves). If writing them fails, the request fails as a failed commit does: a fault of the
   connection is retried once by the request (it is a query), then 503; a batch refused for any other
   reason is written again one request at a time, so that one request's bad entry fails that request only.

A request cancelled while it waits (its client went away) leaves its entries in the batch: they are written
all the same, which records a read whose answer may never have arrived, never the reverse.

Not on Citus (each school's entries are routed to its own shard; a batch of several schools would be a
distributed transaction per batch, not measured): there, and before the engine's first connection has said
which it is, a query commits its own entries as a mutation does (:meth:`ReadEntries.applies`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, AsyncSessionTransaction

from audit.recorder import AuditTrail, appending
from common.commit import commit_then, commit_with
from common.driver import run_alone
from common.faults import database_unavailable
from tenants.context import CITUS_FLAG


@dataclass
class _Waiting:
    """One request's entries and the future it waits on."""

    rows: list[dict[str, Any]]
    written: asyncio.Future[None]
    schools: set[uuid.UUID] = field(default_factory=set)


class ReadEntries:
    """The group commit of queries' audit entries for one engine (one per server process)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self._own = False
        """Whether a request's own message is writing its entries (a batch of one)."""
        self.batches = 0
        """Batches written (each one statement and one commit), for /metrics."""
        self.entries = 0
        """Entries written in them."""

    def applies(self) -> bool:
        """Whether queries' entries are committed together on this engine: plain PostgreSQL, known to be
        so once the engine has connected (``server.database``: the first connection notes Citus)."""
        return getattr(self.engine.dialect, CITUS_FLAG, None) is False

    async def commit(
        self, trail: AuditTrail, session: AsyncSession, transaction: AsyncSessionTransaction, now: datetime
    ) -> None:
        """End a query's read-only ``transaction`` (the session's) and write ``trail``'s entries; return
        once they are committed, raise what ending or writing raised. When no batch is being written,
        the request's own message carries its entries, after its COMMIT (one round trip, as a mutation's
        commit); otherwise it commits, gives its connection back and waits for the next batch."""
        rows = trail.rows(now)
        if not rows:
            await commit_with(session, transaction, None)
            return
        if not self._in_flight():
            self._own = True
            try:
                await commit_then(session, transaction, appending(rows, bound_to=trail.schools()))
            finally:
                self._own = False
                self._start_writer()
            self.batches += 1
            self.entries += len(rows)
            return
        await commit_with(session, transaction, None)
        await session.close()  # its connection back to the pool before it waits
        await self.write(trail, now, rows)

    async def write(self, trail: AuditTrail, now: datetime, rows: list[dict[str, Any]] | None = None) -> None:
        """Write ``trail``'s entries (``rows``, when made already) in the next batch and return once that
        batch has committed; raise what writing them raised. The trail's request has ended its own
        read-only transaction."""
        rows = trail.rows(now) if rows is None else rows
        if not rows:
            return
        waiting = _Waiting(rows, asyncio.get_running_loop().create_future(), trail.schools())
        self._waiting.append(waiting)
        self._start_writer()
        await waiting.written

    def _in_flight(self) -> bool:
        """Whether a batch is being written (by a request's own message, or by the writer)."""
        writer = self._writer
        return self._own or (
            writer is not None and not writer.done() and writer.get_loop() is asyncio.get_running_loop()
        )

    def _start_writer(self) -> None:
        """Start the writer for the requests waiting, unless a batch is being written (whoever writes it
        starts the writer, if needed, when it is done: the next batch forms meanwhile)."""
        if self._waiting and not self._in_flight():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        """Write batches until no request is waiting: each batch is every request that arrived while the
        one before it was being written. One connection from the pool serves them all while batches keep
        coming (a fresh one after a connection fault), and goes back when none is waiting."""
        while self._waiting:
            try:
                async with self.engine.connect() as connection:
                    while self._waiting:
                        batch, self._waiting = self._waiting, []
                        if not await self._write_batch(connection, batch):
                            break  # the connection failed: the next batch takes a fresh one
            except BaseException as error:
                # The connection could not be had (its batch is answered below), or the loop is closing
                # (cancelled): no request is left waiting.
                waiting, self._waiting = self._waiting, []
                _settle(waiting, error)
                if not isinstance(error, Exception):
                    raise

    async def _write_batch(self, connection: AsyncConnection, batch: list[_Waiting]) -> bool:
        """Write the batch and answer its requests; whether the connection is still usable."""
        try:
            await self._append(connection, [row for waiting in batch for row in waiting.rows], batch)
        except Exception as error:
            if database_unavailable(error):
                _settle(batch, error)
                return False
            if len(batch) > 1:
                # One request's entry refused (a value the log's constraints refuse): each request's entries
                # again on their own, so that only that request fails.
                for waiting in batch:
                    if not await self._write_batch(connection, [waiting]):
                        _settle(batch, error)
                        return False
                return True
            _settle(batch, error)
            return True
        except BaseException as error:  # cancelled mid-batch
            _settle(batch, error)
            raise
        self.batches += 1
        self.entries += sum(len(waiting.rows) for waiting in batch)
        _settle(batch, None)
        return True

    async def _append(
        self, connection: AsyncConnection, rows: list[dict[str, Any]], batch: list[_Waiting]
    ) -> None:
        """One statement, its own transaction: bound to the batch's schools, the rows inserted, committed."""
        schools = sorted({school for waiting in batch for school in waiting.schools}, key=str)
        await run_alone(connection, appending(rows, bound_to=schools))


def _settle(batch: list[_Waiting], error: BaseException | None) -> None:
    """Answer each request still waiting: written, or the error."""
    for waiting in batch:
        if waiting.written.done():  # its request was cancelled while it waited
            continue
        if isinstance(error, asyncio.CancelledError):
            waiting.written.cancel()
        elif error is None:
            waiting.written.set_result(None)
        else:
            waiting.written.set_exception(error)

"""Committing a transaction together with its last statement: one round trip to the server instead of two.

Every request that records activity ends with two messages to PostgreSQL: the INSERT of its audit entries,
then COMMIT, each waiting for its answer (asyncpg sends one statement at a time, and the extended
protocol that carries parameters takes one statement per message). On the request path each round trip
costs the server process about as much CPU as a whole statement's work (``bench/audit.py``; ADR 6).
PostgreSQL's simple query protocol takes several statements in one message and runs them in order,
stopping at the first error: :func:`commit_with` sends ``<statement>;COMMIT`` that way, so the statement
and the commit travel and are answered together. The statement carries its values in its own text (the
simple protocol has no parameters), so it must be built by code that quotes them safely
(:func:`dollar_quoted`).

A request that records nothing (most reads) has no statement to send with it: its COMMIT alone goes the
same way, by the driver; and when nothing at all was sent after the request's first statement, which ran
in a transaction of its own (:func:`common.driver.fetch_first_row`), there is nothing to commit and nothing
is sent, while a statement goes with BEGIN and the school's binding: ``BEGIN;<binding>;<statement>;COMMIT``,
one message. Once the driver has committed, SQLAlchemy's own commit would only end its bookkeeping, in a
greenlet of its own (with the body's deadline, 5% of a ``{ viewer }``'s instructions, ADR 13): it is not
run, and the session's close, which follows at every door, ends its transaction without a message (the
adapter has none left).

What stays as it was: a failure of the statement or of the commit leaves the transaction to be rolled
back by its owner, as a failed COMMIT would. Where the driver's transaction is not the plain top-level one
this relies on (a savepoint, another driver), or anything observes the engine's statements (tracing, the
test suite's statement counts and fault injection: :func:`common.driver.observed`), the statement goes
through SQLAlchemy and the commit follows it: two round trips, each statement seen whole by its observers.
(Until 2026-12-03 the statement was announced to ``before_cursor_execute`` listeners without the engine's
execution context, which OpenTelemetry's SQLAlchemy instrumentation cannot take: with tracing on, every
request that recorded audit entries failed. tests/test_observability.py now signs in under tracing.)
"""

from __future__ import annotations

from typing import Any

from asyncpg.transaction import Transaction, TransactionState
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, AsyncSessionTransaction

from common.driver import adapter, begin, nothing_begun, observed, session_connection

_QUOTE = "$v$"
_DOLLAR_ESCAPED = "\\u0024"


def dollar_quoted(json_text: str) -> str:
    """``json_text`` (JSON) as an SQL string constant that nothing in it can end: dollar-quoted, with every
    ``$`` in it (which JSON allows only inside strings) written as the JSON escape ``\\u0024``, which
    PostgreSQL's JSON parser reads back as ``$``."""
    return f"{_QUOTE}{json_text.replace('$', _DOLLAR_ESCAPED)}{_QUOTE}"


async def commit_with(
    session: AsyncSession,
    transaction: AsyncSessionTransaction,
    statement: str | None,
    connection: AsyncConnection | None = None,
) -> None:
    """Run ``statement`` (complete, its values in its text) and commit ``transaction``, the session's
    transaction, in one message (see the module); with no statement, the COMMIT alone, sent by the driver
    as asyncpg's own commit sends it; when nothing at all was sent after the request's first statement,
    nothing. Where the driver committed (or nothing was open on the server), SQLAlchemy's commit, which
    would only end its own bookkeeping, in a greenlet of its own (ADR 13, eighth pass), is not run:
    ``transaction``, holding nothing on the server any more, ends with the session, which its owner closes
    next (the request path's doors; a statement sent meanwhile would begin a transaction of
    its own, unbound). ``connection``: the session's, when the caller holds it already. Raises what the
    statement or the commit raised; the transaction is then the caller's to roll back."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    if connection is None:
        connection = await session_connection(session)
    adapted = None if observed(connection) else adapter(connection)
    if adapted is not None and nothing_begun(adapted):
        # Nothing was sent since the request's first statement, which ran in a transaction of its own
        # (common.driver.fetch_first_row): nothing to commit but the statement, sent with BEGIN and the
        # binding it needs, all in one message.
        binding = getattr(adapted, "begin_with", None)
        if statement is None:
            # No transaction is open on the server: nothing to send. The session's close gives the
            # connection back (the pool's reset drops the binding kept, as a commit would).
            return
        if binding is not None:
            adapted.begin_with = None
            _committed(adapted, await begin(adapted, f"{binding};{statement};COMMIT"))
            return
    driver = None if adapted is None else _plain_top_level(adapted)
    if driver is None:
        if statement is not None:
            await connection.exec_driver_sql(statement)
        await transaction.commit()
        return
    adapted, top = driver
    await adapted._connection.execute("COMMIT" if statement is None else f"{statement};COMMIT")
    _committed(adapted, top)


def _committed(adapted: Any, top: Transaction) -> None:
    """The server has committed ``top``: the driver's transaction is over (the adapter has no transaction
    left to send COMMIT or ROLLBACK for when SQLAlchemy ends its own)."""
    top._state = TransactionState.COMMITTED
    if adapted._connection._top_xact is top:
        adapted._connection._top_xact = None
    adapted._transaction = None


def _plain_top_level(adapted: Any) -> tuple[Any, Transaction] | None:
    """The SQLAlchemy asyncpg adapter (:func:`common.driver.adapter`) and its driver transaction, when that
    is a started top-level asyncpg transaction (what :func:`commit_with` can commit in its message);
    otherwise None."""
    top = getattr(adapted, "_transaction", None)
    if not isinstance(top, Transaction) or top._nested or top._state is not TransactionState.STARTED:
        return None
    return adapted, top

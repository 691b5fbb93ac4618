"""Statements on the request path sent through asyncpg itself, in SQLAlchemy's transaction (the first one
before it begins).

Every request runs the same few statements whatever it asks: the school and caller (``app_enter_school``)
first, its audit entries with the COMMIT last (:mod:`common.commit`). Through SQLAlchemy each costs, on top
of asyncpg's own work, a greenlet switch and its execution context, cursor and result objects: about 100 us
of the server's CPU a statement on the machines the bench runs on, measured beside the same statement sent
through asyncpg (ADR 13, fifth pass), where a whole ``{ viewer }`` costs the app 1-2 ms. Those statements go
to the driver here, in the transaction SQLAlchemy opened, so that everything else (the ORM, the pool, the
connection's events) sees a transaction as usual.

**The request's first statement runs in a transaction of its own** (:func:`fetch_first_row`). A request's
transaction used to begin with BEGIN, a round trip of its own, before ``app_enter_school``; and a read that
needs nothing more (``{ viewer }``) ended with a COMMIT that had nothing to commit: two of its
three round trips, and a quarter of its server CPU (ADR 13, seventh pass). Now the statement is sent
outside any transaction block, so PostgreSQL runs it in an implicit transaction of its own; the binding it
sets (``set_config(..., true)``, local to that transaction) ends with it, and is kept on the connection as
a statement (:attr:`BindingAdapter.begin_with`). The request's transaction then begins only if something
else is sent, with ``BEGIN;<the binding>`` in ONE message (the simple query protocol runs both in order):
a request that reads more pays the same round trips as before, one that reads nothing more pays one.
Nothing runs unbound: every statement after the first goes through the adapter's ``_start_transaction``,
which sends the binding with BEGIN; the binding kept is dropped at the connection's next commit or
rollback, which SQLAlchemy's pool always runs when the connection is given back, so it never reaches
another request or a job. Under READ COMMITTED (the engine's level) every statement takes its own snapshot
anyway, so the first statement's own transaction changes nothing that later statements see.

What stays as it was: a failed statement raises what SQLAlchemy raises for it, by SQLAlchemy's own
handler, which on a lost connection invalidates it and the pool's older connections. When anything
observes the engine's statements (tracing, the test suite's statement counts and fault injection), or the
connection is not this adapter, the statement goes through SQLAlchemy like every other, in the request's
transaction begun as before, so that each observer sees it whole (:func:`observed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from asyncpg.transaction import Transaction, TransactionState
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, AsyncAdapt_asyncpg_dbapi
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, AsyncSessionTransaction
from sqlalchemy.util import await_only, greenlet_spawn

_PLAIN = {None: "BEGIN", "read_committed": "BEGIN ISOLATION LEVEL READ COMMITTED"}
"""BEGIN as asyncpg writes it for each isolation level of a plain transaction (:attr:`BindingAdapter.plain`)."""


class BindingAdapter(AsyncAdapt_asyncpg_connection):
    """SQLAlchemy's asyncpg adapter, whose next transaction can begin with a binding in BEGIN's message."""

    __slots__ = ("begin_with",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.begin_with: str | None = None
        """The statement that binds the next transaction (its values in its text), sent with its BEGIN."""

    async def _start_transaction(self) -> None:
        binding, self.begin_with = self.begin_with, None
        if binding is None:
            await super()._start_transaction()  # type: ignore[no-untyped-call]
        else:
            await begin(self, binding)

    @property
    def plain(self) -> bool:
        """Whether its transactions are the engine's plain ones (READ COMMITTED, read-write; the pool
        gives a connection back to READ COMMITTED after a caller asked for another level): those a
        request's first statement may run outside of (:func:`fetch_first_row`). Setting another isolation
        level rolls back first, which drops a binding kept."""
        return self.isolation_level in _PLAIN and not self.readonly and not self.deferrable

    def commit(self) -> None:
        self.begin_with = None
        super().commit()  # type: ignore[no-untyped-call]

    def rollback(self) -> None:  # also what the pool runs on every connection given back
        self.begin_with = None
        super().rollback()  # type: ignore[no-untyped-call]


class BindingDBAPI(AsyncAdapt_asyncpg_dbapi):
    """SQLAlchemy's asyncpg DBAPI module, lending :class:`BindingAdapter` connections (the engine's
    ``module``, :func:`server.database.create_engine`)."""

    def connect(self, *arg: Any, **kw: Any) -> BindingAdapter:
        creator: Callable[..., Any] = kw.pop("async_creator_fn", self.asyncpg.connect)
        options = {
            "prepared_statement_cache_size": kw.pop("prepared_statement_cache_size", 100),
            "prepared_statement_name_func": kw.pop("prepared_statement_name_func", None),
        }
        return await_only(BindingAdapter.create(self, creator(*arg, **kw), **options))


async def begin(adapted: Any, statements: str) -> Transaction:
    """Send ``BEGIN;<statements>`` (their values in their text) in one message on the adapter's asyncpg
    connection, its transaction left as asyncpg's own ``start`` leaves it, so that the commit and rollback
    are asyncpg's and SQLAlchemy's as usual (and a failed statement's transaction is rolled back by its
    owner, as always). ``statements`` may end with COMMIT (:func:`common.commit.commit_with`)."""
    assert adapted.plain, "only a plain transaction begins with other statements in its message"
    connection = adapted._connection
    transaction: Transaction = connection.transaction(isolation=adapted.isolation_level)
    transaction._state = TransactionState.STARTED
    connection._top_xact = transaction
    adapted._transaction = transaction
    try:
        await connection.execute(f"{_PLAIN[adapted.isolation_level]};{statements}")
    except Exception as error:
        if connection.is_closed() or not connection._protocol.is_in_transaction():
            # BEGIN did not take, or the connection is gone: there is no transaction to roll back.
            transaction._state = TransactionState.FAILED
            connection._top_xact = None
            adapted._transaction = None
        adapted._handle_exception(error)
    return transaction


def begin_session(session: AsyncSession) -> AsyncSessionTransaction:
    """``await session.begin()`` without that call's switch into a greenlet: beginning a session's
    transaction sends nothing and checks nothing out (the connection is taken at its first statement, as
    always), so SQLAlchemy's own ``Session.begin`` runs as it is, and the transaction returned is
    SQLAlchemy's proxy of it (``get_transaction``). Every request begins one, and each switch is a greenlet
    made and entered for bookkeeping alone (ADR 13, eighth pass)."""
    session.sync_session.begin()
    transaction = session.get_transaction()
    assert transaction is not None
    return transaction


async def session_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection, as ``await session.connection()`` returns it; looked up without that
    call's switch into a greenlet when the session's active transaction holds it already (nothing to
    check out, nothing sent): a request asks for it at each statement it sends through the driver and at
    its commit, and each switch is a greenlet made and entered for a lookup (ADR 13, eighth pass)."""
    sync = session.sync_session
    transaction = sync._transaction
    if transaction is not None and transaction.is_active:
        held = transaction._connections.get(sync.get_bind())
        if held is not None:
            connection: AsyncConnection = AsyncConnection._retrieve_proxy_for_target(held[0])
            return connection
    return await session.connection()


def observed(connection: AsyncConnection) -> bool:
    """Whether anything listens to the engine's statements (``before_cursor_execute`` or
    ``after_cursor_execute``: tracing, the test suite's statement counts and fault injection). Their
    listeners take the engine's own execution context, and a span begun before a statement ends after it:
    such statements go through SQLAlchemy, as every other."""
    sync = connection.sync_connection
    if sync is None or not (sync._has_events or sync.engine._has_events):
        # SQLAlchemy's own test before it dispatches a statement's events: no listener of the engine's or
        # the connection's events at all (the pool's, production's only ones, are not among them). Asking
        # the dispatcher itself builds its joined listener collections, at every request's connection.
        return False
    return bool(sync.dispatch.before_cursor_execute or sync.dispatch.after_cursor_execute)


def adapter(connection: AsyncConnection) -> Any | None:
    """SQLAlchemy's asyncpg adapter of ``connection`` (checked out, in a transaction or about to be), or
    None when the connection is another driver's or no longer usable as it is.

    Read without a greenlet switch: ``Connection.connection`` does no I/O while the connection is checked
    out and valid, which :meth:`AsyncSession.connection` has just made sure of."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return None
    adapted = getattr(sync.connection, "dbapi_connection", None)
    if adapted is None or not hasattr(adapted, "_start_transaction") or not hasattr(adapted, "_connection"):
        return None
    return adapted


DRIVER_CACHED_CHARS = 64 * 1024
"""The longest statement text asyncpg keeps prepared on a connection: its ``max_cacheable_statement_size``,
which :func:`server.database.create_engine` sets to this. A longer text is parsed and planned at every call
(under asyncpg's default, 15 KiB, a OneRoster page of persons, about 23,000 characters, took 4-5 ms more a
request that way)."""


def _by_driver(connection: AsyncConnection, statement: str) -> Any | None:
    """The adapter to send ``statement`` by (:func:`adapter`), or None when it must go through SQLAlchemy: an
    observed engine (:func:`observed`), or a text the driver would not keep prepared."""
    if observed(connection) or len(statement) > DRIVER_CACHED_CHARS:
        return None
    return adapter(connection)


async def fetch_row(
    connection: AsyncConnection, statement: str, values: Sequence[Any]
) -> Sequence[Any] | None:
    """The first row of ``statement`` (its parameters ``$1``, ``$2``... bound to ``values``) run on
    ``connection`` in its transaction (begun here if SQLAlchemy had not sent BEGIN yet), or None when it
    returns none. A text longer than :data:`DRIVER_CACHED_CHARS` is sent by SQLAlchemy's adapter, as for an
    observed engine: the driver would parse and plan it at every call, the adapter keeps it prepared."""
    adapted = _by_driver(connection, statement)
    if adapted is None:
        row = (await connection.exec_driver_sql(statement, tuple(values))).first()
        return None if row is None else tuple(row)
    try:
        async with adapted._execute_mutex:  # the adapter's own guard against two statements at once
            if adapted._transaction is None:
                await adapted._start_transaction()
            found: Sequence[Any] | None = await adapted._connection.fetchrow(statement, *values)
            return found
    except Exception as error:
        await greenlet_spawn(_raise_as_engine_does, connection, adapted, error, statement, tuple(values))
        raise  # not reached: the line above raises


async def fetch_first_row(
    connection: AsyncConnection,
    statement: str,
    values: Sequence[Any],
    binding: Callable[[Sequence[Any]], str],
) -> Sequence[Any] | None:
    """The first row of ``statement``, the first of the request's transaction, run in a transaction of its
    own (see the module); ``binding(row)`` is the statement that binds what follows as ``statement`` bound
    itself, sent with BEGIN if anything follows. Where the statement cannot run
    that way (an observed engine, another adapter, a transaction already begun, or one asked with other
    characteristics, whose snapshot must hold the statement) it runs as :func:`fetch_row` runs it, in the
    request's transaction."""
    adapted = _by_driver(connection, statement)
    if not isinstance(adapted, BindingAdapter) or not adapted.plain or not nothing_begun(adapted):
        return await fetch_row(connection, statement, values)
    try:
        async with adapted._execute_mutex:
            found: Sequence[Any] | None = await adapted._connection.fetchrow(statement, *values)
    except Exception as error:
        await greenlet_spawn(_raise_as_engine_does, connection, adapted, error, statement, tuple(values))
        raise  # not reached: the line above raises
    adapted.begin_with = None if found is None else binding(found)
    return found


def nothing_begun(adapted: Any) -> bool:
    """Whether no transaction is open on the adapter's connection: nothing was sent in the request's
    transaction, or only its first statement, which ran in a transaction of its own."""
    return adapted._transaction is None and not adapted._connection.is_in_transaction()


async def begun(connection: AsyncConnection) -> Any:
    """The asyncpg connection under ``connection``, its transaction begun (bound, after a request's first
    statement: see the module): for what is sent on the driver's connection directly (COPY)."""
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    if isinstance(adapted, BindingAdapter):
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
    return raw.driver_connection


def _raise_as_engine_does(
    connection: AsyncConnection, adapted: Any, error: Exception, statement: str, values: tuple[Any, ...]
) -> None:
    """Raise ``error`` as SQLAlchemy raises a statement's failure: translated by the adapter into its DBAPI
    error, then wrapped by the engine (``DBAPIError``), which on a lost connection invalidates it and every
    connection the pool lent before the fault, as for any statement the engine runs itself."""
    sync = connection.sync_connection
    assert sync is not None
    try:
        adapted._handle_exception(error)  # always raises
    except Exception as translated:
        sync._handle_dbapi_exception(translated, statement, values, None, None)  # always raises

"""Statements on the request path sent through asyncpg itself, inside SQLAlchemy's transaction.

Every request runs the same few statements whatever it asks: the school and caller (``app_enter_school``)
first, its audit entries with the COMMIT last (:mod:`common.commit`). Through SQLAlchemy each costs, on top
of asyncpg's own work, a greenlet switch and its execution context, cursor and result objects: about 100 us
of the server's CPU a statement on the machines the bench runs on, measured beside the same statement sent
through asyncpg (ADR 13, fifth pass), where a whole ``{ viewer }`` costs the app 1-2 ms. Those statements go
to the driver here, in the transaction SQLAlchemy opened, so that everything else (the ORM, the pool, the
connection's events) sees a transaction as usual.

What stays as it was: BEGIN is sent by SQLAlchemy's asyncpg adapter, as it would be before the first
statement it runs; a failed statement raises what SQLAlchemy raises for it, by SQLAlchemy's own handler,
which on a lost connection invalidates it and the pool's older connections. When anything observes the
engine's statements (tracing, the test suite's statement counts and fault injection), or the connection is
not SQLAlchemy's asyncpg adapter, the statement goes through SQLAlchemy like every other, so that each
observer sees it whole (:func:`observed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import greenlet_spawn


def observed(connection: AsyncConnection) -> bool:
    """Whether anything listens to the engine's statements (``before_cursor_execute`` or
    ``after_cursor_execute``: tracing, the test suite's statement counts and fault injection). Their
    listeners take the engine's own execution context, and a span begun before a statement ends after it:
    such statements go through SQLAlchemy, as every other."""
    sync = connection.sync_connection
    return sync is not None and bool(
        sync.dispatch.before_cursor_execute or sync.dispatch.after_cursor_execute
    )


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


async def fetch_row(
    connection: AsyncConnection, statement: str, values: Sequence[Any]
) -> Sequence[Any] | None:
    """The first row of ``statement`` (its parameters ``$1``, ``$2``... bound to ``values``) run on
    ``connection`` in its transaction (begun here if SQLAlchemy had not sent BEGIN yet), or None when it
    returns none."""
    adapted = None if observed(connection) else adapter(connection)
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

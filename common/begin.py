"""Beginning a transaction together with its first statement: one round trip to the server instead of two.

A request's transaction starts with BEGIN, sent alone by asyncpg (``Transaction.start``: a simple-protocol
message, and a wait for its answer), and then its first statement (on plain PostgreSQL the school and the
caller, ``auth.principal.enter_school_as``). PostgreSQL's extended protocol runs the messages it is sent in
order and answers them in order, and only its Sync ends a batch: :func:`execute_beginning` writes BEGIN as
Parse, Bind and Execute of the unnamed statement, with no Sync, immediately before asyncpg writes the first
statement's Bind, Execute and Sync. The server runs BEGIN, then the statement inside the transaction, and
answers both before the one ReadyForQuery that asyncpg waits for; asyncpg, executing its statement, passes
over the BEGIN's ParseComplete and BindComplete as it does its own, and the BEGIN's CommandComplete is
followed by the statement's own. If BEGIN fails, the server skips the statement (it skips everything up
to the Sync after an error) and asyncpg raises BEGIN's error as the statement's.

What stays as it was: the statement runs through ``exec_driver_sql`` (engine events, statement counts,
fault injection, SQLAlchemy's translation of errors and its handling of a dropped connection), the
transaction is asyncpg's own ``Transaction`` (what SQLAlchemy commits or rolls back, and what
``common.commit`` commits with the last statement), begun with the same BEGIN text. It is done only when
asyncpg will write nothing between the BEGIN and the statement's Bind: the statement is already prepared
on this connection (a named statement in SQLAlchemy's cache, still valid), no transaction is open, the
connection is open and SQLAlchemy's transaction is a plain top-level one; otherwise (the first time a
connection runs the statement, another driver, a savepoint) BEGIN is sent alone, as before.

If the request fails before the statement is sent (an engine event raised), the transaction asyncpg
thinks started is rolled back as usual: the server, which never began it, answers the ROLLBACK with a
warning.
"""

from __future__ import annotations

import struct
import uuid
from datetime import date, datetime
from typing import Any

from asyncpg.transaction import Transaction, TransactionState
from sqlalchemy import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection


async def execute_beginning(
    connection: AsyncConnection, sql: str, values: tuple[Any, ...]
) -> CursorResult[Any]:
    """``connection.exec_driver_sql(sql, values)``, the first statement of the connection's transaction,
    with the transaction's BEGIN written in front of it when it can be (see the module)."""
    raw = await connection.get_raw_connection()
    adapted = getattr(raw, "dbapi_connection", None)
    entry = _cached_statement(connection, adapted, sql) if _encodable(values) else None
    if entry is None:
        return await connection.exec_driver_sql(sql, values)
    driver = adapted._connection  # type: ignore[union-attr]
    transaction = driver.transaction(
        isolation=adapted.isolation_level,  # type: ignore[union-attr]
        readonly=adapted.readonly,  # type: ignore[union-attr]
        deferrable=adapted.deferrable,  # type: ignore[union-attr]
    )
    message = begin_message(begin_query(transaction))
    statement, attributes, prepared_at = entry
    cache = adapted._prepared_statement_cache  # type: ignore[union-attr]
    # The transaction as Transaction.start leaves it (top-level, started), without its round trip: the
    # adapter then sends no BEGIN of its own, and commits or rolls back this transaction.
    driver._top_xact = transaction
    transaction._state = TransactionState.STARTED
    adapted._transaction = transaction  # type: ignore[union-attr]
    cache[sql] = (_Beginning(statement, driver, message), attributes, prepared_at)
    try:
        return await connection.exec_driver_sql(sql, values)
    finally:
        if sql in cache and isinstance(cache[sql][0], _Beginning):
            cache[sql] = (statement, attributes, prepared_at)


def _cached_statement(connection: AsyncConnection, adapted: Any, sql: str) -> tuple[Any, Any, float] | None:
    """The adapter's cache entry for ``sql`` when the statement's Bind can carry BEGIN (see the module),
    else None."""
    driver = getattr(adapted, "_connection", None)
    cache = getattr(adapted, "_prepared_statement_cache", None)
    sync = connection.sync_connection
    if (
        driver is None
        or cache is None
        or sync is None
        or getattr(adapted, "_transaction", True) is not None
        or adapted.isolation_level == "autocommit"
        or not hasattr(driver, "_transport")
        or driver._transport is None
        or driver.is_closed()
        or driver._top_xact is not None
        or driver.is_in_transaction()
        or not connection.in_transaction()
        or connection.in_nested_transaction()
    ):
        return None
    # SQLAlchemy's check before it reuses a prepared statement (AsyncAdapt_asyncpg_connection._prepare):
    # a schema change since it was prepared makes it prepare again, a round trip BEGIN must not precede.
    invalidated = getattr(sync.dialect, "_invalidate_schema_cache_asof", 0)
    if invalidated > adapted._invalidate_schema_cache_asof:
        return None
    entry = cache.get(sql) if sql in cache else None
    if entry is None or not entry[2] > invalidated:
        return None
    state = getattr(entry[0], "_state", None)
    if state is None or not state.name or state.closed:
        return None  # the unnamed statement would be the one BEGIN's Parse replaces
    return entry  # type: ignore[no-any-return]


_PLAIN = (type(None), bool, int, float, uuid.UUID, datetime, date)


def _encodable(values: tuple[Any, ...]) -> bool:
    """asyncpg will encode ``values`` without raising (plain values, text that is valid UTF-8): an error
    raised before it writes the statement would leave the BEGIN's answers unread on the connection."""
    for value in values:
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return False
        elif not isinstance(value, _PLAIN):
            return False
    return True


def begin_query(transaction: Transaction) -> str:
    """The BEGIN that ``Transaction.start`` sends for a top-level ``transaction``."""
    query = "BEGIN"
    isolation = transaction._isolation
    if isolation == "read_committed":
        query += " ISOLATION LEVEL READ COMMITTED"
    elif isolation == "read_uncommitted":
        query += " ISOLATION LEVEL READ UNCOMMITTED"
    elif isolation == "repeatable_read":
        query += " ISOLATION LEVEL REPEATABLE READ"
    elif isolation == "serializable":
        query += " ISOLATION LEVEL SERIALIZABLE"
    if transaction._readonly:
        query += " READ ONLY"
    if transaction._deferrable:
        query += " DEFERRABLE"
    return query + ";"


def begin_message(query: str) -> bytes:
    """``query`` as the extended protocol's Parse, Bind and Execute of the unnamed statement and portal,
    without a Sync (PostgreSQL's frontend/backend protocol, "Extended Query")."""

    def message(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("!i", len(body) + 4) + body

    parse = message(b"P", b"\0" + query.encode() + b"\0" + struct.pack("!h", 0))
    bind = message(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
    execute = message(b"E", b"\0" + struct.pack("!i", 0))
    return parse + bind + execute


class _Beginning:
    """The cached prepared statement, standing in for it once: its ``fetch`` writes BEGIN on the
    connection's socket first, in the same step of the event loop as asyncpg's own Bind (nothing is read
    in between), then runs the statement."""

    def __init__(self, statement: Any, driver: Any, message: bytes) -> None:
        self._statement, self._driver, self._message = statement, driver, message

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        if not self._driver.is_closed():  # closed (an engine event's doing): the fetch raises as before
            self._driver._transport.write(self._message)
        return await self._statement.fetch(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._statement, name)

"""Whether an error is a fault of the database connection rather than of the work that met it.

A connection dropped or closed under a statement, refused, shut down by the server, or a pool that could
not lend one: the request (or the write of its audit trail) did nothing wrong and may be tried again
elsewhere (on a fresh connection, or later, from the audit spool).
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_CONNECTION_FAULTS = (
    DisconnectionError,
    PoolTimeout,
    ConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,  # "another operation is in progress" on a connection being closed
)


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is a fault of the database connection, not of the request:
    a connection dropped or closed under it, refused, shut down by the server, or the pool exhausted."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, _CONNECTION_FAULTS):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


LOCK_CONFLICTS = frozenset({"40P01", "40001"})
"""SQLSTATEs of a statement PostgreSQL failed because of another transaction, not of anything in the work:
``deadlock_detected`` (two transactions each waiting for a row the other holds; one of them is chosen and
its statement fails) and ``serialization_failure``. The work may simply be run again, from a savepoint
taken before it, once the other transaction has moved on."""


def lock_conflict(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is one of :data:`LOCK_CONFLICTS`."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if (
            getattr(error, "sqlstate", None) in LOCK_CONFLICTS
            or getattr(error, "pgcode", None) in LOCK_CONFLICTS
        ):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False

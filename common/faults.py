"""Whether an error is a fault of the database connection rather than of the work that met it.

A connection dropped or closed under a statement, refused, shut down by the server, or a pool that could
not lend one: the request (or the write of its audit trail) did nothing wrong and may be tried again
elsewhere (on a fresh connection, or later, from the audit spool). And whether it is a lock conflict with
another transaction (a deadlock): the work may be run again from a savepoint (graph.core.mutations).
"""

from __future__ import annotations

from collections.abc import Iterator

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


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and what it wraps: the driver's error under SQLAlchemy's, its cause, its context (each once)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is a fault of the database connection, not of the request:
    a connection dropped or closed under it, refused, shut down by the server, or the pool exhausted."""
    return any(
        (isinstance(link, DBAPIError) and link.connection_invalidated) or isinstance(link, _CONNECTION_FAULTS)
        for link in _chain(error)
    )


LOCK_CONFLICTS = frozenset({"40P01", "40001"})
"""SQLSTATEs of a statement PostgreSQL failed because of another transaction, not of anything in the work:
``deadlock_detected`` (two transactions each waiting for a row the other holds; one of them is chosen and
its statement fails) and ``serialization_failure``. The work may simply be run again, from a savepoint
taken before it, once the other transaction has moved on."""


def lock_conflict(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is one of :data:`LOCK_CONFLICTS`."""
    return any(
        getattr(link, "sqlstate", None) in LOCK_CONFLICTS or getattr(link, "pgcode", None) in LOCK_CONFLICTS
        for link in _chain(error)
    )

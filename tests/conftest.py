"""Test fixtures: a real PostgreSQL, migrated once per session, and the app over real HTTP semantics.

``TEST_DATABASE_URL`` names the server (CI sets it to the machine's PostgreSQL); without it an embedded
PostgreSQL is started under .data/test-pg. The schema is dropped and migrated afresh once per session.
Tests isolate themselves by tenant: each builds its own schools (tests/factories), so no test sees
another's rows, and the application role connects exactly as in production (non-owner, NOBYPASSRLS).
The runtime runs on the suite's fixed clock (tests/factories/clock.py), never the host's.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.tokens import SigningKeys
from common.clock import FixedClock
from common.settings import REPO_ROOT, Settings
from server.app import create_app
from server.database import DatabaseUrls, _asyncpg, create_engine, runtime_url_for, start_embedded
from server.migrate import upgrade
from server.runtime import Runtime, build_runtime
from tests.factories import clock as suite_clock
from tests.factories.citus import ON_CITUS
from tests.factories.messages import recording_engine
from tests.factories.schools import SchoolFactory
from tests.factories.trusts import TrustFactory


def _settings() -> Settings:
    return Settings(
        environment="test",
        database_url=os.environ.get("TEST_DATABASE_URL") or None,
        data_dir=Path(tempfile.mkdtemp(prefix="schoolgraph-test-")),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with their reasons, the tests that cannot run where the suite runs: ``plain_only`` on Citus,
    ``citus_only`` on plain PostgreSQL."""
    for item in items:
        if ON_CITUS and (marker := item.get_closest_marker("plain_only")) is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            if not reason:
                raise pytest.UsageError(f"{item.nodeid}: plain_only needs a reason")
            item.add_marker(pytest.mark.skip(reason=f"plain PostgreSQL only: {reason}"))
        if not ON_CITUS and item.get_closest_marker("citus_only") is not None:
            item.add_marker(pytest.mark.skip(reason="Citus only: run by `make test-citus`"))


# Every object of the public schema that no extension owns (on Citus, the extension's own views and
# functions live in ``public``, and dropping the schema would drop Citus with them).
_DROP_OWN_OBJECTS = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %s CASCADE', item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.name);
    END LOOP;
    FOR item IN
        SELECT t.oid::regtype AS name FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'c', 'd') AND t.typrelid = 0
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP TYPE IF EXISTS %s CASCADE', item.name);
    END LOOP;
    FOR item IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP SEQUENCE IF EXISTS %s CASCADE', item.name);
    END LOOP;
END
$$"""


@pytest.fixture(scope="session")
def settings() -> Settings:
    return _settings()


@pytest.fixture(scope="session")
def database_urls(settings: Settings) -> DatabaseUrls:
    owner = (
        _asyncpg(settings.database_url)
        if settings.database_url
        else start_embedded(REPO_ROOT / ".data" / "test")
    )
    return DatabaseUrls(owner=owner, runtime=runtime_url_for(owner, settings))


@pytest.fixture(scope="session")
async def owner_engine(database_urls: DatabaseUrls, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_urls.owner, settings, pool_size=2)
    async with engine.begin() as connection:
        if ON_CITUS:
            await connection.execute(text(_DROP_OWN_OBJECTS))
        else:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await anyio.to_thread.run_sync(upgrade, database_urls.owner, settings)
    if ON_CITUS:
        # The distribution step sets the database's Citus settings; they apply to new connections.
        await engine.dispose()
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def engine(
    owner_engine: AsyncEngine, database_urls: DatabaseUrls, settings: Settings
) -> AsyncIterator[AsyncEngine]:
    """The runtime role's engine: what the application uses."""
    engine = create_engine(database_urls.runtime, settings, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def recording(
    database_urls: DatabaseUrls, settings: Settings
) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """The runtime role's engine on one connection, and the list of the messages it sends
    (:mod:`tests.factories.messages`)."""
    async with recording_engine(database_urls, settings) as recorded:
        yield recorded


@pytest.fixture(scope="session")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    """The suite's fixed clock, shared by the runtime, the factories and the tests."""
    return suite_clock.CLOCK


@pytest.fixture(autouse=True)
def _clock_put_back(clock: FixedClock) -> Iterator[None]:
    # A test may move the clock; the next one starts at the suite's instant again.
    yield
    clock.set(suite_clock.INSTANT)


@pytest.fixture(scope="session")
def runtime(settings: Settings, engine: AsyncEngine, keys: SigningKeys, clock: FixedClock) -> Runtime:
    return build_runtime(settings, engine, keys, clock=clock)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    # A distinct address per test, so that one test's failed sign-ins never throttle another's.
    transport = httpx.ASGITransport(app=create_app(runtime), client=(f"test-{uuid.uuid4().hex[:12]}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def factory(engine: AsyncEngine, runtime: Runtime) -> SchoolFactory:
    return SchoolFactory(engine, runtime.auth)


@pytest.fixture
def trusts(engine: AsyncEngine, runtime: Runtime) -> TrustFactory:
    return TrustFactory(engine, runtime.auth)

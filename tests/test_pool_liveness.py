"""The pool's check of a connection before it is lent (server.database.LivenessCheck): a connection given
back moments ago is lent without a round trip, one idle longer is pinged, and one the server dropped is
replaced either way, never lent. Backends are really terminated (pg_terminate_backend); the pool's clock
is the test's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.settings import Settings
from server.database import PING_AFTER_SECONDS, DatabaseUrls, LivenessCheck, create_engine

MARK = "SELECT 'liveness-mark' AS mark"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(database_urls: DatabaseUrls, settings: Settings) -> AsyncIterator[tuple[AsyncEngine, Clock]]:
    clock = Clock()
    engine = create_engine(database_urls.runtime, settings, pool_size=1, liveness=LivenessCheck(clock=clock))
    try:
        yield engine, clock
    finally:
        await engine.dispose()


async def _pid_after_mark(engine: AsyncEngine) -> int:
    """Lend the connection, run the marker statement last, give it back; its backend's pid."""
    async with engine.connect() as connection:
        pid = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        await connection.execute(text(MARK))
    return pid


async def _last_statement(owner_engine: AsyncEngine, pid: int) -> str:
    async with owner_engine.connect() as connection:
        found = await connection.execute(
            text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        return str(found.scalar_one())


async def _terminate(owner_engine: AsyncEngine, pid: int) -> None:
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(CAST(:pid AS integer))"), {"pid": pid})


async def _backend(connection: AsyncConnection) -> int:
    return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_given_back_moments_ago_is_lent_without_a_ping(
    pool: tuple[AsyncEngine, Clock], owner_engine: AsyncEngine
) -> None:
    engine, clock = pool
    pid = await _pid_after_mark(engine)
    given_back = await _last_statement(owner_engine, pid)
    assert given_back in (MARK, "ROLLBACK;")  # the pool's reset when it was given back
    clock.now += PING_AFTER_SECONDS / 2
    async with engine.connect() as connection:
        assert await _last_statement(owner_engine, pid) == given_back  # nothing was sent when it was lent
        assert await _backend(connection) == pid


async def test_a_connection_idle_longer_is_pinged_before_it_is_lent(
    pool: tuple[AsyncEngine, Clock], owner_engine: AsyncEngine
) -> None:
    engine, clock = pool
    pid = await _pid_after_mark(engine)
    clock.now += PING_AFTER_SECONDS
    async with engine.connect() as connection:
        assert await _last_statement(owner_engine, pid) == ";"  # the ping, outside any transaction
        assert await _backend(connection) == pid


async def test_a_connection_dropped_while_idle_longer_is_replaced(
    pool: tuple[AsyncEngine, Clock], owner_engine: AsyncEngine
) -> None:
    """Found by the ping, whether or not the client has read the server's goodbye yet."""
    engine, clock = pool
    pid = await _pid_after_mark(engine)
    await _terminate(owner_engine, pid)
    clock.now += PING_AFTER_SECONDS * 10
    async with engine.connect() as connection:
        assert await _backend(connection) != pid
        assert (await connection.execute(text("SELECT 41 + 1"))).scalar_one() == 42


async def test_a_connection_dropped_moments_after_it_was_given_back_is_replaced_without_a_ping(
    pool: tuple[AsyncEngine, Clock], owner_engine: AsyncEngine
) -> None:
    """The server's goodbye read while the connection sat in the pool closes it: not lent, no round trip
    needed (the case of a terminated backend, a restarted server)."""
    engine, clock = pool
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    pid = await _pid_after_mark(engine)
    await _terminate(owner_engine, pid)
    for _ in range(500):  # the event loop reads the server's goodbye when it next polls the socket
        if driver.is_closed():
            break
        await asyncio.sleep(0.01)
    assert driver.is_closed()
    clock.now += PING_AFTER_SECONDS / 2
    async with engine.connect() as connection:
        assert await _backend(connection) != pid
        assert (await connection.execute(text("SELECT 41 + 1"))).scalar_one() == 42

"""A database of a test's own, on the suite's PostgreSQL server, for the real commands a test runs.

The commands (``schoolgraph serve``, ``schoolgraph jobs run``) run in their own process on the host's clock;
pointed at the suite's database, ``jobs run`` would apply whatever is due by the host's date to every other
test's schools. A database of their own keeps them to the data the test gives them, and lets concurrent
runs on one server never drop each other's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine

NO_TIMEOUT = "SET statement_timeout = 0"
"""Creating and dropping a database waits for a checkpoint, which on a loaded machine takes longer than the
engine's statement timeout (a guard for requests, not for this)."""


@asynccontextmanager
async def scratch_database(owner_engine: AsyncEngine, owner_url: URL) -> AsyncIterator[URL]:
    """An empty database, as ``owner_url`` names the server's owner, dropped (connections and all) after."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    autocommit = owner_engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as connection:
        await connection.execute(text(NO_TIMEOUT))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield owner_url.set(database=name)
    finally:
        async with autocommit.connect() as connection:
            await connection.execute(text(NO_TIMEOUT))
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

"""A bench database on a Citus cluster (ADR 19), for comparing a benchmark on Citus with plain PostgreSQL.

With ``BENCH_CITUS_WORKERS=host:port,host:port`` (the workers of the cluster whose coordinator the bench's
database URL names, e.g. ``make test-citus``'s cluster started with its ``cluster.sh``), a benchmark that
recreates its database calls :func:`prepare` after CREATE DATABASE: the database is created on every
worker too, the ``citus`` extension in each, and the workers registered, so the migrations' last step
distributes the tables. Without the variable nothing happens (plain PostgreSQL). The owner must be a
superuser of every node (the benches seed with COPY, which only bypasses row-level security as one).
"""

from __future__ import annotations

import os

import asyncpg
from sqlalchemy import URL


def workers() -> list[tuple[str, int]]:
    spec = os.environ.get("BENCH_CITUS_WORKERS") or ""
    nodes = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        host, _, port = item.rpartition(":")
        nodes.append((host, int(port)))
    return nodes


def _dsn(url: URL, **changes: object) -> str:
    return url.set(drivername="postgresql", **changes).render_as_string(hide_password=False)


async def prepare(owner: URL, database: str) -> None:
    """Make the freshly created ``database`` (on the coordinator of ``owner``) a Citus database."""
    nodes = workers()
    if not nodes:
        return
    for host, port in nodes:
        server = await asyncpg.connect(_dsn(owner, host=host, port=port))
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await server.execute(f'CREATE DATABASE "{database}"')
        finally:
            await server.close()
        worker = await asyncpg.connect(_dsn(owner, host=host, port=port, database=database))
        try:
            await worker.execute("CREATE EXTENSION citus")
        finally:
            await worker.close()
    coordinator = await asyncpg.connect(_dsn(owner, database=database))
    try:
        await coordinator.execute("CREATE EXTENSION citus")
        await coordinator.execute("SELECT citus_set_coordinator_host($1, $2)", owner.host, owner.port or 5432)
        for host, port in nodes:
            await coordinator.execute("SELECT citus_add_node($1, $2)", host, port)
    finally:
        await coordinator.close()

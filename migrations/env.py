"""Alembic environment: async, owner connection, the models' metadata as the target."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import models
from roster import staging

config = context.config
target_metadata = models.metadata


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave the roster import's permanent staging tables (migration 0020) out of the models' comparison:
    they are no model's, but the import's staging tables (roster/staging.py), whose columns
    tests/test_roster_staging.py compares with the database's."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in STAGING_TABLES


STAGING_TABLES = frozenset(table.name for table in staging.ALL)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        include_object=_include,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    role = config.attributes.get("app_role")
    if role:
        # The runtime role reads which revision the database is at (``/readyz`` compares it with the
        # code's head) and nothing else of Alembic's table.
        with context.begin_transaction():
            connection.exec_driver_sql(f'GRANT SELECT ON alembic_version TO "{role}"')


async def _run_async() -> None:
    url = config.attributes.get("owner_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run migrations through `schoolgraph db upgrade`")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())

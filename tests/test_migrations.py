"""The migrations and the models agree, and the migrated database is what the architecture fixes."""

from __future__ import annotations

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import Settings
from server.database import DatabaseUrls
from server.migrate import check


async def test_models_and_migrations_agree(
    owner_engine: AsyncEngine, database_urls: DatabaseUrls, settings: Settings
) -> None:
    """`alembic check`: autogenerate finds nothing to add, so every model change has its migration."""
    await anyio.to_thread.run_sync(check, database_urls.owner, settings)

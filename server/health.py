"""Liveness and readiness for orchestrators and load balancers.

* ``GET /livez``: the process answers (no dependency is touched): restart it only when this fails.
* ``GET /readyz``: the database answers as the runtime role within a short deadline, and its schema is at
  the migrations' head; otherwise 503 with what is wrong, so no traffic is sent to a replica that cannot
  serve it (a database down, or a deploy whose ``schoolgraph db upgrade`` has not run).
* ``GET /healthz``: the same as ``/readyz`` (it used to answer ok with the database down).
"""

from __future__ import annotations

import asyncio
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from common.settings import REPO_ROOT
from server.runtime import Runtime

READY_SECONDS = 2.0
"""How long the readiness probe waits for the database."""


@cache
def migrations_head() -> str:
    """The revision the code expects (the head of migrations/versions), read once."""
    head = ScriptDirectory(str(REPO_ROOT / "migrations")).get_current_head()
    if head is None:
        raise RuntimeError("the migrations have no head")
    return head


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def database_revision(runtime: Runtime) -> str | None:
    """The database's Alembic revision, read as the runtime role (raises when the database is down)."""
    async with runtime.engine.connect() as connection:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        row = result.first()
    return None if row is None else str(row[0])


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    head = migrations_head()
    try:
        revision = await asyncio.wait_for(database_revision(runtime), READY_SECONDS)
    except Exception as error:
        return JSONResponse(
            {"status": "unavailable", "database": "down", "reason": type(error).__name__}, status_code=503
        )
    if revision != head:
        return JSONResponse(
            {"status": "unavailable", "database": "up", "migrations": {"database": revision, "code": head}},
            status_code=503,
        )
    return JSONResponse(
        {"status": "ok", "database": "up", "migrations": {"database": revision, "code": head}}
    )

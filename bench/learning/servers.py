"""The two servers the bench loads, each in a child process: the real app and the single-SQL floor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import citus
from bench.learning.seed import (
    BENCH_DATABASE,
    FLOOR_SQL,
    dsn,
    owner_url,
)

# --- servers ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_app(port: int) -> None:
    """The real app, as ``schoolgraph serve`` builds it, on the bench database (runs in a child process)."""
    import uvicorn

    from common.settings import load_settings
    from server.app import create_app
    from server.collector import settle
    from server.database import DatabaseUrls, create_engine, runtime_url_for
    from server.logs import configure_logging
    from server.runtime import build_runtime, load_keys
    from server.timeouts import server_config

    settings = load_settings()
    configure_logging(settings)  # the request log as production writes it (JSON lines, to /dev/null here)
    owner = owner_url().set(database=BENCH_DATABASE)
    urls = DatabaseUrls(owner=owner, runtime=runtime_url_for(owner, settings))
    engine = create_engine(urls.runtime, settings, pool_size=20)
    app = create_app(build_runtime(settings, engine, load_keys(settings)))
    settle()  # as `schoolgraph serve` does once its app is built
    # uvicorn as `schoolgraph serve` configures it (its HTTP protocol, no proxy headers), on the bench's port.
    config = server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        uvicorn.Server(config).run()
        return
    import cProfile
    import signal

    profiler = cProfile.Profile()

    def stop(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(profile)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    profiler.enable()
    uvicorn.Server(config).run()


def serve_floor(port: int) -> None:
    """The floor: the class view as one hand-written statement, the JSON as PostgreSQL built it (runs in a
    child process). Three routes, one statement each:

    * ``/floor``: the statement alone, as the owner (the limit);
    * ``/floor-owner-tx`` and ``/floor-rls``: a request's transaction shape (BEGIN, the school bound with
      ``set_config``, the statement, COMMIT), as the owner (who bypasses row-level security) and as the
      runtime role (under it): their ratio is what row-level security costs.
    """
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from common.settings import load_settings
    from server.database import runtime_url_for

    pools: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owner = owner_url()
        runtime = runtime_url_for(owner, load_settings())
        # A connection idle for a few seconds is closed: between its loads the floor holds one a pool, so
        # that the tenant count's servers of two databases at once stay inside the server's max_connections.
        for role, url in (("owner", owner), ("runtime", runtime)):
            pools[role] = await asyncpg.create_pool(
                dsn(url, BENCH_DATABASE), min_size=1, max_size=20, max_inactive_connection_lifetime=5.0
            )
        yield
        for pool in pools.values():
            await pool.close()

    def arguments(request: Request) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
        q = request.query_params
        return uuid.UUID(q["school"]), uuid.UUID(q["group"]), uuid.UUID(q["ladder"])

    async def floor(request: Request) -> Response:
        body = await pools["owner"].fetchval(FLOOR_SQL, *arguments(request))
        return Response(body, media_type="application/json")

    def bound(role: str) -> Any:
        async def transaction_shaped(request: Request) -> Response:
            school, group, ladder = arguments(request)
            async with pools[role].acquire() as connection, connection.transaction():
                if citus.workers():
                    # On Citus the binding must reach the workers: SET LOCAL, as the app does (ADR 19).
                    await connection.execute(f"SET LOCAL app.school_ids = '{school}'")
                else:
                    await connection.execute("SELECT set_config('app.school_ids', $1, true)", str(school))
                body = await connection.fetchval(FLOOR_SQL, school, group, ladder)
            return Response(body, media_type="application/json")

        return transaction_shaped

    routes = [
        Route("/floor", floor),
        Route("/floor-owner-tx", bound("owner")),
        Route("/floor-rls", bound("runtime")),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(
    kind: str, port: int, env: dict[str, str], *, wrapper: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """A server in a child process (run by ``wrapper``, a command that takes the server's as its last
    arguments, when given); its request log (stdout) is written, as in production, but not shown."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*wrapper, sys.executable, "-m", "bench.learning", kind, str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
    )


def start_node(script: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    return subprocess.Popen([node, str(script), str(port)], env=env, cwd=script.parent)  # noqa: S603


def stop(processes: Iterable[subprocess.Popen[bytes]], *, seconds: float = 10) -> None:
    """Terminate each server, and kill one that has not exited within ``seconds`` (a server under callgrind
    writes its counts as it exits, and takes longer)."""
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_for(url: str, process: subprocess.Popen[bytes], *, seconds: float = 120) -> None:
    """Until ``url`` answers: up to two minutes (the app imports for 10-15 s on a loaded 2-core machine,
    beside the other servers starting), failing at once if the server exits."""
    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds * 10)):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")

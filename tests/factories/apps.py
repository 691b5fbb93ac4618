"""Apps over a test runtime: a client whose requests come from one address, an app served over real HTTP, a
runtime with other settings."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from server.app import create_app
from server.runtime import Runtime, build_runtime
from server.timeouts import header_timeout_protocol


@asynccontextmanager
async def app_client(runtime: Runtime, address: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app over ``runtime`` whose requests all come from ``address`` (fresh by default).

    The address is what the sign-in throttle counts failures against, so a fresh one per client keeps one
    test's failures from throttling another's, and one shared address makes them add up.
    """
    peer = address or f"test-{uuid.uuid4().hex[:12]}"
    transport = httpx.ASGITransport(app=create_app(runtime), client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def served(runtime: Runtime) -> AsyncIterator[str]:
    """The app over ``runtime`` served by uvicorn on a free port of 127.0.0.1 (a real socket, for what the
    transport decides: clients' libraries, chunked bodies, compression), through the HTTP protocol
    ``schoolgraph serve`` runs (:mod:`server.timeouts`); its base URL. Lifespan off: the app's shutdown
    disposes the runtime's engine, which the whole test session shares."""
    config = uvicorn.Config(
        create_app(runtime),
        host="127.0.0.1",
        port=0,
        http=header_timeout_protocol(runtime.settings.header_timeout_seconds),
        lifespan="off",
        ws="none",
        log_level="warning",
    )
    async with serving(config) as port:
        yield f"http://127.0.0.1:{port}"


@asynccontextmanager
async def serving(config: uvicorn.Config) -> AsyncIterator[int]:
    """uvicorn serving ``config`` (its port 0: a free one) on this event loop, started; the port it took.
    Stopped on leaving."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn exited before it started")
                await asyncio.sleep(0.01)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        yield port
    finally:
        server.should_exit = True
        await task


def with_settings(runtime: Runtime, **changes: Any) -> Runtime:
    """A runtime like ``runtime`` (same engine, keys and clock) whose settings differ by ``changes``."""
    settings = dataclasses.replace(runtime.settings, **changes)
    return build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)

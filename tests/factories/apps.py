"""Apps over a test runtime: a client whose requests come from one address, a runtime with other settings."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from server.app import create_app
from server.runtime import Runtime, build_runtime


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


def with_settings(runtime: Runtime, **changes: Any) -> Runtime:
    """A runtime like ``runtime`` (same engine, keys and clock) whose settings differ by ``changes``."""
    settings = dataclasses.replace(runtime.settings, **changes)
    return build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)

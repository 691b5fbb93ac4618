"""The cost of the edge's operational layers, as ratios against a reference measured in the same run.

``python -m bench bench.edge``. In process, over ASGI (httpx), no database:

* ``/livez`` through the app's whole middleware stack (timing and counting every request, one log line,
  CORS for a listed origin, compression negotiation, security headers) against the same handler in a
  bare Starlette app: what every request pays before its handler runs.
* A 100 KB GraphQL-shaped JSON body (a class view's shape) sent as is and compressed with zstd, br and
  gzip: bytes on the wire and time per response, each against identity.

Knobs: ``BENCH_EDGE_REQUESTS`` (default 2000).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import make_url
from starlette.applications import Starlette
from starlette.routing import Route

from common.settings import Settings
from graph.core.relay import to_global_id
from server.app import create_app
from server.compression import compress
from server.database import create_engine
from server.health import livez
from server.runtime import Runtime


def _runtime() -> Runtime:
    from auth.service import AuthRuntime
    from auth.tokens import SigningKeys
    from graph.school.schema import build_schema

    settings = dataclasses.replace(Settings(), cors_origins=("https://app.example.org",))
    keys = SigningKeys.generate()
    # A real engine that /livez never uses (it connects on first use only).
    url = make_url(os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres")
    return Runtime(
        settings=settings,
        engine=create_engine(url.set(drivername="postgresql+asyncpg"), settings),
        auth=AuthRuntime.from_settings(settings, keys),
        school_schema=build_schema(settings),
    )


async def _rate(app: Any, requests: int) -> float:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
    headers = {"origin": "https://app.example.org", "accept-encoding": "gzip, br, zstd"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(50):
            await client.get("/livez", headers=headers)
        started = time.perf_counter()
        for _ in range(requests):
            response = await client.get("/livez", headers=headers)
            assert response.status_code == 200
        return requests / (time.perf_counter() - started)


def _body() -> bytes:
    """A class view's shape: 60 pupils, 12 rungs each, with opaque ids (as random as real ones)."""

    def gid(kind: str, n: int) -> str:
        return to_global_id(kind, uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}{n}"))

    pupils = [
        {
            "pupil": {
                "id": gid("Pupil", n),
                "forename": f"Forename{n}",
                "surname": f"Surname{n * 7919 % 1000}",
            },
            "cells": [
                {"rungId": gid("Rung", r), "level": ("SECURE", "WORKING_TOWARDS", "NOT_YET")[(n * r) % 3]}
                for r in range(12)
            ],
        }
        for n in range(60)
    ]
    return orjson.dumps({"data": {"classProgress": {"pupils": pupils}}})


def main() -> int:
    requests = int(os.environ.get("BENCH_EDGE_REQUESTS") or 2000)
    full = create_app(_runtime())
    bare = Starlette(routes=[Route("/livez", livez)])
    # Alternate to share out any drift of the machine: bare, full, full, bare.
    rates: dict[str, list[float]] = {"bare": [], "full": []}
    for name in ("bare", "full", "full", "bare"):
        rates[name].append(asyncio.run(_rate(bare if name == "bare" else full, requests)))
    bare_rate, full_rate = (sum(rates[k]) / 2 for k in ("bare", "full"))
    print(
        f"edge: /livez requests/s  bare {bare_rate:8.0f}  full stack {full_rate:8.0f}  ratio {full_rate / bare_rate:.2f}"
    )
    body = _body()
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        bytes(body)
    identity = (time.perf_counter() - started) / rounds
    print(f"compression of a {len(body):,}-byte response (time per response, bytes on the wire):")
    for encoding in ("zstd", "br", "gzip"):
        started = time.perf_counter()
        for _ in range(rounds):
            packed = compress(body, encoding)
        seconds = (time.perf_counter() - started) / rounds
        print(
            f"  {encoding:5} {seconds * 1000:7.2f} ms  {len(packed):8,} bytes  {len(packed) / len(body):.3f} of identity"
        )
    print(f"  identity copy {identity * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The load: concurrent clients against each server, alternating rounds, and the table of results."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

from bench import loadgen
from bench.learning.seed import (
    CLASS_VIEW,
    GROUP_SIZE,
    PASSWORD,
    ClassView,
    Scale,
)
from bench.learning.servers import free_port, start, wait_for


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float
    client_cpu_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Endpoint:
    """A server under load and the prebuilt request of each sampled class."""

    name: str
    port: int
    process: psutil.Process
    requests: dict[ClassView, bytes]


async def load(endpoint: Endpoint, views: list[ClassView], scale: Scale) -> Result:
    """``scale.concurrency`` keep-alive connections request random classes for ``scale.seconds`` (after a
    short warm-up), through the light generator (:mod:`bench.loadgen`)."""
    measured = await loadgen.run(
        endpoint.port,
        lambda rng: endpoint.requests[rng.choice(views)],
        concurrency=scale.concurrency,
        seconds=scale.seconds,
        warmup=min(2.0, scale.seconds / 3),
        server=endpoint.process,
    )
    return Result(
        name=endpoint.name,
        requests=measured.requests,
        seconds=measured.seconds,
        p50_ms=measured.p50_ms,
        p95_ms=measured.p95_ms,
        server_cpu_ms=measured.server_cpu_ms,
        client_cpu_ms=measured.client_cpu_ms,
    )


async def fetch_json(port: int, request: bytes) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        status, body = await loadgen.read_response(reader)
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return json.loads(body)


async def sign_in_teachers(app_url: str, views: list[ClassView]) -> dict[tuple[str, str], str]:
    login = (
        "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) "
        "{ accessToken errors { code message } } }"
    )
    tokens: dict[tuple[str, str], str] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for view in views:
            key = (view.slug, view.teacher)
            if key in tokens:
                continue
            response = await client.post(
                f"{app_url}/schools/{view.slug}/graphql",
                json={"query": login, "variables": {"u": view.teacher, "p": PASSWORD}},
            )
            payload = response.json()["data"]["login"]
            if payload["errors"]:
                raise RuntimeError(f"bench login failed: {payload['errors']}")
            tokens[key] = payload["accessToken"]
    return tokens


def gid(kind: str, value: uuid.UUID) -> str:
    from graph.relay import to_global_id

    return str(to_global_id(kind, value))


async def measure(scale: Scale, views: list[ClassView], env: dict[str, str]) -> list[list[Result]]:
    app_port, floor_port = free_port(), free_port()
    app = start("serve_app", app_port, env)
    floor = start("serve_floor", floor_port, env)
    try:
        app_url, floor_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{floor_port}"
        await wait_for(f"{app_url}/healthz", app)
        await wait_for(f"{floor_url}/floor-up", floor)
        tokens = await sign_in_teachers(app_url, views)

        def graphql(view: ClassView, query: str = CLASS_VIEW) -> bytes:
            variables = {"group": gid("Group", view.group_id), "ladder": gid("Ladder", view.ladder_id)}
            body = json.dumps({"query": query, "variables": variables}).encode()
            return loadgen.request_bytes(
                "POST",
                f"/schools/{view.slug}/graphql",
                host=f"127.0.0.1:{app_port}",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {tokens[(view.slug, view.teacher)]}",
                },
            )

        def floor_request(view: ClassView) -> bytes:
            query = urlencode({"school": view.school_id, "group": view.group_id, "ladder": view.ladder_id})
            return loadgen.request_bytes("GET", f"/floor?{query}", host=f"127.0.0.1:{floor_port}")

        server, floor_server = psutil.Process(app.pid), psutil.Process(floor.pid)
        endpoints = [
            Endpoint(
                "floor (1 SQL statement)", floor_port, floor_server, {v: floor_request(v) for v in views}
            ),
            Endpoint("GraphQL classProgress", app_port, server, {v: graphql(v) for v in views}),
            Endpoint(
                "GraphQL { viewer } (fixed)",
                app_port,
                server,
                {v: graphql(v, "{ viewer { username } }") for v in views},
            ),
        ]
        for view in views:  # the same JSON from both, class by class
            a = await fetch_json(app_port, endpoints[1].requests[view])
            b = await fetch_json(floor_port, endpoints[0].requests[view])
            if a != b:
                raise RuntimeError(f"GraphQL and floor differ for {view}:\n{a}\n{b}")
            if len(a["data"]["classProgress"]["pupils"]) != GROUP_SIZE:
                raise RuntimeError(f"expected {GROUP_SIZE} pupils in {view}")

        rounds: list[list[Result]] = []
        for _ in range(scale.rounds):  # alternating, so that a change in the machine's load hits all alike
            rounds.append([await load(endpoint, views, scale) for endpoint in endpoints])
        return rounds
    finally:
        for process in (app, floor):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def ratio(results: list[Result]) -> float:
    floor, graphql = results[:2]
    return graphql.rps / floor.rps if floor.rps else 0.0


def print_results(results: list[Result]) -> None:
    print()
    print(
        f"{'endpoint':<28} {'requests':>9} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'server CPU ms/req':>18} {'client CPU ms/req':>18}"
    )
    for r in results:
        print(
            f"{r.name:<28} {r.requests:>9} {r.rps:>9.1f} {r.p50_ms:>9.2f} {r.p95_ms:>9.2f} "
            f"{r.server_cpu_ms:>18.2f} {r.client_cpu_ms:>18.2f}"
        )
    measured = ratio(results)
    verdict = "meets" if measured >= 0.5 else "below"
    print(f"\nratio GraphQL / floor requests/s: {measured:.2f}x ({verdict} the 0.5x goal)")
    print(
        "(the last row is the endpoint's fixed cost per request: token check, session and principal, "
        "transaction, validation; the class view pays it too. Client CPU is the load generator's: when it "
        "nears 1000 / req/s, the client, not the server, sets the pace.)"
    )

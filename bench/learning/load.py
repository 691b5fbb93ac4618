"""The load: concurrent clients against each server, alternating rounds, and the table of results."""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

from bench.learning.seed import (
    CLASS_VIEW,
    GROUP_SIZE,
    PASSWORD,
    ClassView,
    Scale,
)
from bench.learning.servers import free_port, start, wait_for

# --- load ---------------------------------------------------------------------------------------------------


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


async def load(
    name: str,
    make: Any,
    views: list[ClassView],
    scale: Scale,
    server: psutil.Process,
) -> Result:
    """``scale.concurrency`` clients request random classes for ``scale.seconds`` (after a short warm-up)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=scale.concurrency, max_keepalive_connections=scale.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        rng = random.Random(7)

        async def worker(deadline: float, record: bool) -> None:
            while time.perf_counter() < deadline:
                method, url, kwargs = make(rng.choice(views))
                started = time.perf_counter()
                response = await client.request(method, url, **kwargs)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
                if record:
                    latencies.append(elapsed)

        warm = time.perf_counter() + min(2.0, scale.seconds / 3)
        await asyncio.gather(*(worker(warm, False) for _ in range(scale.concurrency)))
        cpu_before = sum(server.cpu_times()[:2])
        client_before = sum(psutil.Process().cpu_times()[:2])
        started = time.perf_counter()
        deadline = started + scale.seconds
        await asyncio.gather(*(worker(deadline, True) for _ in range(scale.concurrency)))
        elapsed = time.perf_counter() - started
        cpu = sum(server.cpu_times()[:2]) - cpu_before
        client_cpu = sum(psutil.Process().cpu_times()[:2]) - client_before
    latencies.sort()
    return Result(
        name=name,
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(len(latencies) * 0.95) - 1] * 1000,
        server_cpu_ms=cpu / max(1, len(latencies)) * 1000,
        client_cpu_ms=client_cpu / max(1, len(latencies)) * 1000,
    )


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

        def graphql(view: ClassView) -> tuple[str, str, dict[str, Any]]:
            variables = {"group": gid("Group", view.group_id), "ladder": gid("Ladder", view.ladder_id)}
            return (
                "POST",
                f"{app_url}/schools/{view.slug}/graphql",
                {
                    "json": {"query": CLASS_VIEW, "variables": variables},
                    "headers": {"authorization": f"Bearer {tokens[(view.slug, view.teacher)]}"},
                },
            )

        def floor_request(view: ClassView) -> tuple[str, str, dict[str, Any]]:
            params = {
                "school": str(view.school_id),
                "group": str(view.group_id),
                "ladder": str(view.ladder_id),
            }
            return "GET", f"{floor_url}/floor", {"params": params}

        async with httpx.AsyncClient(timeout=30) as client:
            for view in views:  # the same JSON from both, class by class
                method, url, kwargs = graphql(view)
                a = (await client.request(method, url, **kwargs)).json()
                method, url, kwargs = floor_request(view)
                b = (await client.request(method, url, **kwargs)).json()
                if a != b:
                    raise RuntimeError(f"GraphQL and floor differ for {view}:\n{a}\n{b}")
                if len(a["data"]["classProgress"]["pupils"]) != GROUP_SIZE:
                    raise RuntimeError(f"expected {GROUP_SIZE} pupils in {view}")

        def viewer(view: ClassView) -> tuple[str, str, dict[str, Any]]:
            method, url, kwargs = graphql(view)
            return method, url, {**kwargs, "json": {"query": "{ viewer { username } }"}}

        server, floor_server = psutil.Process(app.pid), psutil.Process(floor.pid)
        rounds: list[list[Result]] = []
        for _ in range(scale.rounds):  # alternating, so that a change in the machine's load hits both
            floor_result = await load("floor (1 SQL statement)", floor_request, views, scale, floor_server)
            graphql_result = await load("GraphQL classProgress", graphql, views, scale, server)
            fixed = await load("GraphQL { viewer } (fixed)", viewer, views, scale, server)
            rounds.append([floor_result, graphql_result, fixed])
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

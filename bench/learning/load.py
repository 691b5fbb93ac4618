"""The load: concurrent clients against each server, alternating rounds, and the table of results."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import psutil

from bench import loadgen
from bench.learning import peer as peers
from bench.learning.seed import (
    BENCH_DATABASE,
    CLASS_VIEW,
    GROUP_SIZE,
    PASSWORD,
    ClassView,
    Scale,
    dsn,
    owner_url,
)
from bench.learning.servers import free_port, start, start_node, stop, wait_for


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float
    client_cpu_ms: float
    database_cpu_ms: float
    """The bench database's backends' CPU per request over the same time."""
    load_average: float = 0.0
    """The machine's 1-minute load average when this endpoint's load ended."""
    server_wait_ms: float | None = None
    """The server's wait for a CPU per request (:attr:`bench.loadgen.Measured.server_wait_ms`)."""
    database_reads: float | None = None
    """Blocks the bench database's backends read per request from outside PostgreSQL's shared buffers (the
    kernel's page cache or the disk; :func:`database_blocks`). A relation's new pages count too: a class
    view's 0.4, at 10 schools as at 1,000, are presumably the audit log's; the floors, which write nothing,
    read none once warm."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def server_busy(self) -> float | None:
        """The share of the time the server ran or was ready to run (:func:`bench.loadgen.busy`)."""
        return loadgen.busy(self.server_cpu_ms, self.server_wait_ms, self.rps)


@dataclass(frozen=True)
class Endpoint:
    """A server under load and the prebuilt request of each sampled class."""

    name: str
    port: int
    process: psutil.Process
    requests: dict[ClassView, bytes]
    database: str = BENCH_DATABASE
    """The database its server reads (whose backends' CPU and reads are counted)."""


def database_cpu(database: str = BENCH_DATABASE) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``database`` (by process id). A backend's
    title is ``postgres: <cluster>: <user> <database> <client> <state>``: the database is matched as a
    word, so another suite's ``<name>_more`` database is not counted as this one."""
    found = {}
    for process in psutil.process_iter(["cmdline", "cpu_times"]):
        cmdline = " ".join(process.info.get("cmdline") or ())
        times = process.info.get("cpu_times")
        if cmdline.startswith("postgres") and database in cmdline.split() and times is not None:
            found[process.pid] = times.user + times.system
    return found


async def database_blocks(database: str = BENCH_DATABASE) -> int | None:
    """Blocks read so far into shared buffers by ``database``'s backends (``pg_stat_database``, which each
    backend updates at the end of its transactions, at most once a second); None where the statistics
    cannot be read."""
    try:
        connection = await asyncpg.connect(dsn(owner_url(), database))
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        value = await connection.fetchval(
            "SELECT blks_read FROM pg_stat_database WHERE datname = $1", database
        )
        return None if value is None else int(value)
    finally:
        await connection.close()


async def load(endpoint: Endpoint, views: list[ClassView], scale: Scale) -> Result:
    """``scale.concurrency`` keep-alive connections request random classes for ``scale.seconds`` (after a
    short warm-up), through the light generator (:mod:`bench.loadgen`)."""
    warm = min(2.0, scale.seconds / 3)
    read_before = await database_blocks(endpoint.database)  # its own backend ends before the CPU is read
    before = database_cpu(endpoint.database)
    measured = await loadgen.run(
        endpoint.port,
        lambda rng: endpoint.requests[rng.choice(views)],
        concurrency=scale.concurrency,
        seconds=scale.seconds,
        warmup=warm,
        server=endpoint.process,
    )
    # The warm-up's share is included: per request it is the same work.
    after = database_cpu(endpoint.database)
    read_after = await database_blocks(endpoint.database)
    database = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    requests = max(1.0, measured.requests * (1 + warm / scale.seconds))
    reads = None if read_before is None or read_after is None else (read_after - read_before) / requests
    return Result(
        name=endpoint.name,
        requests=measured.requests,
        seconds=measured.seconds,
        p50_ms=measured.p50_ms,
        p95_ms=measured.p95_ms,
        server_cpu_ms=measured.server_cpu_ms,
        server_wait_ms=measured.server_wait_ms,
        client_cpu_ms=measured.client_cpu_ms,
        database_cpu_ms=database / requests * 1000,
        database_reads=reads,
        load_average=os.getloadavg()[0],
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
    from graph.core.relay import to_global_id

    return str(to_global_id(kind, value))


@dataclass(frozen=True)
class Peer:
    """Where the PostGraphile peer runs: its server script and what it needs to reach the database."""

    script: Path
    database_url: str
    public_key_pem: str


Round = dict[str, Result]
"""One round's results by endpoint key: floor, app, app_viewer, and peer, peer_viewer when it ran."""

NAMES = {
    "floor": "floor (1 SQL statement)",
    "floor_owner_tx": "floor, owner, request-shaped",
    "floor_rls": "floor, runtime role (RLS)",
    "app": "schoolgraph classProgress",
    "peer": "PostGraphile class view",
    "app_viewer": "schoolgraph { viewer }",
    "peer_viewer": "PostGraphile { viewer }",
}


EVERY = ("app", "peer", "floor", "app_viewer", "peer_viewer")
WARM_UP_SECONDS = 5.0
"""Each endpoint's untimed load before the timed rounds: a server's first seconds under load (its pools,
prepared statements and plans) are not its steady state. At 1,000 schools the first timed round was the
slowest in most runs before it, and in the one sequential run measured with it too (ADR 13, fifteenth pass)."""
TENANCY = ("app", "floor_owner_tx", "floor_rls")


@dataclass(frozen=True)
class Servers:
    """The running servers: each one's port and process (the peer's only when it runs)."""

    ports: dict[str, int]
    processes: dict[str, psutil.Process]


@contextlib.asynccontextmanager
async def serving(
    views: list[ClassView],
    env: dict[str, str],
    peer: Peer | None,
    keys: Sequence[str],
    scale: Scale,
    database: str = BENCH_DATABASE,
) -> AsyncIterator[dict[str, Endpoint]]:
    """The servers of ``database`` started, checked to answer alike class by class, and each endpoint named
    by ``keys`` (those that exist) loaded once untimed (:data:`WARM_UP_SECONDS`); stopped on leaving."""
    env = {**env, "BENCH_DATABASE_NAME": database}
    ports = {"app": free_port(), "floor": free_port(), "peer": free_port()}
    processes = {
        "app": start("serve_app", ports["app"], env),
        "floor": start("serve_floor", ports["floor"], env),
    }
    if peer is not None:
        peer_env = {**env, "PEER_DATABASE_URL": peer.database_url, "PEER_JWT_PUBLIC_KEY": peer.public_key_pem}
        processes["peer"] = start_node(peer.script, ports["peer"], peer_env)
    try:
        health = {"app": "/healthz", "floor": "/floor-up", "peer": "/graphql"}
        for name, process in processes.items():
            await wait_for(f"http://127.0.0.1:{ports[name]}{health[name]}", process)
        tokens = await sign_in_teachers(f"http://127.0.0.1:{ports['app']}", views)
        servers = Servers(ports, {name: psutil.Process(p.pid) for name, p in processes.items()})
        endpoints = prebuilt_endpoints(servers, views, tokens, database)
        await check_alike(endpoints, views)
        chosen = {key: endpoints[key] for key in keys if key in endpoints}
        warm = dataclasses.replace(scale, seconds=min(scale.seconds, WARM_UP_SECONDS))
        for endpoint in chosen.values():  # untimed (WARM_UP_SECONDS)
            await load(endpoint, views, warm)
        yield chosen
    finally:
        stop(processes.values())


async def measure(
    scale: Scale, views: list[ClassView], env: dict[str, str], peer: Peer | None, keys: Sequence[str] = EVERY
) -> list[Round]:
    """The endpoints named by ``keys`` (those that exist), served (:func:`serving`), loaded in alternating
    rounds."""
    async with serving(views, env, peer, keys, scale) as endpoints:
        rounds: list[Round] = []
        for _ in range(scale.rounds):  # alternating, so that a change in the machine's load hits all alike
            rounds.append({key: await load(endpoint, views, scale) for key, endpoint in endpoints.items()})
        return rounds


def round_order(counts: list[int], number: int) -> list[int]:
    """The numbers of schools in round ``number`` (from 0) of :func:`measure_alternating`: as given, then
    reversed every other round."""
    return counts if number % 2 == 0 else counts[::-1]


@dataclass(frozen=True)
class Tenancy:
    """One number of schools in ``BENCH_TENANTS``: its database, its sampled classes and its servers' env."""

    database: str
    views: list[ClassView]
    env: dict[str, str]


async def measure_alternating(
    scale: Scale, tenancies: dict[int, Tenancy], keys: Sequence[str] = TENANCY
) -> dict[int, list[Round]]:
    """Every number of schools served at once, each from its own database, and their rounds alternated
    (the order of the numbers reversed every other round), so that the machine's drift over the minutes
    of a run hits each alike and their ratio compares like with like."""
    async with contextlib.AsyncExitStack() as stack:
        served = {
            count: await stack.enter_async_context(
                serving(tenancy.views, tenancy.env, None, keys, scale, tenancy.database)
            )
            for count, tenancy in tenancies.items()
        }
        rounds: dict[int, list[Round]] = {count: [] for count in tenancies}
        for number in range(scale.rounds):
            for count in round_order(list(tenancies), number):
                endpoints, views = served[count], tenancies[count].views
                rounds[count].append({key: await load(e, views, scale) for key, e in endpoints.items()})
        return rounds


def prebuilt_endpoints(
    servers: Servers,
    views: list[ClassView],
    tokens: dict[tuple[str, str], str],
    database: str = BENCH_DATABASE,
) -> dict[str, Endpoint]:
    """Every endpoint's prebuilt request for each class: schoolgraph's, the floors', and the peer's."""
    ports, processes = servers.ports, servers.processes

    def post(port: int, path: str, view: ClassView, query: str, variables: dict[str, str]) -> bytes:
        return loadgen.request_bytes(
            "POST",
            path,
            host=f"127.0.0.1:{port}",
            body=json.dumps({"query": query, "variables": variables}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {tokens[(view.slug, view.teacher)]}",
                "X-School-Id": str(view.school_id),
            },
        )

    def app(view: ClassView, query: str = CLASS_VIEW) -> bytes:
        variables = {"group": gid("Group", view.group_id), "ladder": gid("Ladder", view.ladder_id)}
        return post(ports["app"], f"/schools/{view.slug}/graphql", view, query, variables)

    def peer(view: ClassView, query: str = peers.CLASS_VIEW) -> bytes:
        return post(
            ports["peer"],
            "/graphql",
            view,
            query,
            {"group": str(view.group_id), "ladder": str(view.ladder_id)},
        )

    def floor(route: str) -> Callable[[ClassView], bytes]:
        def request(view: ClassView) -> bytes:
            query = urlencode({"school": view.school_id, "group": view.group_id, "ladder": view.ladder_id})
            return loadgen.request_bytes("GET", f"{route}?{query}", host=f"127.0.0.1:{ports['floor']}")

        return request

    makers: dict[str, tuple[str, Callable[[ClassView], bytes]]] = {
        "floor": ("floor", floor("/floor")),
        "floor_owner_tx": ("floor", floor("/floor-owner-tx")),
        "floor_rls": ("floor", floor("/floor-rls")),
        "app": ("app", app),
        "app_viewer": ("app", lambda view: app(view, peers.VIEWER)),
        "peer": ("peer", peer),
        "peer_viewer": ("peer", lambda view: peer(view, peers.VIEWER)),
    }
    return {
        key: Endpoint(NAMES[key], ports[server], processes[server], {v: make(v) for v in views}, database)
        for key, (server, make) in makers.items()
        if server in processes
    }


async def check_alike(endpoints: dict[str, Endpoint], views: list[ClassView]) -> None:
    """The same class view from every server, class by class, before anything is timed."""
    for view in views:
        app = await fetch_json(endpoints["app"].port, endpoints["app"].requests[view])
        for key in ("floor", "floor_owner_tx", "floor_rls"):
            floor = await fetch_json(endpoints[key].port, endpoints[key].requests[view])
            if app != floor:
                raise RuntimeError(f"schoolgraph and {key} differ for {view}:\n{app}\n{floor}")
        if len(app["data"]["classProgress"]["pupils"]) != GROUP_SIZE:
            raise RuntimeError(f"expected {GROUP_SIZE} pupils in {view}")
        if "peer" in endpoints:
            other = await fetch_json(endpoints["peer"].port, endpoints["peer"].requests[view])
            if peers.normalise_app(app) != peers.normalise_peer(other):
                raise RuntimeError(f"schoolgraph and PostGraphile differ for {view}:\n{app}\n{other}")
        for viewer in ("app_viewer", "peer_viewer"):
            if viewer in endpoints:
                body = await fetch_json(endpoints[viewer].port, endpoints[viewer].requests[view])
                if body.get("data", {}).get("viewer") != {"username": view.teacher}:
                    raise RuntimeError(f"{viewer} answered {body} for {view.teacher}")


RATIOS = (
    ("schoolgraph / floor, class view", "app", "floor", 0.5),
    ("schoolgraph / PostGraphile, class view", "app", "peer", 1.2),
    ("schoolgraph / PostGraphile, { viewer }", "app_viewer", "peer_viewer", 1.0),
    ("RLS floor / owner floor, same transaction shape", "floor_rls", "floor_owner_tx", 0.9),
)


def ratios(results: Round) -> dict[str, float]:
    """Requests/s of one endpoint over another's, for each pair measured in this round."""
    return {
        label: results[a].rps / results[b].rps
        for label, a, b, _ in RATIOS
        if a in results and b in results and results[b].rps
    }


def print_results(results: Round) -> None:
    """The round's table. "server wait" is the server's time ready to run but waiting for a CPU, per
    request; "busy" the share of the load's time its process ran or waited to (near 100%: the one server
    process sets the pace; "-" where the system keeps no scheduler statistics); "DB reads/req" the blocks
    the database read per request from outside its shared buffers."""
    print()
    print(
        f"{'endpoint':<32} {'requests':>9} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'server CPU ms/req':>18} {'server wait ms/req':>19} {'busy':>5} {'DB CPU ms/req':>14} "
        f"{'DB reads/req':>13} {'client CPU ms/req':>18} {'load':>5}"
    )
    for r in results.values():
        wait = "-" if r.server_wait_ms is None else f"{r.server_wait_ms:.2f}"
        busy = "-" if r.server_busy is None else f"{r.server_busy:.0%}"
        reads = "-" if r.database_reads is None else f"{r.database_reads:.1f}"
        print(
            f"{r.name:<32} {r.requests:>9} {r.rps:>9.1f} {r.p50_ms:>9.2f} {r.p95_ms:>9.2f} "
            f"{r.server_cpu_ms:>18.2f} {wait:>19} {busy:>5} {r.database_cpu_ms:>14.2f} "
            f"{reads:>13} {r.client_cpu_ms:>18.2f} {r.load_average:>5.1f}"
        )
    print()
    for label, value in ratios(results).items():
        print(f"{label}: {value:.2f}x ({verdict(label, value)})")


def round_load(results: Round) -> float:
    """A round's load average: the mean of the 1-minute load average at the end of each of its loads."""
    values = [r.load_average for r in results.values()]
    return sum(values) / len(values) if values else 0.0


def verdict(label: str, value: float) -> str:
    goal = next(g for name, _, _, g in RATIOS if name == label)
    return f"{'meets' if value >= goal else 'below'} the {goal:g}x goal"

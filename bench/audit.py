"""The cost of the audit log: requests/s of a mutation over real HTTP, with and without the audit write.

``make bench-audit`` (``python -m bench bench.audit``). In a scratch database on the server of
``DATABASE_URL`` (or the embedded PostgreSQL), migrated afresh and dropped at the end, it seeds schools
and serves them with uvicorn on 127.0.0.1, two server processes side by side: one as shipped (the request
inserts its entries; the server's sequencer numbers, chains and signs them in the background), one with
the edge's audit insert replaced by a no-op (``audit.recorder.append`` and ``append_and_commit``, which
a request's trail calls to write itself; the latter then only commits) and no sequencer. Client and servers never share an interpreter. Concurrent clients rename groups
(``updateGroup``, a group per client) in two scenarios: all clients at one school (one school's log, one
sequencer: before issue 15, the queue on the chain head) and a school per client (the cost of the write
itself).

The machine is shared, and its load moves requests/s by tens of percent within a minute, so each scenario
runs, after an unmeasured round that warms both servers, in short segments that alternate strictly
between the two servers (with, without, with, ..., with: both stay up all along). Each interior segment
gives a ratio with/without against the mean of its two neighbours of the other mode, which cancels a
drift of the load that is linear over three segments; the figure is the median of those ratios
(:func:`sandwiched`). Each segment also reads the CPU time the server process and the database's
backends spent (from /proc), per request: what the audit costs in work, which the load of others moves
less, printed as the ratio of requests/s a machine the two saturate would reach. At the end the entries
the servers' sequencers left pending are sequenced and every school's log is verified (a lost or broken
entry fails the bench). Knobs: ``BENCH_AUDIT_ROUNDS`` (default 10: 21 segments per scenario),
``BENCH_AUDIT_REQUESTS`` (per segment, default 150), ``BENCH_AUDIT_CLIENTS`` (default 8),
``BENCH_AUDIT_SECONDS`` (segment time limit, default 6).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import URL, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from common.settings import REPO_ROOT

SLUG = "bench-audit"  # and -0, -1, ... for each school
PASSWORD = "bench audit lanterns at dusk"  # noqa: S105 - the throwaway bench school's admin
MUTATION = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { id } errors { code } } }"
LOGIN = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken } }"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass
class Segment:
    mode: str
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu: float
    """CPU seconds the server process spent in the segment."""
    database_cpu: float
    """CPU seconds the bench database's backends spent in the segment."""


# --- the server process ----------------------------------------------------------------------------------


def serve(port: int, *, audit: bool) -> None:
    """Serve the app on 127.0.0.1:``port`` (settings from the environment); without the audit write if asked."""
    import uvicorn

    from audit import recorder  # the module whose append a request's trail calls
    from common.settings import load_settings
    from server.app import create_app
    from server.collector import settle
    from server.database import create_engine, resolve_urls
    from server.runtime import build_runtime, load_keys

    if not audit:

        async def no_append(*args: Any, **kwargs: Any) -> None:
            return None

        async def commit_only(session: Any, transaction: Any, *args: Any, **kwargs: Any) -> None:
            await transaction.commit()

        # The names a request's trail calls to append its events (with its commit, at the edge).
        vars(recorder)["append"] = no_append
        vars(recorder)["append_and_commit"] = commit_only
    settings = load_settings()
    urls = resolve_urls(settings)
    runtime = build_runtime(settings, create_engine(urls.runtime, settings), load_keys(settings))
    if not audit:
        # Nor a sequencer: woken after each commit it would look for pending entries of the school (an
        # advisory lock and a read, a few round trips a second per school) that can never be there, a
        # cost the reference would carry and the audit then seem cheaper by.
        runtime = dataclasses.replace(runtime, audit_sequencer=None)
    app = create_app(runtime)
    settle()  # as `schoolgraph serve` does once its app is built (server.collector)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the scratch database --------------------------------------------------------------------------------


async def _create_database(owner: URL, name: str, *, drop_only: bool = False) -> None:
    from common.settings import Settings
    from server.database import create_engine

    engine = create_engine(owner, Settings(), pool_size=1)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            # Creating and dropping a database waits for a checkpoint: longer than a request's timeout.
            await connection.execute(text("SET statement_timeout = 0"))
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _seed(
    runtime_url: URL, schools: int, groups: int, *, first_school_groups: int | None = None
) -> list[tuple[str, list[str]]]:
    """``schools`` schools, each with its admin (password ``PASSWORD``) and ``groups`` groups (the first
    school ``first_school_groups`` when given): (slug, the groups' global ids) of each."""
    from auth.passwords import PasswordHasher
    from common.clock import utcnow
    from common.settings import Settings
    from graph.core.relay import to_global_id
    from models import Account, Group, Staff
    from server.database import create_engine
    from subscriptions.provisioning import create_school
    from tenants.context import bind

    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
    engine = create_engine(runtime_url, Settings(), pool_size=1)
    seeded: list[tuple[str, list[str]]] = []
    try:
        for n in range(schools):
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                slug = f"{SLUG}-{n}"
                school = await create_school(
                    session, slug=slug, name=f"Bench Primary {n}", phase="PRIMARY", urn=None, now=utcnow()
                )
                await bind(session, [school.id])
                admin = Staff(
                    school_id=school.id, forename="Ben", surname="Bench", work_email="ben@bench.example"
                )
                rows = [
                    Group(school_id=school.id, name=f"Group {i}", type="CLASS", year_group=4)
                    for i in range(first_school_groups if n == 0 and first_school_groups else groups)
                ]
                session.add_all([admin, *rows])
                await session.flush()
                session.add(
                    Account(
                        school_id=school.id,
                        username="admin",
                        password_hash=hasher.hash(PASSWORD),
                        role="SCHOOL_ADMIN",
                        staff_id=admin.id,
                    )
                )
                seeded.append((slug, [str(to_global_id("Group", g.id)) for g in rows]))
    finally:
        await engine.dispose()
    return seeded


async def _audit_rows(runtime_url: URL) -> tuple[int, int, list[str]]:
    """(entries written, entries the servers' sequencers left pending, problems verification found after
    the pending ones were sequenced as ``jobs run`` does): every entry must end in a verified tree."""
    from audit.sequencer import sequence_all
    from audit.verify import schools, verify_school
    from auth.tokens import SigningKeys
    from common.clock import utcnow
    from common.settings import Settings
    from models import AuditEntry, School
    from server.database import create_engine
    from tenants.context import bind

    engine = create_engine(runtime_url, Settings(), pool_size=1)
    keys = SigningKeys.generate()  # heads it signs here are checked by root, not by this throwaway key
    try:
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, (await session.execute(select(School.id))).scalars().all())
            rows = int((await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one())
            pending = int(
                (
                    await session.execute(
                        select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))  # type: ignore[union-attr]
                    )
                ).scalar_one()
            )
        await sequence_all(engine, keys, now=utcnow())
        problems = []
        async with AsyncSession(engine) as session:
            for school_id, slug in await schools(session):
                async with session.begin():
                    verdict = await verify_school(session, school_id, slug)
                if verdict.fault is not None or verdict.pending:
                    problems.append(f"{slug}: {verdict.fault or f'{verdict.pending} pending'}")
        return rows, pending, problems
    finally:
        await engine.dispose()


# --- the client ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(env: dict[str, str], *, audit: bool) -> Iterator[tuple[str, int]]:
    """A bench server process: its base URL and its pid (whose CPU time is read from /proc)."""
    port = _free_port()
    command = [sys.executable, "-m", "bench.audit", "serve", str(port), "audit" if audit else "no-audit"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)  # noqa: S603 - our own interpreter
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"the bench server exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the bench server did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: list[tuple[str, str]]
    """(school slug, group global id) of each concurrent client: each renames its own group."""


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (0 when it is gone or not readable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DatabaseCpu:
    """CPU time of the bench database's backends (both servers' connections, their sequencers and
    autovacuum's workers on it), read from /proc when PostgreSQL runs on this machine: unlike requests/s,
    it hardly moves with what else the machine runs."""

    def __init__(self, owner: URL, database: str) -> None:
        from common.settings import Settings
        from server.database import create_engine

        self.engine = create_engine(owner, Settings(), pool_size=1)
        self.database = database

    async def sample(self) -> dict[int, float]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": self.database},
            )
            return {int(pid): _cpu_seconds(int(pid)) for (pid,) in rows}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def _run_segment(
    base: str,
    server_pid: int,
    database: DatabaseCpu,
    mode: str,
    scenario: Scenario,
    requests: int,
    seconds: float,
) -> Segment:
    limits = httpx.Limits(
        max_connections=len(scenario.clients), max_keepalive_connections=len(scenario.clients)
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        tokens: dict[str, str] = {}
        for slug in sorted({slug for slug, _ in scenario.clients}):
            login = await client.post(
                f"/schools/{slug}/graphql", json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}}
            )
            tokens[slug] = login.json()["data"]["login"]["accessToken"]
        remaining = [requests]
        latencies: list[float] = []

        async def rename(slug: str, group: str, name: str) -> None:
            sent = time.perf_counter()
            response = await client.post(
                f"/schools/{slug}/graphql",
                json={"query": MUTATION, "variables": {"i": {"groupId": group, "name": name}}},
                headers={"authorization": f"Bearer {tokens[slug]}"},
            )
            latencies.append(time.perf_counter() - sent)
            body = response.json()
            if response.status_code != 200 or body.get("errors") or body["data"]["updateGroup"]["errors"]:
                raise RuntimeError(f"unexpected response: {response.status_code} {body}")

        async def worker(slug: str, group: str) -> None:
            n = 0
            while remaining[0] > 0 and time.perf_counter() < deadline:
                remaining[0] -= 1
                n += 1
                await rename(slug, group, f"{mode} {n}")

        # Warm up (connections, caches, the first plan of every statement) before the clock starts.
        for slug, group in scenario.clients:
            await rename(slug, group, "warm-up")
        latencies.clear()
        server_before, database_before = _cpu_seconds(server_pid), await database.sample()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(slug, group) for slug, group in scenario.clients))
        elapsed = time.perf_counter() - started
        server_cpu = _cpu_seconds(server_pid) - server_before
        database_cpu = database.spent(database_before, await database.sample())
        return Segment(mode, len(latencies), elapsed, latencies, server_cpu, database_cpu)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def _measure(
    owner: URL, database: str, servers: dict[bool, tuple[str, int]], scenarios: list[Scenario]
) -> dict[str, list[Segment]]:
    """Per scenario, ``2 * rounds + 1`` segments alternating strictly between the server with the audit
    and the server without, starting and ending with the audit: both servers are up all along, and each
    segment but the first and last sits between two of the other mode, so its ratio to the mean of its two
    neighbours cancels a drift of the shared machine that is linear over three segments
    (:func:`sandwiched`)."""
    requests = _env_int("BENCH_AUDIT_REQUESTS", 150)
    seconds = float(_env_int("BENCH_AUDIT_SECONDS", 6))
    rounds = _env_int("BENCH_AUDIT_ROUNDS", 10)
    cpu = DatabaseCpu(owner, database)
    results: dict[str, list[Segment]] = {}
    try:
        for scenario in scenarios:
            # An unmeasured round first: each server's first requests of a scenario pay for cold caches
            # (its statements, the database's pages) that the rounds after it do not.
            for audit in (True, False):
                base, pid = servers[audit]
                await _run_segment(base, pid, cpu, "warm-up", scenario, requests // 3, seconds / 2)
            for n in range(2 * rounds + 1):
                audit = n % 2 == 0
                base, pid = servers[audit]
                mode = WITH if audit else WITHOUT
                segment = await _run_segment(base, pid, cpu, mode, scenario, requests, seconds)
                results.setdefault(scenario.name, []).append(segment)
    finally:
        await cpu.engine.dispose()
    return results


WITH, WITHOUT = "with audit", "without audit"


def sandwiched(segments: list[Segment]) -> list[float]:
    """The ratio with/without of requests/s estimated at each interior segment of a strictly alternating
    run: a segment with the audit over the mean of its two neighbours without, or the mean of a segment's
    two neighbours with the audit over it. A load that rises or falls steadily across three segments
    weighs on both sides alike; the median of these is the bench's figure."""
    rate = [s.requests / s.seconds for s in segments]
    ratios = []
    for i in range(1, len(segments) - 1):
        around = (rate[i - 1] + rate[i + 1]) / 2
        ratios.append(rate[i] / around if segments[i].mode == WITH else around / rate[i])
    return ratios


def _cpu_per_request(segments: list[Segment], mode: str) -> tuple[float, float]:
    """Server and database CPU seconds per request of ``mode``'s segments."""
    mine = [s for s in segments if s.mode == mode]
    count = sum(s.requests for s in mine)
    return sum(s.server_cpu for s in mine) / count, sum(s.database_cpu for s in mine) / count


def main() -> int:
    from common.settings import load_settings
    from server.database import resolve_urls, runtime_url_for
    from server.migrate import upgrade

    clients = _env_int("BENCH_AUDIT_CLIENTS", 8)
    settings = load_settings()
    server_owner = resolve_urls(settings).owner
    database = f"schoolgraph_bench_audit_{os.getpid()}"
    owner = server_owner.set(database=database)
    asyncio.run(_create_database(server_owner, database))
    load_before = os.getloadavg()
    try:
        upgrade(owner, settings)
        runtime = runtime_url_for(owner, settings)
        seeded = asyncio.run(_seed(runtime, clients, clients))
        scenarios = [
            # Every request appends to the same school's log (before issue 15, the queue on its head).
            Scenario(f"{clients} clients, one school", [(seeded[0][0], g) for g in seeded[0][1]]),
            # The cost of the audit write itself: logs of different schools never wait for each other.
            Scenario(f"{clients} clients, a school each", [(slug, groups[0]) for slug, groups in seeded]),
        ]
        with tempfile.TemporaryDirectory(prefix="schoolgraph-bench-") as data_dir:
            env = {
                **os.environ,
                "DATABASE_URL": owner.render_as_string(hide_password=False),
                "SCHOOLGRAPH_DATA_DIR": data_dir,
                "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
                "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
                "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
                "PYTHONPATH": str(REPO_ROOT),
            }
            with _server(env, audit=True) as audited, _server(env, audit=False) as unaudited:
                results = asyncio.run(_measure(owner, database, {True: audited, False: unaudited}, scenarios))
            rows = asyncio.run(_audit_rows(runtime))
    finally:
        asyncio.run(_create_database(server_owner, database, drop_only=True))
    load_after = os.getloadavg()

    print("\nbench.audit: updateGroup over HTTP (uvicorn on 127.0.0.1), with and without the audit write")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    header = (
        f"{'scenario':<28} {'mode':<14} {'requests':>8} {'seconds':>8} {'req/s':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'server CPU ms/req':>17} {'database CPU ms/req':>19}"
    )
    print(header)
    for name, segments in results.items():
        for mode in (WITH, WITHOUT):
            mine = [s for s in segments if s.mode == mode]
            count, elapsed = sum(s.requests for s in mine), sum(s.seconds for s in mine)
            latencies = [x for s in mine for x in s.latencies]
            print(
                f"{name:<28} {mode:<14} {count:>8} {elapsed:>8.2f} {count / elapsed:>7.1f} "
                f"{_percentile(latencies, 0.5) * 1000:>7.2f} {_percentile(latencies, 0.95) * 1000:>7.2f} "
                f"{sum(s.server_cpu for s in mine) / count * 1000:>17.2f} "
                f"{sum(s.database_cpu for s in mine) / count * 1000:>19.2f}"
            )
        ratios = sandwiched(segments)
        print(
            f"{name:<28} ratio with/without at each interior segment: {', '.join(f'{r:.2f}' for r in ratios)}"
        )
        print(
            f"{name:<28} ratio with/without, median of {len(ratios)}: {statistics.median(ratios):.3f} "
            f"(the audit costs {(1 - statistics.median(ratios)) * 100:.1f}%)"
        )
        (server_with, database_with), (server_without, database_without) = (
            _cpu_per_request(segments, WITH),
            _cpu_per_request(segments, WITHOUT),
        )
        print(
            f"{name:<28} CPU per request (server + database) without/with: "
            f"{(server_without + database_without) / (server_with + database_with):.3f} "
            f"(the requests/s ratio of a machine the two saturate)"
        )
    written, pending, problems = rows
    print(
        f"audit entries written: {written}; left pending by the servers' sequencers at shutdown: {pending}; "
        f"after sequencing those, every school's log verifies: {problems or 'yes'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), audit=sys.argv[3:] != ["no-audit"])
    else:
        raise SystemExit(main())

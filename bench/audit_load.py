"""Two server instances, 200 clients writing, for a bounded time: 5xx, acknowledged writes lost, p95.

``make bench-audit-load`` (``python -m bench bench.audit_load``). In a scratch database (as
:mod:`bench.audit`), two uvicorn servers as shipped (each with its audit sequencer) share the database;
``BENCH_LOAD_CLIENTS`` clients (default 200), half on each server, each rename their own group
(``updateGroup``) back to back for ``BENCH_LOAD_SECONDS`` (default 20) in two scenarios: every client at
one school (one school's log, one sequencer at a time across both instances) and a school per client.
Requests are raw HTTP/1.1 over keep-alive connections (:mod:`bench.loadgen`), each with its own
``x-request-id``. Before the scenarios, every client of the second scenario writes for
``BENCH_LOAD_WARMUP_SECONDS`` (default 3; not measured), so the scenario run first does not pay for the
servers' start.

Printed per scenario: requests, requests/s, 5xx answers, other failures, acknowledged writes lost (a
client's group does not carry the last name the server acknowledged, or an acknowledged request has no
SUCCESS audit entry), p50 and p95; then the p95 ratio of one school to a school per client (goal at most
1.2) and whether every school's log verifies once the entries left pending are sequenced. The machine's
load moves absolute figures: read the ratios.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from sqlalchemy import URL, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.audit import LOGIN, MUTATION, PASSWORD, _audit_rows, _create_database, _env_int, _seed, _server
from bench.loadgen import read_response, request_bytes
from common.settings import REPO_ROOT


@dataclass
class Outcome:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    other_failures: int = 0
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)
    """group global id -> (the last name acknowledged, its request id)."""
    every_acknowledged: list[str] = field(default_factory=list)


def _tag(scenario: str) -> str:
    """The scenario in a request id (``x-request-id`` takes letters, digits and ``._:-`` only)."""
    return "".join(word[0] for word in scenario.split())


async def _tokens(base: str, slugs: set[str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        tokens = {}
        for slug in sorted(slugs):
            response = await client.post(
                f"/schools/{slug}/graphql", json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}}
            )
            tokens[slug] = response.json()["data"]["login"]["accessToken"]
        return tokens


async def _scenario(name: str, bases: list[str], clients: list[tuple[str, str]], seconds: float) -> Outcome:
    """Every client renames its own group on its own connection (client i on server i mod 2)."""
    tokens = await _tokens(bases[0], {slug for slug, _ in clients})
    outcome = Outcome(name)
    tag = _tag(name)

    async def client(index: int, slug: str, group: str, until: float) -> None:
        address = urlsplit(bases[index % len(bases)])
        host, port = address.hostname or "127.0.0.1", address.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while time.perf_counter() < until:
                n += 1
                label, request_id = f"{tag} {index} {n}", f"load-{tag}-{index}-{n}"
                body = json.dumps({"query": MUTATION, "variables": {"i": {"groupId": group, "name": label}}})
                request = request_bytes(
                    "POST",
                    f"/schools/{slug}/graphql",
                    host=f"{host}:{port}",
                    body=body.encode(),
                    headers={
                        "authorization": f"Bearer {tokens[slug]}",
                        "content-type": "application/json",
                        "x-request-id": request_id,
                    },
                )
                sent = time.perf_counter()
                writer.write(request)
                status, answer = await read_response(reader)
                outcome.latencies.append(time.perf_counter() - sent)
                if status >= 500:
                    outcome.server_errors += 1
                    continue
                parsed = json.loads(answer)
                if (
                    status == 200
                    and not parsed.get("errors")
                    and parsed["data"]["updateGroup"]["errors"] == []
                ):
                    outcome.acknowledged[group] = (label, request_id)
                    outcome.every_acknowledged.append(request_id)
                else:
                    outcome.other_failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(i, slug, group, until) for i, (slug, group) in enumerate(clients)))
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _lost(runtime_url: URL, outcome: Outcome) -> tuple[int, int]:
    """(groups whose name is not the last acknowledged one, acknowledged requests without a SUCCESS
    audit entry), read back from the database."""
    from common.settings import Settings
    from graph.core.relay import from_global_id
    from models import AuditEntry, Group, School
    from server.database import create_engine
    from tenants.context import bind

    engine = create_engine(runtime_url, Settings(), pool_size=1)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, (await session.execute(select(School.id))).scalars().all())
            ids = {}
            for group, (label, _) in outcome.acknowledged.items():
                decoded = from_global_id(group)
                assert decoded is not None
                ids[decoded[1]] = label
            found = await session.execute(select(Group.id, Group.name).where(Group.id.in_(ids)))  # type: ignore[attr-defined]
            names: dict[object, str] = {row[0]: row[1] for row in found}
            wrong_names = sum(names.get(group_id) != label for group_id, label in ids.items())
            recorded = set(
                (
                    await session.execute(
                        select(AuditEntry.request_id).where(
                            AuditEntry.action == "mutation.updateGroup",
                            AuditEntry.outcome == "SUCCESS",
                            AuditEntry.request_id.startswith(f"load-{_tag(outcome.name)}-"),  # type: ignore[union-attr]
                        )
                    )
                ).scalars()
            )
            unrecorded = sum(request_id not in recorded for request_id in outcome.every_acknowledged)
            return wrong_names, unrecorded
    finally:
        await engine.dispose()


def _p(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0


def main() -> int:
    from common.settings import load_settings
    from server.database import resolve_urls, runtime_url_for
    from server.migrate import upgrade

    clients = _env_int("BENCH_LOAD_CLIENTS", 200)
    seconds = float(_env_int("BENCH_LOAD_SECONDS", 20))
    warmup = float(_env_int("BENCH_LOAD_WARMUP_SECONDS", 3))
    settings = load_settings()
    server_owner = resolve_urls(settings).owner
    database = f"schoolgraph_bench_load_{os.getpid()}"
    owner = server_owner.set(database=database)
    asyncio.run(_create_database(server_owner, database))
    outcomes: list[tuple[Outcome, tuple[int, int]]] = []
    try:
        upgrade(owner, settings)
        runtime = runtime_url_for(owner, settings)
        seeded = asyncio.run(_seed(runtime, clients, 1, first_school_groups=clients))
        scenarios = [
            ("one school", [(seeded[0][0], g) for g in seeded[0][1]]),
            ("a school per client", [(slug, groups[0]) for slug, groups in seeded]),
        ]
        with tempfile.TemporaryDirectory(prefix="schoolgraph-bench-") as data_dir, ExitStack() as servers:
            env = {
                **os.environ,
                "DATABASE_URL": owner.render_as_string(hide_password=False),
                "SCHOOLGRAPH_DATA_DIR": data_dir,
                "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
                "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
                "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
                "PYTHONPATH": str(REPO_ROOT),
            }
            bases = [servers.enter_context(_server(env, audit=True))[0] for _ in range(2)]
            # Both servers' pools, caches and code paths warmed before anything is measured: the scenario
            # run first no longer pays for the start (its first requests took 1-5 s).
            asyncio.run(_scenario("warm up", bases, scenarios[1][1], warmup))
            for name, pairs in scenarios:
                outcome = asyncio.run(_scenario(name, bases, pairs, seconds))
                outcomes.append((outcome, asyncio.run(_lost(runtime, outcome))))
        written, pending, problems = asyncio.run(_audit_rows(runtime))
    finally:
        asyncio.run(_create_database(server_owner, database, drop_only=True))

    print(
        f"\nbench.audit_load: updateGroup, 2 server instances, {clients} clients, {seconds:.0f} s per scenario"
    )
    print(
        f"{'scenario':<22} {'requests':>8} {'req/s':>7} {'5xx':>5} {'other':>6} {'lost':>5} "
        f"{'unaudited':>9} {'p50 ms':>8} {'p95 ms':>8}"
    )
    p95 = {}
    for outcome, (lost, unaudited) in outcomes:
        p95[outcome.name] = _p(outcome.latencies, 0.95)
        print(
            f"{outcome.name:<22} {len(outcome.latencies):>8} {len(outcome.latencies) / outcome.seconds:>7.1f} "
            f"{outcome.server_errors:>5} {outcome.other_failures:>6} {lost:>5} {unaudited:>9} "
            f"{_p(outcome.latencies, 0.5):>8.1f} {p95[outcome.name]:>8.1f}"
        )
    print(f"p95 one school / a school per client: {p95['one school'] / p95['a school per client']:.2f}")
    print(
        f"audit entries written: {written}; pending at shutdown: {pending}; every school's log verifies: "
        f"{problems or 'yes'}"
    )
    failed = any(o.server_errors or lost or unaudited for o, (lost, unaudited) in outcomes) or problems
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

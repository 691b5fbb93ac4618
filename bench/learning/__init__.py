"""Benchmark of the teacher's class view over real HTTP, next to a hand-written single-SQL floor.

``make bench-learning`` (or ``python -m bench bench.learning``):

1. Creates a fresh database ``schoolgraph_bench_learning`` (``BENCH_DATABASE_NAME`` to choose another) on the server of ``BENCH_DATABASE_URL`` (else
   ``DATABASE_URL``, else the embedded PostgreSQL under ``.data/bench``), migrates it, and seeds a trust of
   ``BENCH_SCHOOLS`` (20) schools x ``BENCH_PUPILS`` (1,000) pupils, ``BENCH_GROUPS`` (40) groups of 30 each
   and their teachers, and judgements of every pupil on 6 starter ladders (about 15 rungs each, some with
   history), with COPY. The seeding connection is the owner's and must bypass row-level security
   (superuser, as the default local and embedded servers are): COPY FROM refuses tables under RLS.
2. Serves the app (uvicorn, one worker, 127.0.0.1) and, from this bench, the *floor*: one endpoint that
   answers the same class view with one hand-written SQL statement building the JSON in PostgreSQL.
   Beside them, where Node is installed, the *peer*: PostGraphile 4 over views and SQL functions of the same
   database, as the runtime role under the same row-level security (:mod:`bench.learning.peer`).
3. Checks all return the same class view for every class sampled, then loads each for ``BENCH_SECONDS``
   (10) with ``BENCH_CONCURRENCY`` (16) keep-alive connections of the light generator (:mod:`bench.loadgen`),
   and prints p50, p95, requests/s, the server's and the generator's CPU per request, the server's wait for a
   CPU per request and its share of the time running or waiting (:func:`bench.loadgen.busy`), and the ratios:
   schoolgraph / floor (goal 0.5x), schoolgraph / PostGraphile for the class view (goal 1.2x) and for
   ``{ viewer }`` (goal 1.0x).

``BENCH_ROUNDS`` (3; 1 when quick) repeats the loads in turn: the machine is shared, and alternating rounds
let a change in its load hit every endpoint alike. Each load records the machine's 1-minute load average
when it ends (a column of the table; a round's is the mean of its loads'), and the run closes with its
goals: each goal's median, verdict, and every round's figure with that round's load average.
``BENCH_TENANTS=10,1000`` seeds a database per number of schools (``<name>_10``, ``<name>_1000``;
``BENCH_PUPILS`` 100 each), serves them all at once, and loads the class view and two request-shaped floors
(the owner, who bypasses row-level security, and the runtime role under it) in rounds alternating between
the numbers (their order reversed every other round), so that the machine's drift over the run's minutes
hits each alike; then it prints how the class view's p95 and the database's CPU per request grew (goal: at
most 1.1x) and the RLS floor over the owner floor at each count (goal: at least 0.9x at the largest),
each with its rounds and their load averages. The database's CPU is that of its backends serving the
bench database (the database's name matched as a word of the backend's title), read from the operating
system.
``BENCH_INSTRUCTIONS=1`` counts the instructions the app and the floor execute per request instead of
timing them (:mod:`bench.learning.instructions`: under callgrind, figures that do not drift with the
machine's load).
``BENCH_PROFILE=<file>`` writes a cProfile of the app server there (``python -m pstats <file>``).
``BENCH_QUICK=1`` runs a small version (2 schools x 300 pupils, 10 groups, 3 s) for a smoke test. Nothing
here runs in ``make test``.

The modules: :mod:`bench.learning.seed` (scale, data, the floor's statement), :mod:`bench.learning.servers`
(the app and the floor, each in a child process), :mod:`bench.learning.load` (clients, rounds, the table).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from sqlalchemy import URL

from auth.tokens import SigningKeys
from bench import citus
from bench.learning import instructions
from bench.learning import peer as peers
from bench.learning.load import (
    EVERY,
    TENANCY,
    Peer,
    Round,
    Tenancy,
    measure,
    measure_alternating,
    print_results,
    ratios,
    round_load,
    round_order,
    verdict,
)
from bench.learning.seed import (
    BENCH_DATABASE,
    GROUP_SIZE,
    LADDERS_PER_PUPIL,
    PASSWORD,
    ClassView,
    Scale,
    dsn,
    owner_url,
    recreate_database,
    seed,
)
from common.settings import REPO_ROOT, Settings
from server.database import runtime_url_for


def main() -> int:
    scale = Scale.from_env()
    if os.environ.get("BENCH_INSTRUCTIONS") == "1":
        return _instructions(scale)
    tenants = os.environ.get("BENCH_TENANTS")
    if tenants:
        return _tenants([int(n) for n in tenants.split(",")], scale)
    # PostGraphile's SQL functions cannot be planned over distributed tables: no peer on Citus (ADR 19).
    keys = tuple(k for k in EVERY if not k.startswith("peer")) if citus.workers() else EVERY
    rounds = _run(scale, keys)
    _print_medians(rounds)
    return 0


def _run(scale: Scale, keys: Sequence[str]) -> list[Round]:
    """Seed a fresh bench database at ``scale``, serve it, and load the endpoints ``keys`` in rounds."""
    env, views, settings, keys_ = _seeded(scale)
    owner = owner_url()
    peer = _peer(owner, settings, keys_) if "peer" in keys else None
    sample = random.Random(11).sample(views, min(scale.sample, len(views)))
    rounds = asyncio.run(measure(scale, sample, env, peer, keys))
    for number, results in enumerate(rounds, start=1):
        print(f"\nround {number} of {len(rounds)} (load average {round_load(results):.1f})")
        print_results(results)
    return rounds


def _instructions(scale: Scale) -> int:
    """``BENCH_INSTRUCTIONS=1``: the app's and the floor's instructions per request (:mod:`bench.learning.instructions`)."""
    missing = instructions.available()
    if missing:
        print(f"bench.learning: no instruction counts: {missing}")
        return 1
    env, views, _, _ = _seeded(scale, timed=False)
    sample = random.Random(11).sample(views, min(12, len(views)))
    instructions.print_counts(asyncio.run(instructions.measure(sample, env)))
    return 0


def _seeded(
    scale: Scale, *, timed: bool = True, database: str = BENCH_DATABASE
) -> tuple[dict[str, str], list[ClassView], Settings, SigningKeys]:
    """A fresh bench database seeded at ``scale``: the servers' environment, the classes, the settings and
    the signing keys (the app's; the peer verifies the same tokens with their public half). ``timed``:
    whether the loads are timed (else their instructions are counted), for the heading."""
    from auth.passwords import PasswordHasher
    from common.settings import load_settings
    from server.migrate import upgrade

    data_dir = Path(tempfile.mkdtemp(prefix="schoolgraph-bench-"))
    owner = owner_url()
    keys_ = SigningKeys.generate()  # the app's, and the peer verifies the same tokens with its public half
    env = {
        **os.environ,
        "SCHOOLGRAPH_SIGNING_KEYS": keys_.to_json(),
        "DATABASE_URL": owner.render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(data_dir),
        "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
        "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
        "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
        "SCHOOLGRAPH_ACCESS_TOKEN_SECONDS": "3600",
        # As production logs: one JSON line per request (the console format costs more, and is for people).
        "SCHOOLGRAPH_LOG_FORMAT": "json",
    }
    load = (
        f"{scale.concurrency} concurrent clients, {scale.seconds:g} s per endpoint"
        if timed
        else f"instructions counted under callgrind, {instructions.CONNECTIONS} connections"
    )
    print(
        f"bench.learning: {scale.schools} schools x {scale.pupils} pupils, {scale.groups} groups of "
        f"{GROUP_SIZE}, {LADDERS_PER_PUPIL} ladders per pupil; {load}"
    )
    started = time.perf_counter()
    asyncio.run(recreate_database(owner, database))
    settings = load_settings(env)
    upgrade(owner.set(database=database), settings)
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
    views = asyncio.run(seed(owner, scale, hasher.hash(PASSWORD), database))
    seeded = time.perf_counter() - started
    asyncio.run(_count_and_print_seed(owner, seeded, database))
    return env, views, settings, keys_


def _per_round(values: Sequence[float], loads: Sequence[float], unit: str) -> str:
    """Each round's figure with the load average it was measured at, in the rounds' order."""
    return ", ".join(f"{v:.2f}{unit} (load {load:.1f})" for v, load in zip(values, loads, strict=True))


def _print_medians(rounds: list[Round]) -> None:
    """Every goal this run measured: the median over the rounds, its verdict, and each round's figure with
    that round's load average (what a closing note quotes)."""
    loads = [round_load(results) for results in rounds]
    print(f"\ngoals, medians over {len(rounds)} rounds (each round's figure with its load average):")
    for label in ratios(rounds[0]):
        values = [ratios(results)[label] for results in rounds]
        median = statistics.median(values)
        print(
            f"  {label}: {median:.2f}x ({verdict(label, median)}); rounds: {_per_round(values, loads, 'x')}"
        )


def _tenants(counts: list[int], scale: Scale) -> int:
    """``BENCH_TENANTS=10,1000``: the class view and the floors at each number of schools (100 pupils
    each), each from a database of its own, all served at once and their rounds alternated
    (:func:`bench.learning.load.measure_alternating`), then how p95 and the database's CPU per class view
    grew, and what row-level security costs the floor at each."""
    pupils = int(os.environ.get("BENCH_PUPILS") or 100)
    groups = int(os.environ.get("BENCH_GROUPS") or max(1, pupils // (GROUP_SIZE - 5)))
    tenancies: dict[int, Tenancy] = {}
    for count in counts:
        database = f"{BENCH_DATABASE}_{count}"
        at = dataclasses.replace(scale, schools=count, pupils=pupils, groups=groups)
        env, views, _, _ = _seeded(at, database=database)
        sample = random.Random(11).sample(views, min(scale.sample, len(views)))
        tenancies[count] = Tenancy(database, sample, env)
    measured = asyncio.run(measure_alternating(scale, tenancies, TENANCY))
    for number in range(scale.rounds):
        for count in round_order(counts, number):
            results = measured[count][number]
            print(
                f"\nround {number + 1} of {scale.rounds}, {count} schools (load average {round_load(results):.1f})"
            )
            print_results(results)
    first, last = min(counts), max(counts)
    loads = {count: [round_load(results) for results in measured[count]] for count in counts}

    def values(count: int, key: str, value: str) -> list[float]:
        return [float(getattr(results[key], value)) for results in measured[count]]

    print(
        f"\ngoals, schools {first} -> {last}, medians over {scale.rounds} rounds at each (each round's "
        "figure with its load average):"
    )
    for label, value, goal in (
        ("class view p95", "p95_ms", 1.1),
        ("class view DB CPU per request", "database_cpu_ms", 1.1),
    ):
        at_first, at_last = values(first, "app", value), values(last, "app", value)
        a, b = statistics.median(at_first), statistics.median(at_last)
        growth = b / a if a else 0.0
        print(
            f"  {label}: {a:.2f} -> {b:.2f} ms, {growth:.2f}x ({'meets' if growth <= goal else 'above'} the "
            f"{goal:g}x goal); at {first}: {_per_round(at_first, loads[first], ' ms')}; at {last}: "
            f"{_per_round(at_last, loads[last], ' ms')}"
        )
    label = "RLS floor / owner floor, same transaction shape"
    for count in counts:
        rls = [ratios(results)[label] for results in measured[count]]
        median = statistics.median(rls)
        print(
            f"  {label}, {count} schools: {median:.2f}x ({verdict(label, median)}); rounds: "
            f"{_per_round(rls, loads[count], 'x')}"
        )
    return 0


def _peer(owner: URL, settings: Settings, keys: SigningKeys) -> Peer | None:
    """The PostGraphile peer, installed and given its schema; None (and why) when Node is missing."""
    script = peers.install(REPO_ROOT / ".data" / "bench-peer")
    if script is None:
        print("no PostGraphile peer: node and npm are not installed")
        return None
    asyncio.run(peers.create_schema(dsn(owner, BENCH_DATABASE), settings.app_role))
    runtime = runtime_url_for(owner.set(database=BENCH_DATABASE), settings)
    return Peer(script, dsn(runtime), peers.public_key_pem(keys.public_jwks()))


async def _count_and_print_seed(owner: URL, seconds: float, database: str = BENCH_DATABASE) -> None:
    connection = await asyncpg.connect(dsn(owner, database))
    try:
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - constant names
            for table in ("pupils", "groups", "group_pupils", "judgements")
        }
        size = int(await connection.fetchval("SELECT pg_database_size(current_database())"))
        buffers = str(await connection.fetchval("SHOW shared_buffers"))
    finally:
        await connection.close()
    print("seeded in {:.1f} s: {}".format(seconds, ", ".join(f"{k} {v:,}" for k, v in counts.items())))
    print(
        f"the bench database: {size / 2**30:.1f} GiB; the server's shared_buffers: {buffers} (where a round's "
        "working set does not fit, its reads show in the DB reads/req column and cost the database CPU)"
    )

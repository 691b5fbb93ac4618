"""Benchmark of the teacher's class view over real HTTP, next to a hand-written single-SQL floor.

``make bench-learning`` (or ``python -m bench bench.learning``):

1. Creates a fresh database ``schoolgraph_bench_learning`` on the server of ``BENCH_DATABASE_URL`` (else
   ``DATABASE_URL``, else the embedded PostgreSQL under ``.data/bench``), migrates it, and seeds a trust of
   ``BENCH_SCHOOLS`` (20) schools x ``BENCH_PUPILS`` (1,000) pupils, ``BENCH_GROUPS`` (40) groups of 30 each
   and their teachers, and judgements of every pupil on 6 starter ladders (about 15 rungs each, some with
   history), with COPY. The seeding connection is the owner's and must bypass row-level security
   (superuser, as the default local and embedded servers are): COPY FROM refuses tables under RLS.
2. Serves the app (uvicorn, one worker, 127.0.0.1) and, from this bench, the *floor*: one endpoint that
   answers the same class view with one hand-written SQL statement building the JSON in PostgreSQL.
3. Checks both return the same JSON for every class sampled, then loads each for ``BENCH_SECONDS`` (10)
   with ``BENCH_CONCURRENCY`` (16) concurrent httpx clients, and prints p50, p95, requests/s, the server's
   CPU per request, and the ratio GraphQL / floor (goal: at least 0.5).

``BENCH_ROUNDS`` (3; 1 when quick) repeats the three loads in turn and prints the median ratio: the
machine is shared, and alternating rounds let a change in its load hit both endpoints alike.
``BENCH_PROFILE=<file>`` writes a cProfile of the app server there (``python -m pstats <file>``).
``BENCH_QUICK=1`` runs a small version (2 schools x 300 pupils, 10 groups, 3 s) for a smoke test. Nothing
here runs in ``make test``.

The modules: :mod:`bench.learning.seed` (scale, data, the floor's statement), :mod:`bench.learning.servers`
(the app and the floor, each in a child process), :mod:`bench.learning.load` (clients, rounds, the table).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import URL

from bench.learning.load import measure, print_results, ratio
from bench.learning.seed import (
    BENCH_DATABASE,
    GROUP_SIZE,
    LADDERS_PER_PUPIL,
    PASSWORD,
    Scale,
    dsn,
    owner_url,
    recreate_database,
    seed,
)


def main() -> int:
    from auth.passwords import PasswordHasher
    from common.settings import load_settings
    from server.migrate import upgrade

    scale = Scale.from_env()
    data_dir = Path(tempfile.mkdtemp(prefix="schoolgraph-bench-"))
    owner = owner_url()
    env = {
        **os.environ,
        "DATABASE_URL": owner.render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(data_dir),
        "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
        "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
        "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
        "SCHOOLGRAPH_ACCESS_TOKEN_SECONDS": "3600",
    }
    print(
        f"bench.learning: {scale.schools} schools x {scale.pupils} pupils, {scale.groups} groups of "
        f"{GROUP_SIZE}, {LADDERS_PER_PUPIL} ladders per pupil; {scale.concurrency} concurrent clients, "
        f"{scale.seconds:g} s per endpoint"
    )
    started = time.perf_counter()
    asyncio.run(recreate_database(owner))
    settings = load_settings(env)
    upgrade(owner.set(database=BENCH_DATABASE), settings)
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
    views = asyncio.run(seed(owner, scale, hasher.hash(PASSWORD)))
    seeded = time.perf_counter() - started
    asyncio.run(_count_and_print_seed(owner, seeded))
    sample = random.Random(11).sample(views, min(scale.sample, len(views)))
    rounds = asyncio.run(measure(scale, sample, env))
    for number, results in enumerate(rounds, start=1):
        if len(rounds) > 1:
            print(f"\nround {number} of {len(rounds)}")
        print_results(results)
    if len(rounds) > 1:
        ratios = sorted(ratio(results) for results in rounds)
        median = statistics.median(ratios)
        verdict = "meets" if median >= 0.5 else "below"
        print(
            f"\nmedian ratio over {len(rounds)} rounds: {median:.2f}x ({verdict} the 0.5x goal); "
            f"rounds: {', '.join(f'{r:.2f}x' for r in ratios)}"
        )
    return 0


async def _count_and_print_seed(owner: URL, seconds: float) -> None:
    connection = await asyncpg.connect(dsn(owner, BENCH_DATABASE))
    try:
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - constant names
            for table in ("pupils", "groups", "group_pupils", "judgements")
        }
    finally:
        await connection.close()
    print("seeded in {:.1f} s: {}".format(seconds, ", ".join(f"{k} {v:,}" for k, v in counts.items())))

"""``BENCH_INSTRUCTIONS=1 make bench-learning``: what a request costs each server, counted in instructions.

Requests per second on a shared 2-core machine scatter by a tenth between runs and drift over an afternoon
(ADR 13), so a change worth 3% cannot be seen in them. The instructions a process executes for the same
requests do not drift: here the app and the floor each run under callgrind (valgrind's instruction
counter, about 50x slower), receive the same prebuilt requests as the timed bench over four keep-alive
connections, ``BENCH_INSTRUCTION_REQUESTS`` (300) of each kind to warm up, then the counters are zeroed
and the same number again is counted. The app's count waits, before it is read, for its audit sequencer
(which numbers and chains the class view's read entries a second after their commit, in the same
process), so the sequencer's share is counted too: over-counted, since the app answers about a tenth as
many requests a second under callgrind as in the timed bench, and each of the sequencer's batches (a
transaction, a signed head) carries a handful of entries where the timed bench's carry a hundred (ADR 13,
eleventh pass: 16% of the class view's count, about 4% of its server CPU when timed).

Printed: instructions per request of the class view and of ``{ viewer }`` in the app, of the class view
in the floor, and the app's class view over the floor's.

What it does not count: the database's work (the timed bench's "DB CPU" column), and the load generator's.
Repeated on the same data it agrees within a few tenths of a percent on a quiet machine; under load a few
percent more, from work that depends on time (a connection idle for a second is pinged before it is
lent; the sequencer's batches). Needs valgrind (``callgrind_control`` with it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import psutil

from bench.learning.load import Servers, check_alike, prebuilt_endpoints, sign_in_teachers
from bench.learning.seed import ClassView
from bench.learning.servers import free_port, start, stop, wait_for

CONNECTIONS = 4
SEQUENCER_WAIT = 2.5
"""Seconds for the app's audit sequencer to take what the counted requests recorded (it settles 1 s)."""

KINDS = (
    ("app", "schoolgraph classProgress"),
    ("app_viewer", "schoolgraph { viewer }"),
    ("floor", "floor (1 SQL statement)"),
)


def available() -> str | None:
    """Why the count cannot run here, or None."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


async def measure(views: list[ClassView], env: dict[str, str]) -> dict[str, float]:
    """Instructions per request of each of :data:`KINDS`, its servers started under callgrind."""
    requests = int(os.environ.get("BENCH_INSTRUCTION_REQUESTS") or 300)
    out = Path(tempfile.mkdtemp(prefix="schoolgraph-instructions-"))
    ports = {"app": free_port(), "floor": free_port()}
    processes = {
        kind: start(
            f"serve_{kind}",
            ports[kind],
            env,
            wrapper=[
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out / kind}.out",
                f"--log-file={out / kind}.log",  # valgrind's own messages, not the table's
            ],
        )
        for kind in ports
    }
    try:
        await wait_for(f"http://127.0.0.1:{ports['app']}/healthz", processes["app"], seconds=600)
        await wait_for(f"http://127.0.0.1:{ports['floor']}/floor-up", processes["floor"], seconds=600)
        tokens = await sign_in_teachers(f"http://127.0.0.1:{ports['app']}", views)
        servers = Servers(ports, {kind: psutil.Process(p.pid) for kind, p in processes.items()})
        endpoints = prebuilt_endpoints(servers, views, tokens)
        await check_alike(endpoints, views)  # the same class view from both, as the timed bench checks
        counted: dict[str, float] = {}
        for key, _ in KINDS:
            endpoint = endpoints[key]
            server = "floor" if key == "floor" else "app"
            sequence = [endpoint.requests[views[i % len(views)]] for i in range(requests)]
            await send_all(endpoint.port, sequence)  # warm-up: caches, prepared statements, pool
            await asyncio.sleep(SEQUENCER_WAIT)
            pid = processes[server].pid
            await control("-z", pid)  # zero the counters
            await send_all(endpoint.port, sequence)
            await asyncio.sleep(SEQUENCER_WAIT if server == "app" else 0.5)
            await control("-d", pid)  # dump what was counted since
            counted[key] = last_dump(out, server) / requests
        return counted
    finally:
        stop(processes.values(), seconds=60)
        shutil.rmtree(out, ignore_errors=True)


async def send_all(port: int, sequence: list[bytes]) -> None:
    """Every request of ``sequence``, over :data:`CONNECTIONS` keep-alive connections, each answered 200."""
    from bench import loadgen

    async def connection(part: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in part:
                writer.write(request)
                status, body = await loadgen.read_response(reader)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection(sequence[i::CONNECTIONS]) for i in range(CONNECTIONS)))


async def control(option: str, pid: int) -> None:
    """``callgrind_control <option> <pid>``, waited for; its failure raised."""
    process = await asyncio.create_subprocess_exec(
        "callgrind_control",
        option,
        str(pid),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"callgrind_control {option} {pid} failed: {output.decode(errors='replace')}")


def last_dump(folder: Path, server: str) -> int:
    """The instructions counted in the server's newest dump (callgrind numbers them ``<file>.1``, ``.2``...)."""
    dumps = sorted(folder.glob(f"{server}.out.*"), key=lambda p: int(p.suffix[1:]))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump for {server} in {folder}")
    for line in dumps[-1].read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary in {dumps[-1]}")


def print_counts(counted: dict[str, float]) -> None:
    print(f"\n{'endpoint':<32} {'instructions per request':>26}")
    for key, name in KINDS:
        print(f"{name:<32} {counted[key]:>26,.0f}")
    print(
        f"\nschoolgraph class view / floor, instructions per request (app and floor processes only): "
        f"{counted['app'] / counted['floor']:.2f}x"
    )

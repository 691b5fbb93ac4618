"""A load generator that costs far less than the servers it measures: raw HTTP/1.1 over asyncio streams.

A general HTTP client (httpx) spends several milliseconds of CPU per request on URL parsing, header
models, connection-pool bookkeeping and decoding. On a 2-core machine that CPU is taken from the server
under test and caps what a fast endpoint can show. Here every request is prebuilt as bytes once
(:func:`request_bytes`); a worker writes one on its own keep-alive connection and reads the answer with a
minimal parser (status line, ``Content-Length`` or chunked body). The generator reports its own CPU per
request, so a reader sees when it, not the server, sets the pace.

It speaks only to the servers a bench starts on 127.0.0.1; every run is bounded in time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

Choose = Callable[[random.Random], bytes]
"""Picks the next request's bytes (for a random class, say)."""


def request_bytes(
    method: str, path: str, *, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One complete HTTP/1.1 request, keep-alive, ready to write as it is."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HTTPError(RuntimeError):
    pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one response (``Content-Length`` or chunked)."""
    status, _, body = await read_message(reader)
    return status, body


async def read_message(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    """The status, headers (names in lower case, a repeated one's last value) and body of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head[:-4].partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get(b"content-length")
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, headers, b"".join(parts)
            parts.append(await reader.readexactly(size + 2))
            parts[-1] = parts[-1][:-2]
    return status, headers, (await reader.readexactly(int(length)) if length else b"")


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    client_cpu_ms: float
    """The generator's own CPU per request: when it nears 1000 / requests per second, it sets the pace."""
    server_cpu_ms: float
    """The server process's CPU per request over the same recorded time (0 when not watched)."""
    server_wait_ms: float | None = None
    """The time per request the server's threads were ready to run but waited for a CPU (Linux's scheduler
    statistics, :func:`waited`; None when not watched or not known): on a machine shared with the
    database, what the server lost to the database's processes and the generator."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_busy(self) -> float | None:
        return busy(self.server_cpu_ms, self.server_wait_ms, self.rps)


def busy(cpu_ms: float, wait_ms: float | None, rps: float) -> float | None:
    """The share of a load's time a server was running or ready to run: its CPU and its wait for a CPU per
    request, times requests per second. Near 1, the server's one process is what sets the pace, however
    many cores the machine has (a process whose threads work at once, as Node's do, can pass 1). None when
    the wait is not known."""
    return None if wait_ms is None else (cpu_ms + wait_ms) * rps / 1000


def waited(process: psutil.Process | None) -> dict[int, int] | None:
    """Nanoseconds each thread of ``process`` has so far spent ready to run but not running, by thread id:
    the second field of Linux's ``/proc/<pid>/task/<tid>/schedstat``. None where the system does not keep
    them (another system, a kernel without scheduler statistics) or the process is gone."""
    if process is None:
        return None
    found: dict[int, int] = {}
    try:
        for task in Path(f"/proc/{process.pid}/task").iterdir():
            try:
                found[int(task.name)] = int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
    except OSError:
        return None
    return found or None


def waited_between(before: dict[int, int] | None, after: dict[int, int] | None) -> float | None:
    """Seconds the threads waited between two :func:`waited` readings: each thread's growth, a thread
    begun meanwhile counted whole (one ended meanwhile is not seen)."""
    if before is None or after is None:
        return None
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9


async def run(
    port: int,
    choose: Choose,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    seed: int = 7,
    host: str = "127.0.0.1",
    server: psutil.Process | None = None,
) -> Measured:
    """``concurrency`` keep-alive connections send requests back to back: ``warmup`` seconds unrecorded,
    then ``seconds`` recorded. Any answer but 200 stops the run with the body's start in the error."""
    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    rng = random.Random(seed)
    latencies: list[float] = []

    async def worker(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, until: float, record: bool
    ) -> None:
        clock = time.perf_counter
        while clock() < until:
            request = choose(rng)
            started = clock()
            writer.write(request)
            status, body = await read_response(reader)
            elapsed = clock() - started
            if status != 200:
                raise HTTPError(f"HTTP {status}: {body[:300]!r}")
            if record:
                latencies.append(elapsed)

    async def phase(length: float, record: bool) -> float:
        began = time.perf_counter()
        until = began + length
        await asyncio.gather(*(worker(r, w, until, record) for r, w in connections))
        return time.perf_counter() - began

    def cpu(process: psutil.Process | None) -> float:
        return 0.0 if process is None else sum(process.cpu_times()[:2])

    me = psutil.Process()
    try:
        await phase(warmup, False)
        mine, theirs, wait = cpu(me), cpu(server), waited(server)
        elapsed = await phase(seconds, True)
        mine, theirs = cpu(me) - mine, cpu(server) - theirs
        server_wait = waited_between(wait, waited(server))
    finally:
        for _, writer in connections:
            writer.close()
    return summarise(latencies, elapsed, mine, theirs, server_wait)


def summarise(
    latencies: Sequence[float],
    elapsed: float,
    client_cpu: float,
    server_cpu: float = 0.0,
    server_wait: float | None = None,
) -> Measured:
    ordered = sorted(latencies)
    count = len(ordered)
    return Measured(
        requests=count,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p95_ms=ordered[max(0, int(count * 0.95) - 1)] * 1000 if ordered else 0.0,
        client_cpu_ms=client_cpu / max(1, count) * 1000,
        server_cpu_ms=server_cpu / max(1, count) * 1000,
        server_wait_ms=None if server_wait is None else server_wait / max(1, count) * 1000,
    )

"""The bench's light load generator reads real HTTP/1.1 answers on a keep-alive connection: fixed-length
and chunked bodies, one after another, with their headers when asked, and stops on anything but 200."""

from __future__ import annotations

import asyncio
import os
import sys

import psutil
import pytest

from bench import loadgen


async def _serve(answers: list[bytes]) -> tuple[asyncio.Server, int, list[bytes]]:
    """A local server that answers each request it reads with the next of ``answers``."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client hung up: the run is over
                break
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            seen.append(head + await reader.readexactly(length))
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


async def test_fixed_length_and_chunked_bodies_on_one_connection() -> None:
    server, port, seen = await _serve(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ]
    )
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = loadgen.request_bytes("POST", "/x?y=1", host="h", body=b'{"a":1}', headers={"X-T": "1"})
        assert request == (
            b"POST /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nX-T: 1\r\nContent-Length: 7\r\n\r\n"
            b'{"a":1}'
        )
        answers = []
        for _ in range(3):
            writer.write(request)
            answers.append(await loadgen.read_response(reader))
        writer.close()
    assert answers == [(200, b"hello"), (200, b"abcde"), (404, b"")]
    assert seen == [request] * 3


async def test_a_message_has_its_headers_by_lower_case_name() -> None:
    server, port, _ = await _serve(
        [
            b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLink: <http://h/u?offset=2>; rel="next"\r\n'
            b"X-Total-Count: 7\r\n\r\n[]",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        ]
    )
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        get = loadgen.request_bytes("GET", "/u", host="h")
        writer.write(get)
        first = await loadgen.read_message(reader)
        writer.write(get)
        second = await loadgen.read_message(reader)
        writer.close()
    assert first == (
        200,
        {b"content-length": b"2", b"link": b'<http://h/u?offset=2>; rel="next"', b"x-total-count": b"7"},
        b"[]",
    )
    assert second == (200, {b"transfer-encoding": b"Chunked"}, b"{}")


async def test_a_run_stops_on_an_error_status() -> None:
    server, port, _ = await _serve([b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"])
    async with server:
        get = loadgen.request_bytes("GET", "/", host="h")
        with pytest.raises(loadgen.HTTPError, match="HTTP 500: b'oops'"):
            await loadgen.run(port, lambda rng: get, concurrency=1, seconds=0.2, warmup=0.0)


async def test_a_run_counts_every_recorded_answer() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server, port, seen = await _serve([ok] * 100_000)
    async with server:
        get = loadgen.request_bytes("GET", "/", host="h")
        measured = await loadgen.run(port, lambda rng: get, concurrency=1, seconds=0.3, warmup=0.1)
    assert measured.requests > 0
    assert len(seen) >= measured.requests  # the warm-up's requests are sent but not counted
    assert measured.p50_ms <= measured.p95_ms


def test_a_threads_wait_for_a_cpu_is_read_per_thread() -> None:
    """On Linux each thread's wait is its scheduler statistics' second field; between two readings a
    thread's growth counts, and a thread begun meanwhile counts whole."""
    found = loadgen.waited(psutil.Process())
    if not sys.platform.startswith("linux"):
        assert found is None
        return
    assert found is not None
    assert os.getpid() in found  # the main thread's id is the process's
    assert all(isinstance(ns, int) and ns >= 0 for ns in found.values())
    assert loadgen.waited_between({1: 100, 2: 50}, {1: 400, 2: 50, 3: 1_000}) == 1_300 / 1e9
    assert loadgen.waited_between(None, found) is None


def test_busy_is_cpu_and_wait_per_request_times_the_rate() -> None:
    assert loadgen.busy(1.2, 0.6, 500.0) == pytest.approx(0.9)
    assert loadgen.busy(1.2, None, 500.0) is None


async def test_a_run_reports_the_servers_wait_when_it_watches_one() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server, port, _ = await _serve([ok] * 100_000)
    async with server:
        get = loadgen.request_bytes("GET", "/", host="h")
        watched = psutil.Process()  # the server here runs in this process
        measured = await loadgen.run(
            port, lambda rng: get, concurrency=1, seconds=0.2, warmup=0.05, server=watched
        )
        unwatched = await loadgen.run(port, lambda rng: get, concurrency=1, seconds=0.1, warmup=0.0)
    if sys.platform.startswith("linux"):
        assert measured.server_wait_ms is not None and measured.server_wait_ms >= 0
        assert measured.server_busy is not None and measured.server_busy > 0
    assert unwatched.server_wait_ms is None and unwatched.server_busy is None

"""A response leaves the server in one write (``server.timeouts``: the protocol ``schoolgraph serve`` runs).

uvicorn writes a response's head when the app starts it and its body when the app sends it: two sends, two
TCP segments (the socket has ``TCP_NODELAY``), a waiting client woken twice. Served here by uvicorn with
``server_config``'s protocol on a real socket; what the server's socket was given is read off its ``send``
calls, each still made."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from common.settings import load_settings
from server.timeouts import FLUSH_BYTES, server_config
from tests.factories.apps import serving

PART = b"x" * (FLUSH_BYTES // 2 + 17)


async def _small(request: Request) -> Response:
    return JSONResponse({"answer": 42})


async def _big(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(7):
            yield PART  # no turn of the event loop between parts

    return StreamingResponse(parts(), media_type="application/octet-stream")


async def _streamed(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part
            await asyncio.sleep(0.05)  # the loop turns between parts: each goes out as it comes

    return StreamingResponse(parts(), media_type="text/plain")


APP = Starlette(routes=[Route("/small", _small), Route("/big", _big), Route("/streamed", _streamed)])


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, bytes]]]:
    """Every ``send`` of a socket in this process, by the socket's own port, made as usual."""
    made: list[tuple[int, bytes]] = []
    send = socket.socket.send

    def counted(self: socket.socket, data: Any, *args: Any) -> int:
        sent: int = send(self, data, *args)
        made.append((self.getsockname()[1], bytes(data[:sent])))
        return sent

    monkeypatch.setattr(socket.socket, "send", counted)
    yield made


@pytest.fixture
async def port() -> AsyncIterator[int]:
    config = server_config(
        APP, load_settings({}), host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    async with serving(config) as port:
        yield port


async def _exchange(port: int, paths: list[str]) -> list[bytes]:
    """Each path asked in turn on one keep-alive connection; each whole response (head and body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    answers = []
    try:
        async with asyncio.timeout(10):
            for path in paths:
                writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                if b"transfer-encoding: chunked" in head:
                    body = await reader.readuntil(b"0\r\n\r\n")
                else:
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    body = await reader.readexactly(length)
                answers.append(head + body)
    finally:
        writer.close()
    return answers


async def test_each_response_leaves_in_one_write(port: int, sends: list[tuple[int, bytes]]) -> None:
    answers = await _exchange(port, ["/small", "/small"])
    served = [data for source, data in sends if source == port]
    assert served == answers  # two sends, each a whole response, head and body together
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") and a.endswith(b'{"answer":42}') for a in answers)


async def test_a_large_body_goes_out_as_it_comes_and_whole(port: int, sends: list[tuple[int, bytes]]) -> None:
    """A body written faster than the loop turns is held no more than FLUSH_BYTES at a time, and nothing is
    lost or reordered."""
    [answer] = await _exchange(port, ["/big"])
    served = [data for source, data in sends if source == port]
    assert b"".join(served) == answer
    assert answer.count(PART) == 7
    assert len(served) >= 3 and all(len(data) < FLUSH_BYTES + len(PART) + 100 for data in served)


async def test_a_streamed_response_is_not_held_back(port: int, sends: list[tuple[int, bytes]]) -> None:
    """A part is written at the event loop's next turn, not at the response's end: the head and the first
    part leave together, each later part on its own, then the last chunk with the end."""
    [answer] = await _exchange(port, ["/streamed"])
    served = [data for source, data in sends if source == port]
    assert b"".join(served) == answer
    assert served[0].startswith(b"HTTP/1.1 200 OK\r\n") and served[0].endswith(b"4\r\none,\r\n")
    assert served[1:] == [b"4\r\ntwo,\r\n", b"5\r\nthree\r\n", b"0\r\n\r\n"]

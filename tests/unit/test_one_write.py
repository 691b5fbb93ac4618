"""server.timeouts.OneWrite: what the HTTP protocol writes in one step of the event loop (a response's
head and body) reaches the socket as one write, in order; closing writes what is gathered first. And a
real server with the protocol `schoolgraph serve` runs answers a keep-alive client request after
request."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.settings import Settings
from server.timeouts import OneWrite, server_config


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"extra {name}"


async def test_writes_of_one_step_are_one_write_in_order() -> None:
    socket = Recording()
    transport = OneWrite(socket, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(bytearray(b"body"))
    assert socket.writes == []
    await asyncio.sleep(0)
    assert socket.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert socket.writes[1:] == [b"next"]
    assert transport.get_extra_info("peername") == "extra peername"  # everything else is the socket's


async def test_close_writes_what_is_gathered_first() -> None:
    socket = Recording()
    transport = OneWrite(socket, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert socket.writes == [b"last words"] and socket.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
    assert socket.writes == [b"last words"]


async def test_the_served_protocol_answers_keep_alive_requests() -> None:
    import uvicorn

    async def hello(request: Request) -> Response:
        return Response(b"x" * int(request.query_params["n"]), media_type="text/plain")

    app = Starlette(routes=[Route("/", hello)])
    config = server_config(app, Settings(), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):  # up to ten seconds
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for n in (0, 5, 70_000):
            writer.write(f"GET /?n={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            assert await reader.readexactly(length) == b"x" * n
        writer.close()
    finally:
        server.should_exit = True
        await serving

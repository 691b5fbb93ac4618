"""uvicorn's HTTP protocol as ``schoolgraph serve`` runs it: a time limit on a request's headers, which
uvicorn does not have, and each response written to the socket whole.

uvicorn closes an idle keep-alive connection, but a client that opens a connection and sends its headers
a byte at a time (slowloris) holds it for as long as it likes. :func:`header_timeout_protocol` is
uvicorn's httptools protocol with a timer armed when a connection opens and again when a response is
complete, and disarmed when a request's headers are complete: a connection that has not sent its headers
within the time answers 408 and is closed. The body's own limit is the edge's (:mod:`server.body`).

uvicorn writes a response's status line and headers to the socket when the app starts the response, and
its body when the app sends it: two ``send`` calls a response, so (the socket having ``TCP_NODELAY``) two
TCP segments, and a client waiting for the whole response woken twice. The protocol's transport here
(:class:`CoalescingTransport`) holds what is written until the response is complete, or until the event
loop's next turn for a response still being streamed, or until 64 KiB are held: one write a response
(ADR 13, sixteenth pass).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from common.settings import Settings

FLUSH_BYTES = 64 * 1024
"""What :class:`CoalescingTransport` holds at most before writing it (a large or streamed body goes out
as it comes, with the transport's own flow control)."""


class CoalescingTransport(asyncio.Transport):
    """A connection's transport whose writes are held and written together: at :meth:`flush` (the
    protocol's, when a response is complete), at the event loop's next turn after the first write held,
    when :data:`FLUSH_BYTES` are held, and before the connection is closed. Everything else is the
    socket's transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0
        self._turn: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif self._turn is None:
            self._turn = self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what is held, in one write (nothing once the connection is closing: it is gone)."""
        held = self._take()
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def discard(self) -> None:
        """The connection is lost: what is held has nowhere to go."""
        self._take()

    def _take(self) -> bytes:
        """What is held, as one bytes object, no longer held (and no turn's flush left to come)."""
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
        held = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._size = 0
        return held

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self.discard()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()


_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    transport: CoalescingTransport

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self.transport.flush()  # the response whole, in one write
        pipelined = bool(self.pipeline)  # the next request's headers are already in
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self.transport is not None:
            self.transport.discard()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[Any]:
    """uvicorn's HTTP protocol class (its ``http=`` setting) with a ``seconds`` limit on headers."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout": float(seconds)})


class EnvironmentHeaderTimeoutProtocol(_HeaderTimeoutProtocol):
    """The same protocol for worker processes (``SCHOOLGRAPH_WORKERS`` > 1): a class of this module, so
    uvicorn's supervisor can hand it to the workers it spawns, with the limit read from the environment."""

    header_timeout = float(os.environ.get("SCHOOLGRAPH_HEADER_TIMEOUT_SECONDS") or 10)


def server_config(app: Any, settings: Settings, **overrides: Any) -> Config:
    """The uvicorn configuration ``schoolgraph serve`` runs with (tests start the same one): the header
    limit above, a short keep-alive, and no proxy headers (the client address is the socket's)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": header_timeout_protocol(settings.header_timeout_seconds),
        "timeout_keep_alive": 5,
        "proxy_headers": False,
        "log_level": "info",
        # Logging is the app's (server.logs): uvicorn's own configuration would bring back its access
        # log, which writes each client's address.
        "log_config": None,
        "access_log": False,
        **overrides,
    }
    if settings.workers > 1:
        # Several processes (uvicorn's supervisor): each builds the app from the environment.
        options.update(workers=settings.workers, factory=True, http=EnvironmentHeaderTimeoutProtocol)
    return Config(app, **options)

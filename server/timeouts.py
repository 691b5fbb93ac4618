"""A time limit on a request's headers, which uvicorn does not have.

uvicorn closes an idle keep-alive connection, but a client that opens a connection and sends its headers
a byte at a time (slowloris) holds it for as long as it likes. :func:`header_timeout_protocol` is
uvicorn's httptools protocol with a timer armed when a connection opens and again when a response is
complete, and disarmed when a request's headers are complete: a connection that has not sent its headers
within the time answers 408 and is closed. The body's own limit is the edge's (:mod:`server.body`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from common.settings import Settings

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # the next request's headers are already in
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
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

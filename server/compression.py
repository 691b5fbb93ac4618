"""Response compression, negotiated by ``Accept-Encoding``: zstd, br or gzip (RFC 9110 12.5.3 q-values;
among equals the server prefers zstd, then br, then gzip). Bodies under :data:`MIN_BYTES` go as they are,
and so does a response that already has a ``Content-Encoding``. Every response that could have been
compressed says ``Vary: Accept-Encoding``, so a shared cache keeps one copy per encoding.

The levels favour speed (a GraphQL response is made once and sent once): zstd 3, brotli 4, gzip 6.
"""

from __future__ import annotations

import gzip

import brotli
import zstandard
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.headers import header

MIN_BYTES = 1024
PREFERENCE = ("zstd", "br", "gzip")


def chosen_encoding(accept_encoding: str) -> str | None:
    """The encoding to answer with, or None (identity)."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[name] = q
    star = weights.get("*")
    best: str | None = None
    best_q = 0.0
    for encoding in PREFERENCE:
        q = weights.get(encoding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = encoding, q
    return best


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(body)
    if encoding == "br":
        return bytes(brotli.compress(body, quality=4))
    return gzip.compress(body, compresslevel=6)


class Compression:
    """ASGI middleware: buffers a response (GraphQL responses are never streamed) and compresses it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = chosen_encoding(header(scope, "accept-encoding") or "")
        if encoding is None:
            await self.app(scope, receive, _with_vary(send))
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = MutableHeaders(raw=list(start.get("headers", [])))
            if len(body) >= MIN_BYTES and "content-encoding" not in headers:
                body = compress(body, encoding)
                headers["content-encoding"] = encoding
                headers["content-length"] = str(len(body))
            headers.add_vary_header("Accept-Encoding")
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)


def _with_vary(send: Send) -> Send:
    async def varied(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message.get("headers", [])))
            headers.add_vary_header("Accept-Encoding")
            message = {**message, "headers": headers.raw}
        await send(message)

    return varied

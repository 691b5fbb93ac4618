"""Reading a request body within limits: its size while it is read, the time it may take, its JSON nesting.

A body is refused at the first byte over the limit (413), not after it has all arrived; a ``Content-Length``
over the limit is refused before anything is read. The whole body must arrive within a deadline counted
from the first read (408): a client that declares more than it sends, or trickles a byte at a time, holds
its request for that long and no longer. The same guard serves JSON bodies (read here) and multipart
bodies (read by Starlette's form parser).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive

from server.errors import RequestError
from server.headers import header


def too_large(limit: int) -> RequestError:
    return RequestError(413, "REQUEST_TOO_LARGE", f"The request body is over {limit} bytes.", limit=limit)


def guarded(request: Request, *, limit: int, seconds: float) -> Request:
    """``request`` reading its body through the size and time guard; raises :class:`RequestError`.

    The declared ``Content-Length`` is checked at once; the bytes actually received are counted as they
    arrive, since a declared length can lie."""
    declared = header(request.scope, "content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    return Request(request.scope, receive=_guarded_receive(request.receive, limit, seconds))


def _guarded_receive(receive: Receive, limit: int, seconds: float) -> Receive:
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    received = 0

    async def guarded_receive() -> Message:
        nonlocal deadline, received
        if deadline is None:
            deadline = loop.time() + seconds
        try:
            # A deadline on the awaiting task itself: ``wait_for`` would wrap every read in a task of its own.
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise RequestError(
                408, "REQUEST_TIMEOUT", f"The request body did not arrive within {seconds:g} seconds."
            ) from None
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large(limit)
        return message

    return guarded_receive


def parse_json(text: bytes | str, max_depth: int, what: str) -> Any:
    """``text`` as JSON nested at most ``max_depth`` deep; a :class:`RequestError` (400) names ``what``.

    orjson refuses nesting over 1024 itself (the standard library would recurse until it failed), and
    the walk below holds the rest to ``max_depth``."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise RequestError(400, "BAD_REQUEST", f"{what} is not valid JSON: {error}.") from None
    if _brackets(text) > max_depth:
        check_depth(value, max_depth, what)
    return value


def _brackets(text: bytes | str) -> int:
    """The opening brackets in ``text``, strings' included: an upper bound of its nesting depth (each level
    opens one), so a text with no more than ``max_depth`` cannot nest deeper, and a request's body of a
    few brackets is not walked (counted in C)."""
    if isinstance(text, str):
        return text.count("{") + text.count("[")
    return text.count(b"{") + text.count(b"[")


def check_depth(value: Any, max_depth: int, what: str) -> None:
    """Raise a 400 if ``value``'s arrays and objects nest deeper than ``max_depth`` (iteratively: no
    recursion for a hostile value to exhaust)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise RequestError(
                400,
                "JSON_TOO_DEEP",
                f"{what} nests arrays and objects more than {max_depth} deep.",
                limit=max_depth,
            )
        pending.extend((child, depth + 1) for child in children)

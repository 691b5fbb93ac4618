"""``server.headers.header`` answers what Starlette's ``Headers.get`` answers for any request's headers (names
in any case, a header sent twice, values of any Latin-1 bytes, names absent), reading them once per request."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from server.headers import header

NAMES = ["accept", "authorization", "origin", "x-request-id", "content-type", "cookie", "x-forwarded-for"]
_name = st.sampled_from(NAMES + [n.upper() for n in NAMES] + ["Accept", "X-CSRF-Token"])
_value = st.binary(max_size=20).map(lambda b: bytes(c for c in b if c not in b"\r\n\0"))


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.tuples(_name, _value), max_size=8), asked=st.lists(_name, min_size=1, max_size=6))
def test_header_answers_as_starlette_s_headers_get(raw: list[tuple[str, bytes]], asked: list[str]) -> None:
    """The headers as an ASGI server passes them (names lowered, each once or more, in order), asked by any
    names: the same answer as ``Headers.get``, None for a name not sent."""
    scope: dict[str, Any] = {"type": "http", "headers": [(n.lower().encode(), v) for n, v in raw]}
    expected = Headers(scope=scope)
    for name in asked:
        assert header(scope, name.lower()) == expected.get(name)


def test_header_reads_the_headers_once_per_request() -> None:
    """The first call reads every header into the scope; later calls, from any layer holding the same
    scope, read that, and a new request (a new scope) reads its own."""
    first: dict[str, Any] = {"type": "http", "headers": [(b"accept", b"text/html"), (b"accept", b"x/y")]}
    assert header(first, "accept") == "text/html"
    first["headers"] = []  # what the scope held when first asked is what is answered
    assert (header(first, "accept"), header(first, "origin")) == ("text/html", None)
    second: dict[str, Any] = {"type": "http", "headers": [(b"origin", b"https://a.example")]}
    assert (header(second, "accept"), header(second, "origin")) == (None, "https://a.example")

"""A request's headers by name, read once per request.

Starlette's ``Headers.get`` scans every header the request carries on each call, and for a header that is
absent raises and catches a ``KeyError`` (``Mapping.get``); a school request asks for about a dozen headers
across the edge's layers, most of them absent (``Origin``, ``X-Request-Id``, ``X-CSRF-Token``...), and
the ``Headers`` object is made again by each layer. :func:`header` reads them all once, into one dict kept
in the request's ASGI scope (shared by every layer and every ``Request`` made from it), with the answers
``Headers.get`` gives for a name in lower case (as ASGI servers pass every name): a header sent more than
once answered by its first value, values decoded as Latin-1. No layer of the app rewrites a request's
headers, so what was read first stays what the request carries.
"""

from __future__ import annotations

from starlette.types import Scope

_KEY = "schoolgraph.headers"


def header(scope: Scope, name: str) -> str | None:
    """The first value of the request's header ``name`` (lower case), or None when it was not sent."""
    found: dict[str, str] | None = scope.get(_KEY)
    if found is None:
        found = {}
        for key, value in scope["headers"]:
            found.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        scope[_KEY] = found
    return found.get(name)

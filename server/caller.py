"""What the edge reads about the caller from the HTTP request: the bearer token and the address."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    """The ``Authorization: Bearer`` token, or None when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request) -> str:
    """The peer's address as the server sees it (no proxy headers are trusted)."""
    return request.client.host if request.client else "unknown"

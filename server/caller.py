"""What the edge reads about the caller from the HTTP request: the bearer token and the address."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request

from server.headers import header


def bearer_token(request: Request) -> str | None:
    """The ``Authorization: Bearer`` token, or None when there is none."""
    scheme, _, token = (header(request.scope, "authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _trusted(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (``SCHOOLGRAPH_TRUSTED_PROXIES``);
    then ``X-Forwarded-For`` is read from the right (the entry the proxy itself appended), skipping the
    trusted proxies of a chain, and the first address that is not one is the client. Entries left of it
    were written by the client and are never believed; an unreadable entry ends the walk there."""
    networks = _networks(trusted)
    if not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        candidate = entry.strip()
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            return client
        client = candidate
        if not _trusted(candidate, networks):
            return candidate
    return client


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or the one trusted proxies forwarded (:func:`forwarded_client`)."""
    peer = request.client.host if request.client else "unknown"
    runtime = getattr(request.app.state, "runtime", None)
    trusted: tuple[str, ...] = runtime.settings.trusted_proxies if runtime is not None else ()
    return forwarded_client(peer, header(request.scope, "x-forwarded-for"), trusted)

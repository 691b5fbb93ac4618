"""The browser-session cookie at the edge (:mod:`graph.core.browser` says what it is and why): read from
the request, written on the response after the transaction committed."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from common.settings import Settings
from graph.core.browser import COOKIE_HEADER_VALUE, BrowserSession
from server.cors import origin_allowed
from server.headers import header


def cookie_name(slug: str) -> str:
    """One cookie per school: a refresh token is valid at its own school only. ``__Host-``: Secure, no
    Domain, path ``/`` (RFC 6265bis), so no other host or path can set or shadow it."""
    return f"__Host-schoolgraph-refresh-{slug}"


def browser_session(request: Request, settings: Settings, slug: str) -> BrowserSession:
    name = cookie_name(slug)
    return BrowserSession(
        cookie_name=name,
        presented=request.cookies.get(name) or None,
        csrf_header=header(request.scope, "x-csrf-token"),
        origin_allowed=origin_allowed(request, settings),
        requested=(header(request.scope, "x-session-transport") or "").lower() == COOKIE_HEADER_VALUE,
    )


def write_cookie(response: Response, context: Any, settings: Settings) -> None:
    """Set or clear the cookie as the request's sign-in resolvers decided (only after a commit)."""
    browser: BrowserSession | None = getattr(context, "browser", None)
    if browser is None:
        return
    same_site: Any = settings.cookie_same_site
    if browser.issue is not None:
        response.set_cookie(
            browser.cookie_name,
            browser.issue,
            max_age=int(settings.session_absolute_timeout.total_seconds()),
            path="/",
            secure=True,
            httponly=True,
            samesite=same_site,
        )
    elif browser.clear:
        response.delete_cookie(browser.cookie_name, path="/", secure=True, httponly=True, samesite=same_site)

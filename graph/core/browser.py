"""Browser sessions: the refresh token in an HttpOnly cookie instead of the response body.

A single-page app opts in per sign-in with the request header ``X-Session-Transport: cookie``. The sign-in
(and every rotation) then answers ``refreshToken: null`` and a ``csrfToken``, and the edge sets the refresh
token as a cookie the page's script can never read (``HttpOnly; Secure; SameSite``; ``__Host-`` prefix, so
it is bound to this host and path ``/``). ``refreshToken(input: {refreshToken: null})`` then takes the
token from the cookie, but only when the request also proves it comes from the app:

* ``X-CSRF-Token`` equals the CSRF token of the cookie's refresh token (a hash of it: the server keeps
  nothing, and the hash reveals nothing of the token). A cross-site form or image cannot set a header; a
  cross-origin script cannot send one without a CORS preflight, which only listed origins pass.
* ``Origin``, when the browser sends it, is this server's own or one of ``SCHOOLGRAPH_CORS_ORIGINS``.

``logout`` clears the cookie. Bearer tokens in the body stay the default (mobile apps and partners).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from common.errors import DomainError

COOKIE_HEADER_VALUE = "cookie"
"""The value of ``X-Session-Transport`` that asks for the cookie."""


def csrf_token(refresh_token: str) -> str:
    digest = hashlib.sha256(b"schoolgraph csrf\0" + refresh_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class BrowserSession:
    """The cookie side of one request: what the browser presented, and what the response must set.

    Mutable on purpose (the request's :class:`graph.context.Context` is frozen): a sign-in resolver records
    the cookie to set, the edge writes it on the response."""

    cookie_name: str
    presented: str | None
    """The refresh token in the request's cookie, if any."""
    csrf_header: str | None
    origin_allowed: bool
    requested: bool
    """``X-Session-Transport: cookie``: this client wants the refresh token as a cookie."""
    issue: str | None = None
    """A refresh token to set as the cookie in the response."""
    clear: bool = False

    def refresh_from_cookie(self) -> str:
        """The cookie's refresh token, if the request passes the CSRF checks; else a DomainError."""
        if self.presented is None:
            raise DomainError.one(
                "refreshToken",
                "REQUIRED",
                "Send the refresh token, or sign in with X-Session-Transport: cookie to keep it in a cookie.",
            )
        if not self.origin_allowed:
            raise DomainError.one(
                "refreshToken", "CSRF_FAILED", "This request's Origin may not use the session cookie."
            )
        expected = csrf_token(self.presented)
        if self.csrf_header is None or not hmac.compare_digest(self.csrf_header, expected):
            raise DomainError.one(
                "refreshToken",
                "CSRF_FAILED",
                "Send the csrfToken of your sign-in in the X-CSRF-Token header to use the session cookie.",
            )
        return self.presented

    @property
    def cookie_mode(self) -> bool:
        """Whether this response delivers the refresh token as a cookie: asked for, or already in use."""
        return self.requested or self.presented is not None

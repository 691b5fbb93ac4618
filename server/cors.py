"""Cross-origin requests from browsers: an allow-list of origins (``SCHOOLGRAPH_CORS_ORIGINS``).

A listed origin's preflight is answered (the methods and headers a GraphQL client sends) and its responses
carry ``Access-Control-Allow-Origin`` with that origin and ``Access-Control-Allow-Credentials``, so a
frontend there may send the browser-session cookie; any other origin's preflight is refused (400) and its
responses carry no CORS header, so the browser withholds them from the page. No wildcard: a credentialed
response names one origin (Fetch standard, CORS protocol).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.settings import Settings
from server.headers import header

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "x-request-id",
    "x-csrf-token",
    "x-session-transport",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
"""What graphql-request, urql, Apollo Client (with apollo-upload-client) and Relay send, and ours."""


class CORS:
    """The CORS protocol for the listed origins only (ASGI middleware). A request without ``Origin`` or
    from an unlisted origin passes through untouched: its response carries no CORS header at all (not even
    ``Access-Control-Allow-Credentials``), and an unlisted origin's preflight is refused with 400."""

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        self.app, self.origins = app, frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = header(scope, "origin")
        method = header(scope, "access-control-request-method")
        preflight = scope["method"] == "OPTIONS" and method is not None
        listed = origin is not None and origin.lower().rstrip("/") in self.origins
        if preflight and origin is not None:
            response = (
                PlainTextResponse("", headers={**self._credentials(origin), **_PREFLIGHT})
                if listed and method is not None and method.upper() in ("GET", "POST")
                else PlainTextResponse("This origin may not call the API.", status_code=400)
            )
            await response(scope, receive, send)
            return
        if not listed or origin is None:
            await self.app(scope, receive, send)
            return
        extra = [(k.encode(), v.encode()) for k, v in self._credentials(origin).items()]
        extra.append((b"access-control-expose-headers", b"x-request-id"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _credentials(origin: str) -> dict[str, str]:
        return {
            "access-control-allow-origin": origin,
            "access-control-allow-credentials": "true",
            "vary": "Origin",
        }


_PREFLIGHT = {
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": ", ".join(ALLOWED_HEADERS),
    "access-control-max-age": "600",
}


def cors_middleware(settings: Settings) -> list[Middleware]:
    """The CORS middleware over the allow-list; none without one (same-origin frontends and native apps)."""
    if not settings.cors_origins:
        return []
    return [Middleware(CORS, origins=settings.cors_origins)]


def origin_allowed(request: Request, settings: Settings) -> bool:
    """Whether the request's ``Origin`` (sent by browsers on every cross-origin and every POST request) is
    this server's own or a listed one. No Origin at all (a native app, curl) is not a browser's
    cross-site request, which is what the origin check guards against."""
    origin = header(request.scope, "origin")
    if origin is None:
        return True
    origin = origin.lower().rstrip("/")
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    return origin == own or origin in settings.cors_origins

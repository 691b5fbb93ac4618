"""The ASGI application: routes (the school, trust and platform endpoints), security headers, and the runtime
built at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.admin_http import platform_graphql, trust_graphql
from server.compression import Compression
from server.cors import cors_middleware
from server.graphiql import assets_mount
from server.health import livez, readyz
from server.http import school_graphql
from server.logs import log_request
from server.metrics import Observed, metrics
from server.oauth_http import introspection_endpoint, revocation_endpoint, server_metadata, token_endpoint
from server.oneroster_http import PREFIX as ONEROSTER
from server.oneroster_http import (
    oneroster_class_of_school,
    oneroster_collection,
    oneroster_nested,
    oneroster_object,
    oneroster_push,
    oneroster_unknown,
)
from server.persisted import check_registered_operations
from server.runtime import Runtime
from server.subject_access_http import subject_access_download
from server.termination_http import (
    school_termination_export_download,
    school_termination_export_release,
    termination_export_download,
)
from server.tracing import instrument, tracing_configured


async def jwks(request: Request) -> Response:
    """The public signing keys, for anyone verifying schoolgraph's access tokens."""
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(runtime.auth.keys.public_jwks(), headers={"cache-control": "public, max-age=300"})


class SecurityHeaders:
    """Headers every response carries (LL-S2 P2: HTTPS enforced through HSTS in production)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                # no-store by default, but a route that chose its caching (the JWKS) keeps its one header:
                # two Cache-Control headers contradict each other.
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(runtime: Runtime, *, on_shutdown: Callable[[], None] | None = None) -> Starlette:
    """The app over an already-built runtime (tests build one around their own engine)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime.audit_sequencer is not None:
            runtime.audit_sequencer.start()
        yield
        if runtime.audit_sequencer is not None:
            await runtime.audit_sequencer.stop()
        if tracer is not None:
            tracer.shutdown()
        await runtime.engine.dispose()
        if on_shutdown is not None:
            on_shutdown()

    app = Starlette(
        routes=[
            Route("/schools/{slug}/graphql", school_graphql, methods=["GET", "POST"]),
            Route("/trusts/{slug}/graphql", trust_graphql, methods=["GET", "POST"]),
            Route("/platform/graphql", platform_graphql, methods=["GET", "POST"]),
            Route("/schools/{slug}/subject-access/{request_id}", subject_access_download, methods=["GET"]),
            Route("/schools/{slug}/termination-export", school_termination_export_download, methods=["GET"]),
            Route(
                "/schools/{slug}/termination-export/release",
                school_termination_export_release,
                methods=["POST"],
            ),
            Route(
                "/trusts/{slug}/termination-exports/{school_id}", termination_export_download, methods=["GET"]
            ),
            Route("/.well-known/jwks.json", jwks, methods=["GET"]),
            Route("/healthz", readyz, methods=["GET"]),
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *([Route("/metrics", metrics, methods=["GET"])] if runtime.settings.metrics else []),
            # Integration partners (issue 14): OAuth 2.0 client credentials and the OneRoster provider.
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/oauth/revoke", revocation_endpoint, methods=["POST"]),
            Route("/oauth/introspect", introspection_endpoint, methods=["POST"]),
            Route("/.well-known/oauth-authorization-server", server_metadata, methods=["GET"]),
            Route(f"/schools/{{slug}}{ONEROSTER}/packages", oneroster_push, methods=["POST"]),
            Route(f"/schools/{{slug}}{ONEROSTER}/{{collection}}", oneroster_collection, methods=["GET"]),
            Route(
                f"/schools/{{slug}}{ONEROSTER}/{{collection}}/{{sourced_id}}",
                oneroster_object,
                methods=["GET"],
            ),
            Route(
                f"/schools/{{slug}}{ONEROSTER}/{{collection}}/{{sourced_id}}/{{nested}}",
                oneroster_nested,
                methods=["GET"],
            ),
            Route(
                f"/schools/{{slug}}{ONEROSTER}/schools/{{school}}/classes/{{class_id}}/{{nested}}",
                oneroster_class_of_school,
                methods=["GET"],
            ),
            Route(f"/schools/{{slug}}{ONEROSTER}/{{rest:path}}", oneroster_unknown, methods=["GET"]),
        ],
        middleware=[
            *cors_middleware(runtime.settings),
            Middleware(Compression),
            Middleware(SecurityHeaders, hsts=runtime.settings.production),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    check_registered_operations(runtime.settings)  # an unreadable or wrong operations file fails here
    if runtime.settings.graphiql:
        app.router.routes.append(assets_mount())
    # Outermost: every request is timed, counted and logged, whatever answers it.
    app.add_middleware(Observed, router=app.router, log_request=log_request)
    tracer = instrument(app, runtime.engine) if tracing_configured() else None
    # The trust and platform schemas are built here rather than in the Runtime, which carries the school
    # schema that everything else uses; building them takes milliseconds.
    from graph.platform.schema import build_schema as build_platform_schema
    from graph.trust.schema import build_schema as build_trust_schema

    app.state.trust_schema = build_trust_schema(runtime.settings)
    app.state.platform_schema = build_platform_schema(runtime.settings)
    return app

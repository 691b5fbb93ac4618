"""The OAuth 2.0 endpoints for integration partners (issue 14): token (RFC 6749 4.4, client credentials),
revocation (RFC 7009), introspection (RFC 7662) and the server's metadata (RFC 8414).

Each request is one transaction. Bodies are ``application/x-www-form-urlencoded`` (at most 16 KiB, no
parameter twice, RFC 6749 3.2); every refusal is the RFC's JSON error (``invalid_request``,
``invalid_client``, ``unsupported_grant_type``, ``invalid_scope``, ``invalid_target``), never a 500 with a
trace. A failed client authentication is counted against the caller's address (``auth/throttling.py``:
refused with 429 once throttled) and recorded in the platform audit log with the client id it claimed;
an issued or refused token for a school is recorded in that school's chain with actor PARTNER. A request
the server fails (the database, a statement error) is recorded FAILED and answered 503
``temporarily_unavailable`` or 500 ``server_error`` (:mod:`server.door`). Secrets and tokens never reach
a log or the audit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.platform import PlatformTrail
from auth.throttling import address_blocked, record_address_failure
from common.events import Actor
from models.partners import Partner
from partners import oauth
from partners.scopes import SCOPES
from server.caller import client_address
from server.door import Door, serve_audited
from server.errors import RequestError
from server.runtime import Runtime
from server.transaction import record_unresolved, request_id_of

MAX_FORM_BYTES = 16 * 1024
ASSERTION_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")
"""Algorithms a partner may sign its client assertion with (private_key_jwt)."""
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}

OAUTH_REALM = "oauth"
"""The throttle realm of failed client authentications at the token endpoint (one for every school: a
client is the platform's, not a school's)."""


class Throttled(OAuth2Error):  # type: ignore[misc]
    """Too many failed client authentications from this address (``auth/throttling.py``)."""

    error = "temporarily_unavailable"
    status_code = 429


def issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def metadata(request: Request) -> dict[str, Any]:
    """RFC 8414 metadata of this authorization server, checked by authlib's validator (when served over https, as
    in production: the RFC requires https URLs, and a development server on http://127.0.0.1 still
    describes itself)."""
    base = issuer(request)
    document = AuthorizationServerMetadata(
        {
            "issuer": base,
            "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "scopes_supported": list(SCOPES),
            "response_types_supported": [],
            "grant_types_supported": [oauth.GRANT_TYPE],
            "token_endpoint_auth_methods_supported": list(oauth.AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "revocation_endpoint": f"{base}/oauth/revoke",
            "revocation_endpoint_auth_methods_supported": list(oauth.AUTH_METHODS),
            "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "introspection_endpoint": f"{base}/oauth/introspect",
            "introspection_endpoint_auth_methods_supported": list(oauth.AUTH_METHODS),
            "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        }
    )
    if base.startswith("https://"):
        for key in document.REGISTRY_KEYS:
            # No authorization endpoint (client credentials only), so no response types: RFC 8414 lists
            # the member as required with the authorization endpoint in mind; it is served empty.
            if key != "response_types_supported":
                getattr(document, f"validate_{key}")()
    return dict(document)


async def server_metadata(request: Request) -> Response:
    return JSONResponse(metadata(request), headers={"cache-control": "public, max-age=300"})


def error_response(error: OAuth2Error, headers: dict[str, str] | None = None) -> Response:
    status, body, error_headers = error()
    merged = {name.lower(): value for name, value in error_headers}
    merged.pop("content-type", None)
    return JSONResponse(body, status_code=status, headers={**merged, **NO_STORE, **(headers or {})})


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("The body must be application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequestError(f"The body is over {MAX_FORM_BYTES} bytes.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("The body is not a valid form.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequestError(f"The parameter {name!r} is given more than once.")
        form[name] = value
    return form


Handler = Callable[
    [AsyncSession, Runtime, Request, dict[str, str], Partner, PlatformTrail], Awaitable[Response]
]


async def _serve(request: Request, handle: Handler, *, grant: bool = False) -> Response:
    """Parse, authenticate the client (throttled and audited), then ``handle``: in one transaction, its
    trail in the platform log (and the school's) committed with it, or recorded FAILED if it fails
    (:mod:`server.door`). A body that is not a valid form is refused before any transaction, and recorded
    in the platform log like the other doors' unreadable bodies (counted per address)."""
    runtime: Runtime = request.app.state.runtime
    try:
        form = await _form(request)
    except OAuth2Error as error:
        refused = RequestError(error.status_code, "INVALID_REQUEST", str(error.description or ""))
        await record_unresolved(runtime, request, request_id_of(request), refused, now=runtime.clock.now())
        return error_response(error)

    async def run(door: Door) -> Response:
        trail = door.audit(
            PlatformTrail(
                actor=Actor.anonymous(), request_id=door.request_id, client_address=client_address(request)
            )
        )
        try:
            return await _authenticated(door.session, runtime, request, form, trail, handle, grant, door.now)
        except OAuth2Error as error:
            response = error_response(error)
            if isinstance(error, Throttled):
                response.headers["retry-after"] = str(
                    int(runtime.settings.address_failure_window.total_seconds())
                )
            return response

    return await serve_audited(request, run, failure=_failure)


def _failure(status: int, code: str, message: str) -> Response:
    """A request the server could not complete, as RFC 6749 5.2 errors go: ``temporarily_unavailable``
    (503, the database) or ``server_error`` (500), naming the request id, never a trace."""
    error = "temporarily_unavailable" if status == 503 else "server_error"
    return JSONResponse({"error": error, "error_description": message}, status_code=status, headers=NO_STORE)


async def _authenticated(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    form: dict[str, str],
    trail: PlatformTrail,
    handle: Handler,
    grant: bool,
    now: Any,
) -> Response:
    address = trail.client_address or "unknown"
    if await address_blocked(session, runtime.auth, address, now, realm=OAUTH_REALM):
        raise Throttled("Too many failed client authentications from this address; try again later.")
    if grant:
        oauth.check_grant_type(form)
    offered = oauth.client_credentials_of(form, request.headers.get("authorization"))
    base = issuer(request)
    try:
        partner = await oauth.authenticate_client(
            session,
            runtime.auth,
            offered,
            audiences=[f"{base}/oauth/token", base, f"{base}{request.url.path}"],
            now=now,
        )
    except InvalidClientError:
        await record_address_failure(session, runtime.auth, address, now, realm=OAUTH_REALM)
        trail.record(
            "partner.client_authentication",
            "DENIED",
            detail={"clientId": (offered.client_id or "")[:64], "method": offered.method},
        )
        raise
    trail.actor = oauth.partner_actor(partner)
    return await handle(session, runtime, request, form, partner, trail)


async def _token(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    form: dict[str, str],
    partner: Partner,
    trail: PlatformTrail,
) -> Response:
    try:
        issued = await oauth.issue_token(session, runtime.auth, partner, form, now=runtime.clock.now())
    except OAuth2Error as error:
        trail.record(
            "partner.token_refused",
            "REJECTED",
            detail={
                "clientId": partner.client_id,
                "error": error.error,
                "school": form.get("school", "")[:63],
            },
        )
        raise
    trail.for_school(
        issued.tenant.id,
        "partner.token_issued",
        target_type="PartnerToken",
        target_id=issued.token.id,
        detail={"clientId": partner.client_id, "scopes": issued.token.scopes},
    )
    return JSONResponse(issued.body, headers=NO_STORE)


async def _revoke(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    form: dict[str, str],
    partner: Partner,
    trail: PlatformTrail,
) -> Response:
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is required.")
    row = await oauth.revoke_token(session, runtime.auth.keys, partner, token, now=runtime.clock.now())
    if row is not None:
        trail.for_school(
            row.school_id,
            "partner.token_revoked",
            target_type="PartnerToken",
            target_id=row.id,
            detail={"clientId": partner.client_id},
        )
    # RFC 7009 2.2: 200 whether or not there was anything to revoke.
    return Response(status_code=200, headers=NO_STORE)


async def _introspect(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    form: dict[str, str],
    partner: Partner,
    trail: PlatformTrail,
) -> Response:
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is required.")
    body = await oauth.introspect(session, runtime.auth.keys, partner, token, now=runtime.clock.now())
    body["iss"] = issuer(request) if body.get("active") else body.get("iss")
    if not body.get("active"):
        body = {"active": False}
    return JSONResponse(body, headers=NO_STORE)


async def token_endpoint(request: Request) -> Response:
    return await _serve(request, _token, grant=True)


async def revocation_endpoint(request: Request) -> Response:
    return await _serve(request, _revoke)


async def introspection_endpoint(request: Request) -> Response:
    return await _serve(request, _introspect)

"""GraphQL over HTTP for the three endpoints: one request, one transaction, one tenant.

``/schools/{slug}/graphql`` (the school schema), ``/trusts/{slug}/graphql`` (the trust schema) and
``/platform/graphql`` (the operator schema) share one executor, :func:`serve_graphql`; each endpoint only
says how its request is prepared. The request flow (docs/adr/0003-own-graphql-http-endpoint.md says why
this is not strawberry's view):

1. The tenant is resolved from the URL slug: an unknown school or trust is 404, a suspended or terminated
   school 403 with a reason. The platform has no tenant.
2. The transaction starts and is bound for row-level security: to the school; to the trust and then its
   schools today; to nothing at the platform.
3. The bearer token, if any, is verified for *this* URL's audience (``school:<id>``, ``trust:<id>``,
   ``platform``) and its session loaded into a principal; anything unrecognised is anonymous, so a token
   of one school, trust or the platform is worth nothing at any other.
4. The operation runs; the transaction commits when it raised nothing unexpected and rolls back otherwise.
   Unexpected errors are masked and logged with the request id, never returned with a stack trace.

It follows the GraphQL-over-HTTP spec: POST with JSON, GET for queries only, and
``application/graphql-response+json`` (400 for request errors) or ``application/json`` (always 200).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from audit.platform import PlatformTrail, operator_actor, trust_admin_actor
from audit.platform import write as write_platform_audit
from audit.recorder import Actor, AuditTrail, Event, append
from auth import operators, trust_admins
from auth.principal import Principal, load_principal
from auth.tokens import PLATFORM_AUDIENCE, audience_for_trust, verify_access_token, verify_admin_token
from graph.audit import denial_events
from graph.context import Context
from graph.platform.context import AdminContext
from graph.school.loaders import Loaders
from server.runtime import Runtime
from subscriptions.trusts import current_school_ids, resolve_trust
from tenants.context import Tenant, bind, enter_school

log = logging.getLogger("schoolgraph.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
MAX_BODY = 1_000_000
MAX_UPLOAD = 100 * 1024 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JSONBody(Response):
    """A JSON response body, compact UTF-8 as Starlette's ``JSONResponse`` writes it, encoded by orjson
    (the response of a class view is thousands of values; the standard encoder was a visible share of a
    request's time)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RequestError(Exception):
    """A request that cannot be executed at all: the status and a GraphQL-shaped error body."""

    def __init__(self, status: int, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extensions = status, code, message, extensions

    def response(self, media_type: str = GRAPHQL_RESPONSE, headers: dict[str, str] | None = None) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code, **self.extensions}}]}
        return JSONBody(body, status_code=self.status, media_type=media_type, headers=headers)


def _media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    if "application/json" in accept and GRAPHQL_RESPONSE not in accept:
        return "application/json"
    return GRAPHQL_RESPONSE


async def _params(request: Request) -> tuple[dict[str, Any], bool]:
    """The GraphQL parameters and whether mutations are allowed (not over GET)."""
    if request.method == "GET":
        query = request.query_params.get("query")
        variables = request.query_params.get("variables")
        try:
            parsed = json.loads(variables) if variables else None
        except ValueError:
            raise RequestError(400, "BAD_REQUEST", "The 'variables' parameter is not valid JSON.") from None
        return {
            "query": query,
            "variables": parsed,
            "operationName": request.query_params.get("operationName"),
        }, False
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "multipart/form-data":
        return await _multipart_params(request), True
    if content_type != "application/json":
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the GraphQL request as application/json (POST), as multipart/form-data with files "
            "(the GraphQL multipart request spec), or as a GET query.",
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        raise RequestError(413, "REQUEST_TOO_LARGE", f"The request body is over {MAX_BODY} bytes.")
    try:
        params = json.loads(body)
    except ValueError as error:
        raise RequestError(400, "BAD_REQUEST", f"The request body is not valid JSON: {error}.") from None
    if not isinstance(params, dict):
        raise RequestError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return params, True


async def _multipart_params(request: Request) -> dict[str, Any]:
    """A GraphQL multipart request (files as variables): ``operations``, ``map`` and the file parts.

    Files stay spooled by Starlette until the response is sent; their size is checked by the services
    that store them, against their own limits, and the whole body against ``MAX_UPLOAD``.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise RequestError(413, "REQUEST_TOO_LARGE", f"The upload is over {MAX_UPLOAD} bytes.")
    try:
        form = await request.form(max_files=20, max_fields=50)
    except Exception as error:  # Starlette raises several types for malformed multipart bodies
        raise RequestError(400, "BAD_REQUEST", f"The multipart body could not be read: {error}.") from None
    try:
        operations = json.loads(str(form.get("operations") or ""))
        file_map = json.loads(str(form.get("map") or "{}"))
    except ValueError:
        raise RequestError(400, "BAD_REQUEST", "The 'operations' and 'map' parts must be JSON.") from None
    if not isinstance(operations, dict) or not isinstance(file_map, dict):
        raise RequestError(400, "BAD_REQUEST", "'operations' must be a JSON object and 'map' a JSON object.")
    for key, paths in file_map.items():
        upload = form.get(key)
        if upload is None or isinstance(upload, str):
            raise RequestError(400, "BAD_REQUEST", f"The map names a file part {key!r} that was not sent.")
        if not isinstance(paths, list):
            raise RequestError(400, "BAD_REQUEST", f"The map entry {key!r} must be a list of paths.")
        for path in paths:
            _place(operations, str(path), upload)
    return operations


def _place(operations: dict[str, Any], path: str, value: Any) -> None:
    """Put a file at a dotted path such as ``variables.input.file`` or ``variables.files.0``."""
    parts = path.split(".")
    target: Any = operations
    try:
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        elif isinstance(target, dict) and last in target:
            target[last] = value
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise RequestError(
            400, "BAD_REQUEST", f"The map path {path!r} names no variable set to null."
        ) from None


@lru_cache(maxsize=512)
def _operation_count(query: str) -> int:
    try:
        document = parse(query)
    except GraphQLError:
        return 1  # the schema reports the syntax error itself
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _validate(params: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query, variables, operation = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "BAD_REQUEST", "The 'query' parameter is required and must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "BAD_REQUEST", "The 'variables' parameter must be a JSON object.")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "BAD_REQUEST", "The 'operationName' parameter must be a string.")
    if operation is None and _operation_count(query) > 1:
        raise RequestError(
            400, "BAD_REQUEST", "The document has several operations: name the one to run in 'operationName'."
        )
    return query, variables, operation


def tenant_refusal(tenant: Tenant | None, slug: str) -> RequestError | None:
    if tenant is None:
        return RequestError(404, "NOT_FOUND", f"No school at /schools/{slug}.")
    if not tenant.active:
        reason = f"SCHOOL_{tenant.status}"
        return RequestError(
            403,
            "FORBIDDEN",
            f"This school's access is {tenant.status.lower()}"
            + (f" ({tenant.status_reason})" if tenant.status_reason else "")
            + ". Contact the school or the platform operator.",
            reason=tenant.status_reason or reason,
        )
    return None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(
    session: AsyncSession, runtime: Runtime, request: Request, tenant: Tenant, now: Any
) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    claims = verify_access_token(runtime.auth.keys, token.strip(), school_id=tenant.id, now=now)
    if claims is None:
        return None
    return await load_principal(
        session, school_id=tenant.id, account_id=claims.account_id, session_id=claims.session_id, now=now
    )


def _unexpected(result: ExecutionResult) -> list[GraphQLError]:
    return [
        e
        for e in result.errors or []
        if e.original_error is not None and not isinstance(e.original_error, GraphQLError)
    ]


@dataclass(frozen=True)
class Prepared:
    """A request resolved to its tenant, bound and authenticated: what the generic executor needs."""

    schema: strawberry.Schema
    context: Any
    trail: AuditTrail
    record: Callable[[AsyncSession, list[Event]], Awaitable[None]]
    """Write the trail's events in the request's own transaction, just before it commits."""
    record_failed: Callable[[], Awaitable[None]]
    """After a rollback: record that the request was attempted, in a fresh transaction."""
    label: str


Prepare = Callable[[AsyncSession, Request, datetime, str], Awaitable["Prepared | RequestError"]]


async def serve_graphql(request: Request, prepare: Prepare) -> Response:
    """GraphQL over HTTP for one endpoint: ``prepare`` resolves, refuses or binds the tenant and caller.

    A multipart request's spooled files are closed when the response is ready, read or not (a refused
    upload is never read)."""
    try:
        return await _serve(request, prepare)
    finally:
        await request.close()


async def _serve(request: Request, prepare: Prepare) -> Response:
    runtime: Runtime = request.app.state.runtime
    request_id = request.headers.get("x-request-id", "")
    # The id is logged and echoed back: accept a client's only if it is short and plain.
    if not _REQUEST_ID.fullmatch(request_id):
        request_id = uuid.uuid4().hex
    media_type = _media_type(request)
    if (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    ):
        if not runtime.settings.graphiql:
            return RequestError(404, "NOT_FOUND", "GraphiQL is not served in production.").response()
        return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))
    try:
        params, mutations_allowed = await _params(request)
        query, variables, operation = _validate(params)
    except RequestError as error:
        return error.response(media_type)

    now = runtime.clock.now()
    prepared: Prepared | None = None
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session:
        transaction = await session.begin()
        try:
            outcome = await prepare(session, request, now, request_id)
            if isinstance(outcome, RequestError):
                await transaction.rollback()
                return outcome.response(media_type)
            prepared = outcome
            trail = prepared.trail
            allowed = (
                (OperationType.QUERY, OperationType.MUTATION) if mutations_allowed else (OperationType.QUERY,)
            )
            try:
                result = await prepared.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=prepared.context,
                    operation_name=operation,
                    allowed_operation_types=allowed,
                )
            except InvalidOperationTypeError:
                await transaction.rollback()
                # RFC 9110 15.5.6: a 405 response must list the allowed methods in an Allow header.
                return RequestError(
                    405, "METHOD_NOT_ALLOWED", "Mutations must be sent with POST.", allow="POST"
                ).response(media_type, headers={"allow": "POST"})
            except CannotGetOperationTypeError as error:
                # An operationName the document does not define: the client's mistake, not a 500.
                await transaction.rollback()
                return RequestError(400, "BAD_REQUEST", error.as_http_error_reason()).response(media_type)
            trail.events += denial_events(query, operation, result.errors)
            failures = _unexpected(result)
            if failures:
                await transaction.rollback()
                for failure in failures:
                    log.error(
                        "unexpected error in request %s at %s",
                        request_id,
                        prepared.label,
                        exc_info=failure.original_error,
                    )
                await prepared.record_failed()
            else:
                await prepared.record(session, trail.events)
                await transaction.commit()
        except Exception:
            await transaction.rollback()
            log.exception("request %s failed", request_id)
            if prepared is not None:
                await prepared.record_failed()
            return RequestError(
                500,
                "INTERNAL_SERVER_ERROR",
                f"Internal error (request id {request_id}).",
                requestId=request_id,
            ).response(media_type, headers={"x-request-id": request_id})
    return _result_response(result, media_type, request_id)


# --- the school endpoint ----------------------------------------------------------------------------------


async def _prepare_school(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    tenant = await enter_school(session, slug)
    refusal = tenant_refusal(tenant, slug)
    if refusal is not None:
        return refusal
    assert tenant is not None
    principal = await authenticate(session, runtime, request, tenant, now)
    trail = AuditTrail(
        actor=actor_of(principal), request_id=request_id, client_address=client_address(request)
    )
    context = Context(
        audit=trail,
        session=session,
        principal=principal,
        tenant=tenant,
        loaders=Loaders.create(session, principal, now),
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=client_address(request),
        max_page_size=runtime.settings.max_page_size,
    )

    async def record(session: AsyncSession, events: list[Event]) -> None:
        await _record(session, tenant, trail, events, now)

    async def record_failed() -> None:
        await _record_after_rollback(runtime, tenant, trail, now)

    return Prepared(runtime.school_schema, context, trail, record, record_failed, slug)


async def school_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_school)


# --- the trust and platform endpoints ---------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _admin_prepared(
    request: Request,
    *,
    schema: strawberry.Schema,
    context: AdminContext,
    trail: PlatformTrail,
    label: str,
) -> Prepared:
    runtime: Runtime = request.app.state.runtime

    async def record(session: AsyncSession, events: list[Event]) -> None:
        await write_platform_audit(session, trail, now=context.now, events=events)

    async def record_failed() -> None:
        """A failed request's writes are gone, but that it was attempted is still recorded (LRS 5.1)."""
        try:
            async with AsyncSession(runtime.engine) as session, session.begin():
                await write_platform_audit(session, trail, now=context.now, events=trail.failed())
        except Exception:
            log.exception("could not record the audit trail of failed request %s", trail.request_id)

    return Prepared(schema, context, trail, record, record_failed, label)


async def _prepare_trust(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    """The trust is resolved by slug; its schools today are read with the trust bound, then the transaction
    is bound to exactly those schools (and the trust) for row-level security."""
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    trust = await resolve_trust(session, slug)
    if trust is None:
        return RequestError(404, "NOT_FOUND", f"No trust at /trusts/{slug}.")
    await bind(session, [], [trust.id])
    school_ids = await current_school_ids(session, trust.id, now.date())
    await bind(session, school_ids, [trust.id])
    principal = None
    token = _bearer(request)
    if token is not None:
        claims = verify_admin_token(runtime.auth.keys, token, audience=audience_for_trust(trust.id), now=now)
        if claims is not None:
            principal = await trust_admins.load_principal(session, claims, trust_id=trust.id, now=now)
    actor = (
        Actor.anonymous()
        if principal is None
        else trust_admin_actor(principal.account_id, principal.username)
    )
    trail = PlatformTrail(
        actor=actor, request_id=request_id, client_address=client_address(request), trust_id=trust.id
    )
    context = AdminContext(
        audit=trail,
        session=session,
        principal=principal,
        tenant=trust,
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=client_address(request),
        max_page_size=runtime.settings.max_page_size,
        school_ids=tuple(school_ids),
    )
    schema: strawberry.Schema = request.app.state.trust_schema
    return _admin_prepared(request, schema=schema, context=context, trail=trail, label=f"trust {slug}")


async def trust_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_trust)


async def _prepare_platform(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    """Operators only. The transaction starts bound to no school; a service that must reach a school's
    rows binds to that school for the moment it needs them (``tenants.context.bound``)."""
    runtime: Runtime = request.app.state.runtime
    await bind(session, [])
    principal = None
    token = _bearer(request)
    if token is not None:
        claims = verify_admin_token(runtime.auth.keys, token, audience=PLATFORM_AUDIENCE, now=now)
        if claims is not None:
            principal = await operators.load_principal(session, claims, now=now)
    actor = (
        Actor.anonymous() if principal is None else operator_actor(principal.account_id, principal.username)
    )
    trail = PlatformTrail(actor=actor, request_id=request_id, client_address=client_address(request))
    context = AdminContext(
        audit=trail,
        session=session,
        principal=principal,
        tenant=None,
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=client_address(request),
        max_page_size=runtime.settings.max_page_size,
    )
    schema: strawberry.Schema = request.app.state.platform_schema
    return _admin_prepared(request, schema=schema, context=context, trail=trail, label="platform")


async def platform_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_platform)


def actor_of(principal: Principal | None) -> Actor:
    if principal is None:
        return Actor.anonymous()
    return Actor("ACCOUNT", principal.account_id, principal.username, principal.role.value)


async def _record(
    session: AsyncSession, tenant: Tenant, trail: AuditTrail, events: list[Event], now: datetime
) -> None:
    await append(
        session,
        tenant.id,
        events,
        actor=trail.actor,
        request_id=trail.request_id,
        client_address=trail.client_address,
        now=now,
    )


async def _record_after_rollback(runtime: Runtime, tenant: Tenant, trail: AuditTrail, now: datetime) -> None:
    """A failed request's writes are gone, but that it was attempted is still recorded (LRS 5.1)."""
    try:
        async with AsyncSession(runtime.engine) as session, session.begin():
            await bind(session, [tenant.id])
            await _record(session, tenant, trail, trail.failed(), now)
    except Exception:
        log.exception("could not record the audit trail of failed request %s", trail.request_id)


def _result_response(result: ExecutionResult, media_type: str, request_id: str) -> Response:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_format_error(e, request_id) for e in result.errors]
    # A field error that nulls a non-null root field (a refused mutation, say) leaves data None too, but
    # execution started: the response must carry "data": null and is not a request error. Only errors
    # raised before execution (syntax, validation) have no path.
    executed = result.data is not None or not result.errors or any(e.path is not None for e in result.errors)
    if executed:
        body["data"] = result.data
    status = 400 if not executed and media_type == GRAPHQL_RESPONSE else 200
    return JSONBody(body, status_code=status, media_type=media_type, headers={"x-request-id": request_id})


def _format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """The error as the client sees it: unexpected errors masked to a message with the request id."""
    formatted = dict(error.formatted)
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        formatted["message"] = f"Internal error: quote request id {request_id} to support."
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return formatted
    extensions = dict(formatted.get("extensions") or {})
    extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_REQUEST")
    formatted["extensions"] = extensions
    return formatted

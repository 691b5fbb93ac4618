"""One GraphQL request, one transaction: the lifecycle every endpoint shares.

:func:`serve_graphql` reads the request (:mod:`server.protocol`), opens the transaction, lets the
endpoint's ``prepare`` resolve the tenant, bind the transaction for row-level security and authenticate
the caller (or refuse the request), and runs the operation. Then:

- success: the request's audit trail is inserted in the same transaction, last, and it commits; the
  school's audit sequencer is woken to number, chain and sign the new entries (``audit.sequencer``);
- an unexpected error (a bug, a fault: never a GraphQL or domain error) rolls everything back, is logged
  with the request id, masked in the response, and the trail is written with outcome FAILED in a fresh
  transaction (LRS 5.1: an attempt is recorded even when its writes are gone), with ``request.failed``
  when nothing in it names an action (a query's trail may hold none yet), or in the platform log when
  the request failed before its trail existed (:func:`record_failure`, the rule of every door);
- a request error found on the way rolls back and answers the error, and is recorded: after the tenant
  was resolved (a mutation over GET, an unknown operation name, a suspended school, terms not accepted)
  in the tenant's log, as ``request.refused`` with the trail's other events turned FAILED; before it
  (a body the edge cannot read, an unknown school or trust) in the platform audit log, no school's log
  being known (:func:`record_unresolved`; a source's repeats of one refusal are counted, not recorded);
- a fault of the database connection (dropped, closed, refused) wherever it happens: a query, or any
  operation that had not run yet, is retried once on a fresh connection; otherwise the answer is 503
  ``SERVICE_UNAVAILABLE`` (GraphQL error shape, ``Retry-After``) and the trail is written with outcome
  FAILED in a fresh transaction (a request failed before its trail existed is ``request.failed`` in the
  platform log); when that transaction cannot reach the database either, the entries are spooled on local
  disk and replayed by the sequencer (``audit.spool``). The pool does not lend a connection it found closed and pings one idle for a second or
  more (server/database.py); a connection that died in the second after it was given back fails at the
  request's first statement, which nothing ran before, so the request is retried as above.

Whatever the outcome, the hooks services registered on the transaction (common/transaction_hooks.py: an
uploaded file that no committed row names is deleted) run once it has ended.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import strawberry
from graphql import OperationType as GraphQLOperationType
from graphql import get_operation_ast
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from audit.platform import PlatformTrail
from audit.recorder import AuditTrail, record_failed_request
from common.driver import begin_session
from common.events import Actor, Event, attach
from common.faults import database_unavailable
from common.transaction_hooks import hooks_run_after
from graph.audit import denial_events
from server.caller import client_address
from server.cookies import write_cookie
from server.errors import RequestError
from server.graphiql import graphiql_page
from server.headers import header
from server.metrics import record_of
from server.protocol import (
    Operation,
    cache_control,
    document_operation_name,
    media_type,
    read_operation,
    result_response,
    unexpected_errors,
    with_body_limits,
)
from server.runtime import Runtime

log = logging.getLogger("schoolgraph.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class Prepared:
    """A request resolved to its tenant, bound and authenticated: what the lifecycle needs to run it."""

    schema: strawberry.Schema
    context: Any
    trail: AuditTrail
    """The request's audit trail; written just before the commit, or with outcome FAILED after a rollback."""
    label: str
    """Where the request ran (a school's slug, ``trust <slug>``, ``platform``), for the error log."""


Prepare = Callable[[AsyncSession, Request, datetime, str], Awaitable["Prepared | RequestError"]]
"""An endpoint's preparation: ``(session, request, now, request_id)`` -> prepared, or refused."""


async def serve_graphql(request: Request, prepare: Prepare) -> Response:
    """GraphQL over HTTP for one endpoint: ``prepare`` resolves, refuses or binds the tenant and caller.

    The body is read within the edge's limits (:func:`server.protocol.with_body_limits`). A multipart
    request's spooled files are closed when the response is ready, read or not (a refused upload is never
    read)."""
    runtime: Runtime = request.app.state.runtime
    media = media_type(request)
    try:
        limited = with_body_limits(request, runtime.settings)
    except RequestError as error:
        await record_unresolved(runtime, request, request_id_of(request), error, now=runtime.clock.now())
        return error.response(media)
    try:
        return await _serve(limited, prepare, runtime, media)
    finally:
        await limited.close()


async def _serve(request: Request, prepare: Prepare, runtime: Runtime, media: str) -> Response:
    request_id = request_id_of(request)
    if (
        request.method == "GET"
        and "text/html" in (header(request.scope, "accept") or "")
        and "query" not in request.query_params
    ):
        if not runtime.settings.graphiql:
            return RequestError(404, "NOT_FOUND", "GraphiQL is not served in production.").response()
        return graphiql_page()
    record = record_of(request)
    if record is not None:
        record.request_id = request_id
    try:
        operation = await read_operation(request, runtime.settings)
    except RequestError as error:
        await record_unresolved(runtime, request, request_id, error, now=runtime.clock.now())
        return error.response(media)
    if record is not None:
        record.operation = operation.name or document_operation_name(operation.document)
    return await _in_transaction(runtime, request, prepare, operation, media, request_id)


def request_id_of(request: Request) -> str:
    """The client's ``x-request-id`` if it is short and plain (it is logged and echoed back), else a new one."""
    request_id = header(request.scope, "x-request-id") or ""
    return request_id if _REQUEST_ID.fullmatch(request_id) else uuid.uuid4().hex


class _DatabaseFault(Exception):
    """The database connection failed during an attempt (dropped, refused, closed under the request); the
    attempt was rolled back."""

    def __init__(self, *, executed: bool, trail: AuditTrail | None) -> None:
        super().__init__("database unavailable")
        self.executed, self.trail = executed, trail


def _is_query(operation: Operation) -> bool:
    if operation.document is None:
        return True
    found = get_operation_ast(operation.document, operation.name)
    return found is not None and found.operation is GraphQLOperationType.QUERY


async def _in_transaction(
    runtime: Runtime, request: Request, prepare: Prepare, operation: Operation, media: str, request_id: str
) -> Response:
    """Run the request in one transaction; when the database connection fails, retry once on a fresh
    connection if nothing was written (a query, or any operation that failed before it ran), else answer
    503 with the GraphQL error shape and record the attempt as FAILED. Never a 200 or a 500 for a
    database fault."""
    read_only = _is_query(operation)
    for attempt in (1, 2):
        try:
            return await _attempt(runtime, request, prepare, operation, media, request_id)
        except _DatabaseFault as fault:
            if attempt == 1 and (read_only or not fault.executed):
                log.warning("request %s: the database connection failed; retrying once", request_id)
                continue
            log.error("request %s: the database connection failed", request_id)
            await record_failure(
                runtime,
                request,
                request_id,
                fault.trail,
                now=runtime.clock.now(),
                code=UNAVAILABLE,
                status=503,
            )
            break
    return RequestError(
        503,
        UNAVAILABLE,
        f"The database is unavailable; try again (request id {request_id}).",
        requestId=request_id,
    ).response(media, headers={"x-request-id": request_id, "retry-after": "1"})


UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"


def unresolved_failure(
    request: Request, request_id: str, *, code: str = UNAVAILABLE, status: int = 503
) -> PlatformTrail:
    """A request that failed before its trail existed (while its tenant and caller were being resolved;
    at its very first statement, often: finding the school): no school's log is known, so the platform log
    records it, as ``request.failed`` by an anonymous caller (the caller was not authenticated yet) with
    the code (``SERVICE_UNAVAILABLE`` for a database fault), the status and the path. Each such request
    is recorded, not counted per address: a failure is not the caller's doing. The database being the
    fault, this is usually spooled and replayed later (:mod:`audit.spool`)."""
    trail = PlatformTrail(
        actor=Actor.anonymous(), request_id=request_id, client_address=client_address(request)
    )
    detail = {"code": code, "status": status, "path": request.url.path[:PATH_RECORDED]}
    trail.record("request.failed", "FAILED", detail=detail)
    return trail


async def record_failure(
    runtime: Runtime,
    request: Request,
    request_id: str,
    trail: AuditTrail | None,
    *,
    now: datetime,
    code: str,
    status: int,
) -> None:
    """A failed request's attempt, recorded once, at every door (GraphQL, OAuth, OneRoster, downloads):
    its trail turned FAILED, with ``request.failed`` (code, status, path) when nothing in it says an action
    failed (a read whose connection dropped twice, a bug in a query: its trail may hold no event yet), or
    the platform log's ``request.failed`` when no trail existed (:func:`unresolved_failure`); spooled when
    the database cannot take it (:func:`audit.recorder.record_failed_request`)."""
    if trail is None:
        trail = unresolved_failure(request, request_id, code=code, status=status)
    elif not _attempted(trail):
        detail = {"code": code, "status": status, "path": request.url.path[:PATH_RECORDED]}
        trail.record("request.failed", "FAILED", detail=detail)
    await record_failed_request(runtime.engine, trail, now=now, spool=runtime.audit_spool)
    runtime.recorded(trail.schools())


def _attempted(trail: AuditTrail) -> bool:
    """Whether the trail, turned FAILED, names an action that failed (an event that was SUCCESS or FAILED;
    a refusal recorded before the fault stays DENIED or REJECTED and says nothing of it)."""
    events = list(trail.all_events())
    if isinstance(trail, PlatformTrail):
        events += [event for _, event in (*trail.school_events, *trail.unchained)]
    return any(event.outcome in ("SUCCESS", "FAILED") for event in events)


async def rollback_quietly(transaction: AsyncSessionTransaction) -> None:
    """Roll back; on a connection that is gone, there is nothing left to roll back."""
    try:
        await transaction.rollback()
    except Exception as error:
        if not database_unavailable(error):
            raise


async def _attempt(
    runtime: Runtime, request: Request, prepare: Prepare, operation: Operation, media: str, request_id: str
) -> Response:
    now = runtime.clock.now()
    prepared: Prepared | None = None
    executed = False
    committed = False
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session, hooks_run_after(session):
        transaction = begin_session(session)
        try:
            outcome = await prepare(session, request, now, request_id)
            if isinstance(outcome, RequestError):
                raise outcome
            prepared = outcome
            if (record := record_of(request)) is not None:
                record.tenant = prepared.label
            attach(session, prepared.trail)  # what the services emit goes to the request's trail
            executed = True
            result = await _execute(prepared, operation)
            prepared.trail.events += _denials(runtime, prepared, operation, result, now)
            failures = unexpected_errors(result)
            if any(database_unavailable(failure.original_error) for failure in failures):
                await rollback_quietly(transaction)
                raise _DatabaseFault(executed=True, trail=prepared.trail)
            if failures:
                await transaction.rollback()
                for failure in failures:
                    log.error(
                        "unexpected error in request %s at %s",
                        request_id,
                        prepared.label,
                        exc_info=failure.original_error,
                    )
                await record_failure(
                    runtime, request, request_id, prepared.trail, now=now, code=INTERNAL, status=200
                )
            else:
                await prepared.trail.commit(session, transaction, now=now)
                committed = True
                runtime.recorded(prepared.trail.schools())
        except RequestError as refused:
            await rollback_quietly(transaction)
            trail: AuditTrail | None = refused.trail
            if trail is None and prepared is not None:
                # Refused once the tenant and caller were known (a mutation over GET, an unknown operation
                # name): the request's own trail records it.
                trail = prepared.trail
                trail.events += _admitted(runtime, prepared, [refused_event(refused)], now)
            if trail is not None:
                await record_failed_request(runtime.engine, trail, now=now, spool=runtime.audit_spool)
                runtime.recorded(trail.schools())
            else:
                await record_unresolved(runtime, request, request_id, refused, now=now)
            return refused.response(media)
        except _DatabaseFault:
            raise
        except Exception as error:
            await rollback_quietly(transaction)
            if database_unavailable(error):
                raise _DatabaseFault(
                    executed=executed, trail=prepared.trail if prepared is not None else None
                ) from error
            log.exception("request %s failed", request_id)
            trail = prepared.trail if prepared is not None else None
            await record_failure(runtime, request, request_id, trail, now=now, code=INTERNAL, status=500)
            return RequestError(
                500,
                INTERNAL,
                f"Internal error (request id {request_id}).",
                requestId=request_id,
            ).response(media, headers={"x-request-id": request_id})
    if result.errors and (record := record_of(request)) is not None:
        record.graphql_errors = True
    response = result_response(result, media, request_id, hide_suggestions=runtime.settings.production)
    if (cached := cache_control(request, operation, result)) is not None:
        response.headers["cache-control"] = cached
        response.headers["vary"] = "Accept, Accept-Encoding, Authorization, Cookie"
    if committed and prepared is not None:
        write_cookie(response, prepared.context, runtime.settings)
    return response


def refused_event(refused: RequestError) -> Event:
    """A refused request as an audit event: ``request.refused``, DENIED for 401 and 403, else REJECTED,
    with the code, the status and the reason when the refusal gave one."""
    outcome = "DENIED" if refused.status in (401, 403) else "REJECTED"
    detail: dict[str, Any] = {"code": refused.code, "status": refused.status}
    if "reason" in refused.extensions:
        detail["reason"] = refused.extensions["reason"]
    return Event("request.refused", outcome, detail=detail)


async def record_unresolved(
    runtime: Runtime, request: Request, request_id: str, refused: RequestError, *, now: datetime
) -> None:
    """A request refused before its tenant was resolved (a body the edge cannot read, an unknown school
    or trust): no school's log is known, so it is recorded in the platform audit log (LRS 5.1: all
    activity), as ``request.refused`` by an anonymous caller, with the code, the status and the path.

    Anyone can send these, so they are counted like anonymous denials (:class:`AnonymousDenials`, per
    client address and refusal code): a source's first refusal of a kind in a window is recorded, its
    repeats are counted and carried by the next one recorded. Never raises (the database may be the
    reason it could not be served)."""
    address = client_address(request)
    event = refused_event(refused)
    event = replace(event, detail={**event.detail, "path": request.url.path[:PATH_RECORDED]})
    admitted = runtime.anonymous_denials.admit((f"unresolved {refused.code}", address), [event], now)
    if not admitted:
        return
    trail = PlatformTrail(actor=Actor.anonymous(), request_id=request_id, client_address=address)
    trail.events += admitted
    await record_failed_request(runtime.engine, trail, now=now, spool=runtime.audit_spool)


PATH_RECORDED = 200
"""How much of a refused request's path the platform log keeps (the path is the caller's to choose)."""


def _denials(
    runtime: Runtime, prepared: Prepared, operation: Operation, result: ExecutionResult, now: datetime
) -> list[Event]:
    """The request's denials to chain: a stranger's are counted per address (:class:`AnonymousDenials`)."""
    return _admitted(runtime, prepared, denial_events(operation.document, operation.name, result.errors), now)


def _admitted(runtime: Runtime, prepared: Prepared, events: list[Event], now: datetime) -> list[Event]:
    """The events to chain: a stranger's are counted per address (:class:`AnonymousDenials`)."""
    trail = prepared.trail
    if trail.actor.type != "ANONYMOUS":
        return events
    return runtime.anonymous_denials.admit((prepared.label, trail.client_address or ""), events, now)


async def _execute(prepared: Prepared, operation: Operation) -> ExecutionResult:
    """Run the operation; what the client asked wrongly of the document is a :class:`RequestError`."""
    allowed = (
        (OperationType.QUERY, OperationType.MUTATION)
        if operation.mutations_allowed
        else (OperationType.QUERY,)
    )
    try:
        return await prepared.schema.execute(
            operation.query,
            variable_values=operation.variables,
            context_value=prepared.context,
            operation_name=operation.name,
            allowed_operation_types=allowed,
        )
    except InvalidOperationTypeError:
        # RFC 9110 15.5.6: a 405 response must list the allowed methods in an Allow header.
        raise RequestError(
            405,
            "METHOD_NOT_ALLOWED",
            "Mutations must be sent with POST.",
            allow="POST",
            headers={"allow": "POST"},
        ) from None
    except CannotGetOperationTypeError as error:
        # An operationName the document does not define: the client's mistake, not a 500.
        raise RequestError(400, "BAD_REQUEST", error.as_http_error_reason()) from None

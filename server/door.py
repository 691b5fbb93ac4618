"""One request, one transaction, its audit trail under faults: the lifecycle of the endpoints that are not
GraphQL (the OAuth endpoints, OneRoster, the subject-access and termination downloads).

The same rule as the GraphQL endpoints (:mod:`server.transaction`), through the same pieces:

- the endpoint's ``handle`` runs in the request's transaction; once it knows the caller and where the
  request is recorded (a school's log, or the platform's) it hands its trail over (:meth:`Door.audit`);
  its refusals are answers it returns, with their events in the trail;
- the trail is inserted in that transaction, last, and it commits: an entry exists exactly when its
  action committed; the school's sequencer is woken;
- anything that escapes ``handle`` or the commit (a dropped connection, a statement error, a statement
  timeout, a bug) rolls everything back and is recorded in a fresh transaction: the trail with SUCCESS
  turned FAILED (:func:`audit.recorder.record_failed_request`), and a ``request.failed`` event with the
  code, status and path when nothing in it says an action failed; before any trail existed, the platform
  log's ``request.failed`` (both :func:`server.transaction.record_failure`). When that transaction cannot
  reach the database either, the record goes to the audit spool and the sequencer replays it
  (:mod:`audit.spool`). The answer is the endpoint's own error shape: 503 with ``Retry-After`` for a
  database fault, 500 otherwise, both naming the request id, never a trace.

No retry: unlike a GraphQL query, these requests write (a counted download, an issued token, the
partner's rate-limit window), and a request's body may already be consumed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.recorder import AuditTrail
from common.driver import begin_session
from common.events import attach
from common.faults import database_unavailable
from common.transaction_hooks import hooks_run_after
from server.metrics import record_of
from server.runtime import Runtime
from server.transaction import INTERNAL, UNAVAILABLE, record_failure, request_id_of, rollback_quietly

log = logging.getLogger("schoolgraph.http")

T = TypeVar("T", bound=AuditTrail)


@dataclass
class Door:
    """The request as its endpoint's ``handle`` sees it: the transaction's session, the request id (the
    client's ``x-request-id`` when plain, as at the GraphQL endpoints), the request's time and, once
    handed over, its trail."""

    session: AsyncSession
    request_id: str
    now: datetime
    trail: AuditTrail | None = None

    def audit(self, trail: T) -> T:
        """The request's trail from here on: what the services emit goes to it, it is inserted before the
        commit, and recorded as FAILED if the request fails."""
        self.trail = trail
        attach(self.session, trail)
        return trail


Handle = Callable[[Door], Awaitable[Response]]
Failure = Callable[[int, str, str], Response]
"""The endpoint's error answer: ``(status, code, message)`` -> its own shape (OAuth, OneRoster, JSON)."""


async def serve_audited(request: Request, handle: Handle, *, failure: Failure) -> Response:
    """Run ``handle`` in one transaction with its trail written before the commit; on any failure, the
    attempt recorded as FAILED in a fresh transaction (spooled when the database is unreachable) and
    answered with ``failure`` (see the module)."""
    runtime: Runtime = request.app.state.runtime
    now = runtime.clock.now()
    request_id = request_id_of(request)
    if (record := record_of(request)) is not None:
        record.request_id = request_id
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session, hooks_run_after(session):
        transaction = begin_session(session)
        door = Door(session, request_id, now)
        try:
            response = await handle(door)
            if door.trail is not None:
                await door.trail.commit(session, transaction, now=now)
            else:
                await transaction.commit()
        except Exception as error:
            await rollback_quietly(transaction)
            fault = database_unavailable(error)
            status, code = (503, UNAVAILABLE) if fault else (500, INTERNAL)
            if fault:
                log.error("request %s: the database connection failed", request_id)
            else:
                log.exception("request %s failed", request_id)
            await record_failure(runtime, request, request_id, door.trail, now=now, code=code, status=status)
            message = (
                f"The database is unavailable; try again (request id {request_id})."
                if fault
                else f"Internal error (request id {request_id})."
            )
            answer = failure(status, code, message)
            answer.headers["x-request-id"] = request_id
            if fault:
                answer.headers["retry-after"] = "1"
            return answer
    if door.trail is not None:
        runtime.recorded(door.trail.schools())
    return response

"""Recording a refused download (LRS 5.1, LL 5.1.1): the export routes answer a refusal and chain it.

A refusal at a known school or trust (anonymous, another role, another school's or trust's export, a closed
window, a suspended school) is recorded as ``<action>`` with outcome DENIED, naming the status and code
answered, in the request's transaction, committed with the answer (nothing else was written in it). An
anonymous caller's refusals are counted per address like every other anonymous denial
(``graph.audit.AnonymousDenials``), so a flood costs the log one entry per window. A slug that names no
school or trust goes to the platform log (``server.transaction.record_unresolved``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from starlette.responses import Response

from audit.recorder import AuditTrail, Event
from server.errors import RequestError
from server.runtime import Runtime

JSON = "application/json"


def refuse(
    runtime: Runtime,
    trail: AuditTrail,
    refusal: RequestError,
    *,
    action: str,
    target: tuple[str, uuid.UUID | None],
    source: str,
    now: datetime,
) -> Response:
    """Record ``refusal`` in ``trail`` (a school's chain, or the platform log) and answer it; the trail is
    inserted with the request's transaction, before its commit (:mod:`server.door`).

    ``source`` names the route and place (``subject-access:<slug>``) under which an anonymous caller's
    denials are counted per address."""
    target_type, target_id = target
    event = Event(
        action, "DENIED", target_type, target_id, {"status": refusal.status, "code": refusal.code}, None
    )
    if trail.actor.type == "ANONYMOUS":
        trail.events += runtime.anonymous_denials.admit((source, trail.client_address or ""), [event], now)
    else:
        trail.events.append(event)
    return refusal.response(JSON)


def failure(status: int, code: str, message: str) -> Response:
    """A download the server could not complete (:mod:`server.door`): the JSON error shape, never a
    trace."""
    return RequestError(status, code, message).response(JSON)

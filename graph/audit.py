"""Auditing at the GraphQL layer: every mutation's outcome, and every permission denial.

:func:`audit_every_mutation` gives each root mutation field an innermost extension that records the
mutation with its outcome (SUCCESS, REJECTED with the error codes, or FAILED) and its target when the
payload carries one. One event per action: when the service the mutation ran emitted its own event
(``roster.import``, ``auth.login``), that event is the entry, carrying the mutation's name, codes and
outcome (``audit.recorder.fold_operation``); ``mutation.<name>`` is recorded only for a mutation whose
service emitted nothing. Denials never reach a resolver (the permission check runs first), nor does a document
refused before it runs, so the HTTP edge records both from the result's errors with :func:`denial_events`.
An anonymous caller's denials go through :class:`AnonymousDenials` first, so that strangers cannot flood a
school's chain.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType
from graphql.language import FieldNode
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from audit.recorder import Event

DENIAL_CODES = ("FORBIDDEN", "UNAUTHENTICATED")


def pupils_read(info: Info, view: str, pupil_ids: Iterable[uuid.UUID]) -> None:
    """A resolver returned these pupils' personal data to a member of staff or an integration partner:
    noted on the request's trail, which records one ``read.pupils`` event per request naming every pupil
    read (LRS 5.1, LRS 7.3). A pupil reading themself or a parent reading their children is not a read of
    others' data."""
    pupils_read_in(info.context, view, pupil_ids)


def pupils_read_in(context: Any, view: str, pupil_ids: Iterable[uuid.UUID]) -> None:
    """:func:`pupils_read` for a caller holding the request's context rather than a resolve info."""
    principal = getattr(context, "principal", None)
    if principal is not None and (principal.is_staff or principal.is_partner):
        context.audit.read_pupils(view, pupil_ids)


def _target(payload: Any) -> tuple[str | None, uuid.UUID | None]:
    """The first object in a payload that wraps a row: (its GraphQL type name, its database id)."""
    for value in vars(payload).values() if hasattr(payload, "__dict__") else ():
        row = getattr(value, "row", None)
        row_id = getattr(row, "id", None)
        if isinstance(row_id, uuid.UUID):
            definition = getattr(type(value), "__strawberry_definition__", None)
            return (definition.name if definition else type(row).__name__), row_id
    return None, None


class AuditMutation(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        raise NotImplementedError("mutations are async")

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        action = f"mutation.{info.field_name}"
        audit = info.context.audit
        since = audit.mark()  # a service event emitted from here on is the action's one entry
        try:
            payload = await next_(source, info, **kwargs)
        except Exception:
            audit.record_operation(since, action, "FAILED")
            raise
        errors = getattr(payload, "errors", None) or []
        target_type, target_id = _target(payload)
        audit.record_operation(
            since,
            action,
            "REJECTED" if errors else "SUCCESS",
            target_type=target_type,
            target_id=target_id,
            detail={"codes": sorted({e.code for e in errors})} if errors else {},
        )
        return payload


def audit_every_mutation(mutation: type) -> None:
    """Add the audit extension, innermost, to every field of the root Mutation type."""
    definition = mutation.__strawberry_definition__  # type: ignore[attr-defined]
    for field in definition.fields:
        if not any(isinstance(e, AuditMutation) for e in field.extensions):
            field.extensions.insert(0, AuditMutation())


def _root_fields(document: DocumentNode | None, operation_name: str | None) -> dict[str, tuple[str, str]]:
    """Response key -> (operation type, field name) of the executed operation's root fields."""
    if document is None:
        return {}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if not chosen:
        return {}
    operation = chosen[0]
    kind = "mutation" if operation.operation is OperationType.MUTATION else "query"
    return {
        (s.alias or s.name).value: (kind, s.name.value)
        for s in operation.selection_set.selections
        if isinstance(s, FieldNode)
    }


def denial_events(
    document: DocumentNode | None, operation_name: str | None, errors: list[GraphQLError] | None
) -> list[Event]:
    """The refusals that no resolver saw, as events for the request's audit trail.

    ``document`` is the request's parsed document (None when it did not parse): the edge's one parse.

    One event per denied mutation (``mutation.<name>`` DENIED), one per denied field path (list indexes
    folded, with a count), and, when the document was refused before it ran (validation, a limit),
    ``mutation.<name>`` REJECTED for each mutation it named: a refused action is still recorded.
    """
    roots = _root_fields(document, operation_name)
    if errors and all(not e.path for e in errors):
        code = next((c for e in errors if (c := (e.extensions or {}).get("code"))), None)
        names = sorted({name for kind, name in roots.values() if kind == "mutation"})
        detail = {"code": str(code or "GRAPHQL_VALIDATION_FAILED")}
        return [Event(f"mutation.{name}", "REJECTED", detail=detail) for name in names]
    events: list[Event] = []
    fields: Counter[tuple[str, str]] = Counter()
    for error in errors or []:
        code = (error.extensions or {}).get("code")
        if code not in DENIAL_CODES or not error.path:
            continue
        kind, name = roots.get(str(error.path[0]), ("query", str(error.path[0])))
        if kind == "mutation" and len(error.path) == 1:
            events.append(Event(f"mutation.{name}", "DENIED", detail={"code": str(code)}))
            continue
        path = ".".join(re.sub(r"^\d+$", "*", str(p)) for p in error.path)
        fields[(path, str(code))] += 1
    events += [
        Event("permission.denied", "DENIED", detail={"path": path, "code": code, "count": count})
        for (path, code), count in sorted(fields.items())
    ]
    return events


@dataclass
class _Window:
    opened_at: datetime
    suppressed: int = 0


class AnonymousDenials:
    """Anonymous denials counted per source and action, chained at most once per window.

    A source is where the denials come from and go to: ``(endpoint, client address)``. The first denial of
    an action (``mutation.createPupil``, ``permission.denied``) from a source in a ``window`` is chained as
    usual; its repeats in that window are only counted, and the count is carried (``detail.suppressed``)
    by the next event of that action and source that is chained. An anonymous flood thus costs a school's
    chain at most one entry per action a window per address (the actions are the schema's, a bounded
    set, whatever the aliases), instead of one per request, and every first attempt is still recorded
    (LRS 5.1). Counts are lost only when a flood stops (the count of the last window stays in memory) or
    more than ``max_entries`` (source, action) pairs are active at once (the least recent is forgotten).
    In-process and bounded; thread-safe.
    """

    def __init__(self, *, window: timedelta = timedelta(minutes=1), max_entries: int = 50_000) -> None:
        self.window, self.max_entries = window, max_entries
        self._windows: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()
        self._lock = Lock()

    def admit(self, source: tuple[str, str], events: list[Event], now: datetime) -> list[Event]:
        """The events of one anonymous request to chain now: those not counted instead."""
        admitted: list[Event] = []
        with self._lock:
            for event in events:
                key = (*source, event.action)
                current = self._windows.get(key)
                if current is not None and now < current.opened_at + self.window:
                    current.suppressed += 1
                    self._windows.move_to_end(key)
                    continue
                if current is not None and current.suppressed:
                    event = replace(event, detail={**event.detail, "suppressed": current.suppressed})
                self._windows[key] = _Window(now)
                self._windows.move_to_end(key)
                admitted.append(event)
            while len(self._windows) > self.max_entries:
                self._windows.popitem(last=False)
        return admitted


__all__ = ["AnonymousDenials", "AuditMutation", "audit_every_mutation", "denial_events", "strawberry"]

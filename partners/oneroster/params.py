"""The request parameters of a OneRoster 1.1 collection read, parsed and checked (OneRoster 1.1 REST
binding 3.4 - 3.7): ``limit`` and ``offset`` (paging), ``sort`` and ``orderBy``, ``filter`` and
``fields``. Anything wrong is a :class:`OneRosterError` naming the parameter and why, with the
specification's ``imsx_CodeMinor`` (``invalid_filter_field``, ``invalid_selection_field``, ``invaliddata``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
MAX_PREDICATES = 8


class OneRosterError(Exception):
    """A request the provider refuses: HTTP status, the specification's code minor, and why."""

    def __init__(self, status: int, code_minor: str, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.status, self.code_minor, self.description = status, code_minor, description
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The specification's status-info payload (imsx_StatusInfo)."""
        return {
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": self.description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {
                        "imsx_codeMinorFieldName": "TargetEndSystem",
                        "imsx_codeMinorFieldValue": self.code_minor,
                    }
                ]
            },
        }


@dataclass(frozen=True)
class Predicate:
    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class Filter:
    predicates: tuple[Predicate, ...]
    connective: str = "AND"


@dataclass(frozen=True)
class Query:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort: str | None = None
    descending: bool = False
    filter: Filter | None = None
    fields: tuple[str, ...] | None = None
    extra: dict[str, str] = field(default_factory=dict)


_PREDICATE = re.compile(r"\s*([A-Za-z][A-Za-z0-9.]*)\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'\s*")
_CONNECTIVE = re.compile(r"(AND|OR)\s")


def parse_filter(text: str, filterable: Collection[str]) -> Filter:
    """``field op 'value'`` predicates joined by AND or by OR (one kind per filter, as the specification's
    examples; a quote inside a value is doubled)."""
    predicates: list[Predicate] = []
    connectives: set[str] = set()
    position = 0
    while True:
        match = _PREDICATE.match(text, position)
        if match is None:
            raise OneRosterError(
                400,
                "invalid_filter_field",
                f"filter: cannot read a predicate at character {position + 1} of {text!r}; "
                "expected field op 'value' (op one of = != > >= < <= ~), joined by AND or OR.",
            )
        name, operator, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        if name not in filterable:
            raise OneRosterError(
                400,
                "invalid_filter_field",
                f"filter: {name!r} is not a field this collection can be filtered on; "
                f"fields: {', '.join(sorted(filterable))}.",
            )
        predicates.append(Predicate(name, operator, value))
        position = match.end()
        if position == len(text):
            break
        joined = _CONNECTIVE.match(text, position)
        if joined is None:
            raise OneRosterError(
                400,
                "invalid_filter_field",
                f"filter: expected AND or OR at character {position + 1} of {text!r}.",
            )
        connectives.add(joined.group(1))
        position = joined.end()
    if len(connectives) > 1:
        raise OneRosterError(400, "invalid_filter_field", "filter: use either AND or OR, not both.")
    if len(predicates) > MAX_PREDICATES:
        raise OneRosterError(400, "invalid_filter_field", f"filter: at most {MAX_PREDICATES} predicates.")
    return Filter(tuple(predicates), connectives.pop() if connectives else "AND")


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise OneRosterError(400, "invaliddata", f"{name}: {raw!r} is not a whole number.")
    value = int(raw)
    if not low <= value <= high:
        raise OneRosterError(400, "invaliddata", f"{name}: {value} is out of range ({low} to {high}).")
    return value


def parse_query(
    params: Mapping[str, str], *, filterable: Collection[str], selectable: Collection[str]
) -> Query:
    """The checked parameters of a collection read. ``filterable``: fields ``filter`` and ``sort`` may
    name; ``selectable``: fields ``fields`` may name."""
    limit = _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _integer(params, "offset", 0, 0, 10**9)
    sort = params.get("sort")
    if sort is not None and sort not in filterable:
        raise OneRosterError(
            400,
            "invaliddata",
            f"sort: {sort!r} is not a field this collection can be sorted on; "
            f"fields: {', '.join(sorted(filterable))}.",
        )
    order = params.get("orderBy", "asc")
    if order not in ("asc", "desc"):
        raise OneRosterError(400, "invaliddata", f"orderBy: {order!r} must be asc or desc.")
    filter_text = params.get("filter")
    parsed_filter = parse_filter(filter_text, filterable) if filter_text is not None else None
    fields = single_fields(params, selectable)
    return Query(limit, offset, sort, order == "desc", parsed_filter, fields)


def single_fields(params: Mapping[str, str], selectable: Collection[str]) -> tuple[str, ...] | None:
    """The ``fields`` selection (also valid on a single object's read)."""
    raw = params.get("fields")
    if raw is None:
        return None
    names = tuple(name.strip() for name in raw.split(","))
    unknown = [name for name in names if name not in selectable]
    if unknown or not names:
        raise OneRosterError(
            400,
            "invalid_selection_field",
            f"fields: {', '.join(unknown) or 'nothing'} not in this object; fields: {', '.join(selectable)}.",
        )
    return names

"""Decoding a field's arguments: global ids, pages and update inputs, the one way every resolver does it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types import Info

from common.errors import DomainError, Problems
from common.maybe import UNSET
from common.pagination import Page
from graph.core.relay import expect_global_id, from_global_id

WantedId = tuple[str, str, str]
"""``(field, type name, global id)``: the input field as the client wrote it (``"pupilIds.2"``), the type
the id must name, and the id."""


def decode_ids(wanted: Iterable[WantedId]) -> list[uuid.UUID]:
    """The database ids behind the global ids, in order; else one DomainError reporting every id that is
    not one of the wanted type (NOT_FOUND on its field), so a client sees all of them at once."""
    problems = Problems()
    decoded: list[uuid.UUID] = []
    for field, type_name, global_id in wanted:
        try:
            decoded.append(expect_global_id(global_id, type_name, field=field))
        except DomainError as error:
            problems.items.extend(error.problems)
    problems.raise_if_any()
    return decoded


def lookup_id(global_id: str | None, type_name: str) -> uuid.UUID | None:
    """The database id of a global id of ``type_name``; None for anything else (never an error): a lookup
    by an id that is not one answers null, as a lookup of an unknown row does."""
    if global_id is None:
        return None
    decoded = from_global_id(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


def page_of(info: Info, first: int | None, after: str | None) -> Page:
    """The page a connection field was asked for, ``first`` capped at the request's maximum page size."""
    return Page.of(first, after, maximum=info.context.max_page_size)


def given(value: Any) -> Any:
    """An update input's field: left out (strawberry.UNSET) is the service's UNSET, "do not change"."""
    return UNSET if value is strawberry.UNSET else value


def given_enum(value: Any) -> Any:
    """:func:`given` for an enum field: its stored name, or None to clear it."""
    if value is strawberry.UNSET:
        return UNSET
    return None if value is None else value.value

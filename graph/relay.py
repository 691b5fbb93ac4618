"""Relay plumbing: opaque global IDs, the Node interface and cursor connections with a capped ``first``."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from common.errors import DomainError

T = TypeVar("T")


def to_global_id(type_name: str, db_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("="))


def from_global_id(global_id: str) -> tuple[str, uuid.UUID] | None:
    """(type name, database id), or None when the id is not one of ours. Never raises."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        return type_name, uuid.UUID(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def expect_global_id(global_id: str, type_name: str, *, field: str) -> uuid.UUID:
    """The database id behind ``global_id`` if it names a ``type_name``; else a NOT_FOUND problem on ``field``."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise DomainError.one(field, "NOT_FOUND", f"No {type_name} with id {global_id!r} at this school.")
    return decoded[1]


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(metadata={"schoolgraph.public": "opaque identifier"})


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(k) for k in key]).encode()).decode()


def decode_cursor(cursor: str | None) -> list[str] | None:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DomainError.one("after", "INVALID_CURSOR", "The cursor is not one this server issued.")
    return value


@dataclass(frozen=True)
class Page:
    """What a connection query asks for: at most ``first`` rows after the ``after`` key."""

    first: int
    after: list[str] | None

    @classmethod
    def of(cls, first: int | None, after: str | None, *, maximum: int) -> Page:
        if first is not None and not 0 < first <= maximum:
            raise DomainError.one("first", "INVALID_PAGE_SIZE", f"first must be between 1 and {maximum}.")
        return cls(first=first or maximum, after=decode_cursor(after))


def connection(
    rows: Sequence[Any], page: Page, *, key: Callable[[Any], Sequence[Any]], node: Callable[[Any], T]
) -> Connection[T]:
    """A connection from ``rows`` fetched with limit ``page.first + 1`` (the extra row means a next page)."""
    visible = rows[: page.first]
    edges = [Edge(cursor=encode_cursor(key(row)), node=node(row)) for row in visible]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > page.first,
            has_previous_page=page.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )

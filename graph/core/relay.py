"""Relay plumbing: opaque global IDs, the Node interface, the registry ``node(id)`` reads, and cursor
connections with a capped ``first``."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Text, func, literal_column
from sqlalchemy import cast as sql_cast
from strawberry.types import Info

from auth.policies import Policy
from common.errors import DomainError
from common.pagination import Page, encode_cursor

T = TypeVar("T")


def to_global_id(type_name: str, db_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("="))


def global_id_sql(type_name: str, column: Any) -> Any:
    """:func:`to_global_id` as a SQL expression of a uuid column, for JSON that PostgreSQL builds: the same
    text (base64url of ``Type:uuid`` without padding; PostgreSQL's base64 breaks lines, which are dropped)."""
    if not type_name.isidentifier():
        raise ValueError(f"not a type name: {type_name!r}")
    raw = func.convert_to(
        literal_column(f"'{type_name}:'").concat(sql_cast(column, Text)), literal_column("'UTF8'")
    )
    base64_text = func.encode(raw, literal_column("'base64'"))
    urlsafe = func.translate(base64_text, literal_column("E'+/\\n'"), literal_column("'-_'"))
    return func.rtrim(urlsafe, literal_column("'='"), type_=Text)


def from_global_id(global_id: str) -> tuple[str, uuid.UUID] | None:
    """(type name, database id), or None when the id is not one of ours. Never raises."""
    return _decoded(global_id) if isinstance(global_id, str) else None


@lru_cache(maxsize=4096)
def _decoded(global_id: str) -> tuple[str, uuid.UUID] | None:
    """:func:`from_global_id` of a text, remembered for the last few thousand: a client asks about the same
    objects again and again (a class view names its group and ladder on every request), and decoding one
    (base64, then a UUID parsed in Python) is work done again for the same text. What it returns is
    immutable."""
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


NodeFetch = Callable[[Any, list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]]
"""``(info, database ids) -> {id: GraphQL object}`` with the caller's row scope applied: an id the caller
may not see (or of another school) is simply missing."""


@dataclass(frozen=True)
class NodeKind:
    """How ``node(id)`` reads one kind of object: the policy of the field that lists it (checked against
    the school first), then the scoped fetch the list uses."""

    prefix: str
    policy: Policy
    fetch: NodeFetch


NODE_KINDS: dict[str, NodeKind] = {}
"""Every kind ``node(id)`` can return, by the type name its global ids carry (filled at import by the
modules that define the root fields: the schema imports them all)."""


def node_kind(prefix: str, policy: Policy) -> Callable[[NodeFetch], NodeFetch]:
    """Register the fetch of the objects whose global ids are ``prefix:<uuid>`` for ``node(id)``."""

    def register(fetch: NodeFetch) -> NodeFetch:
        if prefix in NODE_KINDS and NODE_KINDS[prefix].fetch is not fetch:
            raise ValueError(f"Two node kinds for global ids of {prefix!r}.")
        NODE_KINDS[prefix] = NodeKind(prefix, policy, fetch)
        return fetch

    return register


AdminNodeFetch = Callable[[Any, uuid.UUID], Awaitable[Any]]
"""``(info, database id) -> GraphQL object or None``, scoped to what the caller's listing fields show."""


def admin_node_resolver(
    kinds: Mapping[str, AdminNodeFetch],
) -> Callable[[Info, strawberry.ID], Awaitable[Node | None]]:
    """The ``node(id)`` resolver of an admin schema (trust, platform): the fetch registered for the global
    id's type name, or None for an id that is not one of ours, of an unknown kind, or not the caller's to see.
    The root field that carries it states its policy (``guarded``)."""

    async def node(info: Info, id: strawberry.ID) -> Node | None:
        decoded = from_global_id(id)
        fetch = None if decoded is None else kinds.get(decoded[0])
        found: Node | None = None if fetch is None or decoded is None else await fetch(info, decoded[1])
        return found

    return node


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

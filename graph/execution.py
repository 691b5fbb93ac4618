"""The executor every schoolgraph schema runs with: graphql-core's, with two shortcuts for plain values.

A class view is a few hundred small values: each pupil's name, share and level on every rung. graphql-core
pays the same for each of them as for a field that loads data: a resolve info, an argument check,
awaitable checks and a dispatch on the return type, and for a list, all of that again per item.

* **Leaf fields** (scalars, enums and lists of them) that :func:`plan` found a plain ``fetch`` for (a
  guarded field compiled by :func:`graph.permissions.compile_guards` whose resolver needs no ``Info``, or
  a plain attribute) are fetched and serialised directly by :meth:`Executor.execute_field`.
* **Lists of leaves** are serialised in one pass (:meth:`Executor.complete_list_value`).

Anything unusual goes back to graphql-core, which then does what it always does, errors and their paths
included: a refused or failing fetch, a null for a non-null type, an awaitable or an exception among the
items, a value the type cannot serialise, field arguments, middleware, ``@stream``. Fetches are
side-effect free (a policy check and a read), so running one again on that path is safe. The results are
the ones graphql-core produces (tests/unit/test_execution.py runs both executors side by side).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_LEAF = (GraphQLScalarType, GraphQLEnumType)


FAST_KEY = "schoolgraph.fast"
_MISS = object()


@dataclass(frozen=True, slots=True)
class FastField:
    """How to produce a leaf field's value without graphql-core's per-field machinery."""

    fetch: Callable[[Any, Any], Any]
    """``fetch(source, context)``: the value, or an exception (a refusal) for graphql-core to report."""
    leaf: GraphQLScalarType | GraphQLEnumType
    non_null: bool
    list_of: bool
    """A (nullable) list of ``leaf``; ``non_null`` then says whether the items are."""


def plan(schema: GraphQLSchema) -> int:
    """Mark the leaf fields :class:`Executor` may fetch directly; returns how many."""
    planned = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            fetch = _fetch_of(field)
            shape = _leaf_shape(field.type)
            if fetch is None or shape is None or field.args:
                continue
            field.extensions = {**(field.extensions or {}), FAST_KEY: FastField(fetch, *shape)}
            planned += 1
    return planned


def _fetch_of(field: GraphQLField) -> Callable[[Any, Any], Any] | None:
    resolve = field.resolve
    fetch: Callable[[Any, Any], Any] | None = getattr(resolve, "fetch", None)
    if fetch is not None:
        return fetch
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(definition, StrawberryField) and definition.is_basic_field:
        # Strawberry's own resolver of a plain attribute: its default resolver, getattr, with no checks.
        name = definition.python_name

        def attribute(source: Any, context: Any) -> Any:
            return getattr(source, name)

        return attribute
    return None


def _leaf_shape(type_: Any) -> tuple[Any, bool, bool] | None:
    """(leaf type, non-null, list) for ``Leaf``, ``Leaf!``, ``[Leaf]`` and ``[Leaf!]``; else None."""
    list_of = isinstance(type_, GraphQLList)
    if list_of:
        type_ = type_.of_type
    non_null = isinstance(type_, GraphQLNonNull)
    if non_null:
        type_ = type_.of_type
    return (type_, non_null, list_of) if isinstance(type_, _LEAF) else None


class Executor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        field_def = self.schema.get_field(parent_type, node.name.value)
        fast: FastField | None = (field_def.extensions or {}).get(FAST_KEY) if field_def is not None else None
        middleware = self.middleware_manager
        if fast is not None and not node.arguments and (middleware is None or not middleware.middlewares):
            value = self._fetched(fast, source)
            if value is not _MISS:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _fetched(self, fast: FastField, source: Any) -> Any:
        try:
            value = fast.fetch(source, self.context_value)
        except Exception:
            return _MISS
        if value is None:
            return _MISS if fast.non_null and not fast.list_of else None
        if not fast.list_of:
            return self._leaf(serializer(fast.leaf), value)
        if type(value) is not list:
            return _MISS
        items = self._serialised(fast.leaf, value, fast.non_null)
        return _MISS if items is None else items

    def _leaf(self, serialize: Callable[[Any], Any], value: Any) -> Any:
        """A non-null value serialised, or _MISS when graphql-core must see it (it reports the error)."""
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _MISS
        try:
            serialized = serialize(value)
        except Exception:
            return _MISS
        return _MISS if serialized is None or serialized is Undefined else serialized

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        leaf = item_type.of_type if non_null else item_type
        if isinstance(leaf, _LEAF) and type(result) is list:
            completed = self._serialised(leaf, result, non_null)
            if completed is not None and self.get_stream_usage(field_details_list, path) is None:
                return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _serialised(
        self, leaf: GraphQLScalarType | GraphQLEnumType, items: list[Any], non_null: bool
    ) -> list[Any] | None:
        """The items serialised, or None when one needs graphql-core's full treatment."""
        serialize, leaf_value = serializer(leaf), self._leaf
        out: list[Any] = []
        append = out.append
        for item in items:
            if item is None:
                if non_null:
                    return None  # graphql-core raises the null error at the item's path
                append(None)
                continue
            value = leaf_value(serialize, item)
            if value is _MISS:
                return None
            append(value)
        return out


@cache
def serializer(leaf: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """The leaf type's ``serialize``; for an enum, names found in a dict first (a class view serialises
    hundreds of levels). Only exact matches are looked up: a value of the enum's type, or a member of
    its Python enum; anything else, and anything not found, goes to ``serialize`` as before."""
    serialize = leaf.serialize
    if not isinstance(leaf, GraphQLEnumType):
        return serialize
    names: dict[tuple[type, Any], str] = {}
    for name, member in leaf.values.items():
        names.setdefault((type(member.value), member.value), name)
    wrapped = getattr(leaf, "wrapped_cls", None)

    def enum_name(item: Any) -> Any:
        kind = type(item)
        key = (type(item.value), item.value) if kind is wrapped else (kind, item)
        try:
            found = names.get(key)
        except TypeError:  # unhashable
            found = None
        return found if found is not None else serialize(item)

    return enum_name

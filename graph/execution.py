"""The executor every schoolgraph schema runs with: graphql-core's, with a direct path for plain values.

A class view is a few hundred small values: each pupil's name, share and level on every rung. graphql-core
pays the same for each of them as for a field that loads data: a resolve info, a path entry, an argument
check, awaitable checks and a dispatch on the return type, and for a list all of that again per item.

Most fields need none of it. :func:`plan` gives a field a ``fetch(source, context)`` when its value comes
from its object alone: a guarded field compiled by :func:`graph.permissions.compile_guards` whose
resolver takes no ``Info`` and is not async (the policy check, then a read or a computation from the
object), or a plain attribute. Such a resolver cannot reach the request (no session, no loaders), so it
is side-effect free. :class:`Executor` then completes a fetched value directly, recursively: leaves are
serialised (enum names from a dict), lists item by item, and an object whose selected fields all have a
fetch becomes its dict in one loop.

Anything unusual sends the value back to graphql-core, which then does what it always does, errors and
their paths included: a refused or failing fetch, a null for a non-null type, a field without a fetch
(arguments, ``Info``, async), an awaitable or exception, a value the type cannot serialise, an abstract
type, a type check that fails, middleware, ``@stream``/``@defer``. The fetches it repeats on that path
are side-effect free, so the result is the one graphql-core produces (tests/unit/test_execution.py runs
both executors side by side; every schema test runs through this one).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

FETCH_KEY = "schoolgraph.fetch"
_LEAF = (GraphQLScalarType, GraphQLEnumType)
_MISS: Any = object()

Fetch = Callable[[Any, Any], Any]
FieldPlan = tuple[str, Fetch, GraphQLOutputType, Any]
"""(response name, fetch, field type, the field's details list) of one selected field."""


def plan(schema: GraphQLSchema) -> int:
    """Give every field whose value comes from its object alone a ``fetch``; returns how many."""
    planned = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            fetch = _fetch_of(field)
            if fetch is None or field.args:
                continue
            field.extensions = {**(field.extensions or {}), FETCH_KEY: fetch}
            planned += 1
    return planned


def _fetch_of(field: GraphQLField) -> Fetch | None:
    fetch: Fetch | None = getattr(field.resolve, "fetch", None)
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


class Executor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._object_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, list[FieldPlan] | None]] = {}
        middleware = self.middleware_manager
        self._direct = middleware is None or not middleware.middlewares

    # --- graphql-core's entry points ---------------------------------------------------------------------

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._direct:
            node = field_details_list[0].node
            field_def = self.schema.get_field(parent_type, node.name.value)
            fetch = (field_def.extensions or {}).get(FETCH_KEY) if field_def is not None else None
            if fetch is not None and not node.arguments:
                done = self._fetched(fetch, field_def.type, field_details_list, source)  # type: ignore[union-attr]
                if done is not _MISS:
                    return done
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._direct:
            done = self._object(return_type, field_details_list, result)
            if done is not _MISS:
                return done
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._direct and self.get_stream_usage(field_details_list, path) is None:
            done = self._value(return_type, field_details_list, result)
            if done is not _MISS:
                return done
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # --- the direct path -----------------------------------------------------------------------------------

    def _fetched(self, fetch: Fetch, type_: GraphQLOutputType, details: Any, source: Any) -> Any:
        try:
            value = fetch(source, self.context_value)
        except Exception:
            return _MISS
        return self._value(type_, details, value)

    def _value(self, type_: Any, details: Any, value: Any) -> Any:
        """The completed value, or _MISS for graphql-core to complete (and report) instead."""
        if isinstance(type_, GraphQLNonNull):
            if value is None:
                return _MISS
            type_ = type_.of_type
        elif value is None:
            return None
        if isinstance(type_, _LEAF):
            return self._leaf(serializer(type_), value)
        if isinstance(type_, GraphQLList):
            return self._list(type_.of_type, details, value)
        if isinstance(type_, GraphQLObjectType):
            return self._object(type_, details, value)
        return _MISS  # interfaces and unions: graphql-core resolves the type

    def _leaf(self, serialize: Callable[[Any], Any], value: Any) -> Any:
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _MISS
        try:
            serialized = serialize(value)
        except Exception:
            return _MISS
        return _MISS if serialized is None or serialized is Undefined else serialized

    def _list(self, item_type: Any, details: Any, items: Any) -> Any:
        if type(items) is not list:
            return _MISS
        non_null = isinstance(item_type, GraphQLNonNull)
        leaf = item_type.of_type if non_null else item_type
        out: list[Any] = []
        append = out.append
        if isinstance(leaf, _LEAF):
            serialize, complete_leaf = serializer(leaf), self._leaf
            for item in items:
                if item is None:
                    if non_null:
                        return _MISS  # graphql-core raises the null error at the item's path
                    append(None)
                    continue
                value = complete_leaf(serialize, item)
                if value is _MISS:
                    return _MISS
                append(value)
            return out
        complete = self._value
        for item in items:
            value = complete(item_type, details, item)
            if value is _MISS:
                return _MISS
            append(value)
        return out

    def _object(self, object_type: GraphQLObjectType, details: Any, source: Any) -> Any:
        if self.is_awaitable(source) or isinstance(source, Exception):
            return _MISS
        if object_type.is_type_of is not None:
            try:
                if not object_type.is_type_of(source, None):
                    return _MISS
            except Exception:  # a check that wants the resolve info: graphql-core gives it one
                return _MISS
        fields = self._object_plan(object_type, details)
        if fields is None:
            return _MISS
        out: dict[str, Any] = {}
        fetched = self._fetched
        for name, fetch, type_, field_details in fields:
            value = fetched(fetch, type_, field_details, source)
            if value is _MISS:
                return _MISS
            out[name] = value
        return out

    def _object_plan(self, object_type: GraphQLObjectType, details: Any) -> list[FieldPlan] | None:
        """The selected fields of ``object_type`` under ``details``, if every one has a fetch (memoized per
        selection, as graphql-core memoizes the collection itself)."""
        key = (object_type, id(details))
        found = self._object_plans.get(key)
        if found is not None:
            return found[1]
        grouped, defer_usages, _ = self.collect_subfields(object_type, details)
        fields: list[FieldPlan] | None = [] if not defer_usages else None
        for name, field_details in grouped.items() if fields is not None else ():
            node = field_details[0].node
            field_def = self.schema.get_field(object_type, node.name.value)
            fetch = (field_def.extensions or {}).get(FETCH_KEY) if field_def is not None else None
            if fetch is None or node.arguments:
                fields = None
                break
            fields.append((name, fetch, field_def.type, field_details))  # type: ignore[union-attr]
        self._object_plans[key] = (details, fields)  # details kept alive: its id stays its own
        return fields


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

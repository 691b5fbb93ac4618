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

from collections.abc import Awaitable, Callable
from functools import cache
from math import isfinite
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)
from graphql.pyutils import Path, Undefined, is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

FETCH_KEY = "schoolgraph.fetch"
COMPILED_KEY = "schoolgraph.compiled"
"""A root field's metadata key for its compiled form (:data:`Compiled`)."""
_LEAF = (GraphQLScalarType, GraphQLEnumType)
_MISS: Any = object()
MISS: Any = _MISS

Fetch = Callable[[Any, Any], Any]
Compiled = Callable[["Executor", GraphQLField, Any], Awaitable[Any]]
"""A root field answered whole, without the field-by-field walk: ``compiled(executor, field, details)``
returns the field's value as the response carries it (an ``orjson.Fragment`` of JSON built elsewhere, say),
or :data:`MISS` when this request is not one it answers exactly as the general executor would: then the
general executor runs the field as always. It must have no side effect before it knows it answers."""
Complete = Callable[[Any, Any], Any]
"""A completer, ``complete(value, context)``: the value as the response carries it, or ``_MISS`` for
graphql-core to complete instead."""


def plan(schema: GraphQLSchema) -> int:
    """Give every field whose value comes from its object alone a ``fetch``, and every field declared with
    a compiled form (metadata :data:`COMPILED_KEY`) that form; returns how many fetches."""
    planned = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            compiled = (
                definition.metadata.get(COMPILED_KEY) if isinstance(definition, StrawberryField) else None
            )
            if compiled is not None:
                field.extensions = {**(field.extensions or {}), COMPILED_KEY: compiled}
            fetch = _fetch_of(field)
            if fetch is None or field.args:
                continue
            field.extensions = {**(field.extensions or {}), FETCH_KEY: fetch}
            planned += 1
    return planned


def _planned_fetch(field: GraphQLField | None) -> Fetch | None:
    """The fetch :func:`plan` gave the field, if any."""
    return None if field is None else (field.extensions or {}).get(FETCH_KEY)


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
        self._completers: dict[tuple[Any, int], tuple[Any, Complete]] = {}
        middleware = self.middleware_manager
        self._direct = middleware is None or not middleware.middlewares
        self._static = _static(self.operation, self.fragments)

    # --- graphql-core's entry points ---------------------------------------------------------------------

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        """One root field with a compiled form (:data:`Compiled`) in a query without directives: the
        compiled form answers it, or, when it cannot answer exactly, graphql-core runs it as always."""
        if (
            self._direct
            and self._static
            and not serially
            and not new_defer_usages
            and len(grouped_field_set) == 1
        ):
            ((key, details),) = grouped_field_set.items()
            field_def = self.schema.get_field(root_type, details[0].node.name.value)
            compiled = None if field_def is None else (field_def.extensions or {}).get(COMPILED_KEY)
            if compiled is not None and len(details) == 1 and details[0].defer_usage is None:
                assert field_def is not None
                return self._compiled_root(
                    compiled, key, field_def, details, (root_type, root_value, grouped_field_set, serially)
                )
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )

    async def _compiled_root(
        self, compiled: Compiled, key: str, field_def: GraphQLField, details: Any, general: tuple[Any, ...]
    ) -> Any:
        value = await compiled(self, field_def, details)
        if value is not _MISS:
            return {key: value}
        root_type, root_value, grouped_field_set, serially = general
        result = super().execute_collected_root_fields(root_type, root_value, grouped_field_set, serially, ())
        return await result if self.is_awaitable(result) else result

    def complete_directly(self, type_: Any, details: Any, value: Any) -> Any:
        """``value`` completed as a field of ``type_`` under ``details`` by the direct path, or :data:`MISS`
        where graphql-core would have to (for a compiled field's parts that Python answers)."""
        return self._completer(type_, details)(value, self.context_value)

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
            fetch = _planned_fetch(field_def)
            if fetch is not None and not node.arguments:
                assert field_def is not None
                try:
                    value = fetch(source, self.context_value)
                except Exception:
                    value = _MISS
                if value is not _MISS:
                    done = self._completer(field_def.type, field_details_list)(value, self.context_value)
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
            done = self._completer(return_type, field_details_list)(result, self.context_value)
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
            done = self._completer(return_type, field_details_list)(result, self.context_value)
            if done is not _MISS:
                return done
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # --- completers ------------------------------------------------------------------------------------------

    def _completer(self, type_: Any, details: Any) -> Complete:
        """The completer of a type under one selection: built once per request (memoized, as graphql-core
        memoizes the collection of subfields, on the identity of the field details), and shared between
        requests of a document without directives, whose selections cannot depend on variables (keyed on
        the identity of its field nodes: documents come from the parser cache)."""
        key = (type_, id(details))
        found = self._completers.get(key)
        if found is not None:
            return found[1]
        shared_key = None
        if self._static and all(d.fragment_variable_values is None for d in details):
            shared_key = (type_, tuple(id(d.node) for d in details))
            shared = _SHARED.get(shared_key)
            if shared is not None:
                self._completers[key] = (details, shared[1])
                return shared[1]
        complete = self._build(type_, details)
        self._completers[key] = (details, complete)  # details kept alive: its id stays its own
        if shared_key is not None:
            if len(_SHARED) >= _SHARED_MAX:
                _SHARED.clear()
            _SHARED[shared_key] = (tuple(d.node for d in details), complete)  # nodes kept alive likewise
        return complete

    def _build(self, type_: Any, details: Any) -> Complete:
        if isinstance(type_, GraphQLNonNull):
            inner = self._build_value(type_.of_type, details)
            return lambda value, context: _MISS if value is None else inner(value, context)
        inner = self._build_value(type_, details)
        return lambda value, context: None if value is None else inner(value, context)

    def _build_value(self, type_: Any, details: Any) -> Complete:
        """For a value that is not None."""
        if isinstance(type_, _LEAF):
            return leaf_completer(type_)
        if isinstance(type_, GraphQLList):
            return self._list_completer(type_.of_type, details)
        if isinstance(type_, GraphQLObjectType):
            return self._object_completer(type_, details)
        return _missed  # interfaces and unions: graphql-core resolves the type

    def _list_completer(self, item_type: Any, details: Any) -> Complete:
        non_null = isinstance(item_type, GraphQLNonNull)
        leaf = item_type.of_type if non_null else item_type
        item = leaf_completer(leaf) if isinstance(leaf, _LEAF) else self._build(item_type, details)
        nullable_leaf = isinstance(leaf, _LEAF) and not non_null

        def complete_list(items: Any, context: Any) -> Any:
            if type(items) is not list:
                return _MISS
            out: list[Any] = []
            append = out.append
            for value in items:
                if value is None and nullable_leaf:
                    append(None)
                    continue
                # A None of a non-null leaf: the leaf refuses it, and graphql-core reports it.
                completed = item(value, context)
                if completed is _MISS:
                    return _MISS
                append(completed)
            return out

        return complete_list

    def _object_completer(self, object_type: GraphQLObjectType, details: Any) -> Complete:
        grouped, defer_usages, _ = self.collect_subfields(object_type, details)
        fields: list[tuple[str, Fetch, Complete]] = []
        for name, field_details in grouped.items():
            node = field_details[0].node
            field_def = self.schema.get_field(object_type, node.name.value)
            fetch = _planned_fetch(field_def)
            if fetch is None or node.arguments or defer_usages:
                return _missed
            assert field_def is not None
            fields.append((name, fetch, self._completer(field_def.type, field_details)))
        is_type_of, is_awaitable = object_type.is_type_of, self.is_awaitable

        def complete_object(source: Any, context: Any) -> Any:
            if is_awaitable(source) or isinstance(source, Exception):
                return _MISS
            if is_type_of is not None:
                try:
                    if not is_type_of(source, None):
                        return _MISS
                except Exception:  # a check that wants the resolve info: graphql-core gives it one
                    return _MISS
            out: dict[str, Any] = {}
            for name, fetch, complete in fields:
                try:
                    value = fetch(source, context)
                except Exception:
                    return _MISS
                completed = complete(value, context)
                if completed is _MISS:
                    return _MISS
                out[name] = completed
            return out

        return complete_object


def _missed(value: Any, context: Any) -> Any:
    return _MISS


_SHARED: dict[tuple[Any, ...], tuple[Any, Complete]] = {}
"""Completers of documents without directives, shared between requests (cleared when full)."""
_SHARED_MAX = 4096
_STATIC: dict[int, tuple[Any, bool]] = {}


def _static(operation: Any, fragments: dict[str, Any]) -> bool:
    """Whether an operation and its fragments carry no directive at all (then no selection depends on the
    request's variables), remembered per operation node (kept alive with the answer)."""
    found = _STATIC.get(id(operation))
    if found is not None and found[0] is operation:
        return found[1]
    nodes = [operation, *fragments.values()]
    static = True
    while nodes and static:
        node = nodes.pop()
        if getattr(node, "directives", None):
            static = False
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            nodes.extend(selection_set.selections)
    if len(_STATIC) >= _SHARED_MAX:
        _STATIC.clear()
    _STATIC[id(operation)] = (operation, static)
    return static


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@cache
def leaf_completer(leaf: GraphQLScalarType | GraphQLEnumType) -> Complete:
    """A leaf's completer: the value serialised, or _MISS where graphql-core would raise. The built-in
    scalars answer their own type's values at once, and an enum the names it is stored as, exactly as
    their ``serialize`` would; anything else goes to ``serialize``."""
    serialize = leaf.serialize

    def slow(value: Any, context: Any = None) -> Any:
        if value is None or isinstance(value, Exception) or is_awaitable(value):
            return _MISS
        try:
            serialized = serialize(value)
        except Exception:
            return _MISS
        return _MISS if serialized is None or serialized is Undefined else serialized

    if isinstance(leaf, GraphQLEnumType):
        # Stored names (a level is kept as its name): one dict lookup; members and the rest: serialize.
        by_text = {v.value: name for name, v in reversed(leaf.values.items()) if type(v.value) is str}
        return lambda value, context: (
            found if type(value) is str and (found := by_text.get(value)) is not None else slow(value)
        )
    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda value, context: value if type(value) is str else slow(value)
    if leaf is GraphQLBoolean:
        return lambda value, context: value if type(value) is bool else slow(value)
    if leaf is GraphQLInt:
        return lambda value, context: (
            value if type(value) is int and _INT_MIN <= value <= _INT_MAX else slow(value)
        )
    if leaf is GraphQLFloat:
        return lambda value, context: value if type(value) is float and isfinite(value) else slow(value)
    return slow

"""Limits every schema runs with: size, tokens and directives (:mod:`graph.documents`), depth, aliases, a
query cost, caches, no introspection and no suggestions in production."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.language import IntValueNode
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import validate_document
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from common.settings import Settings
from graph.documents import DOCUMENTS, DocumentLimits, parse_document

MAX_COST = 50_000


LIST_SIZE_KEY = "schoolgraph.list_size"


def list_size(bound: int) -> dict[str, int]:
    """Field metadata declaring the domain bound of a plain (un-paginated) list field.

    Use it where the field is declared, for a list the domain keeps far below a page (a pupil is in a
    handful of groups, a group has a few teachers): ``strawberry.field(..., metadata=list_size(10))`` or
    ``guarded(..., metadata=list_size(10))``. The cost rule prices every other plain list at the page size.
    """
    return {LIST_SIZE_KEY: bound}


def _declared_size(field: GraphQLField) -> int | None:
    """The bound :func:`list_size` declared on the field, if any."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    bound: int | None = definition.metadata.get(LIST_SIZE_KEY)
    return bound


def _first(node: FieldNode, default: int) -> int:
    for argument in node.arguments or ():
        if argument.name.value == "first" and isinstance(argument.value, IntValueNode):
            return int(argument.value.value)
    # A variable (validation has no values) or no ``first``: the page size, which ``first`` cannot exceed.
    return default


def _field(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None  # introspection fields (__typename, ...) and unknown fields (reported by other rules)


def _size(
    node: FieldNode, parent: GraphQLNamedType | None, field: GraphQLField | None, page_size: int
) -> int:
    """How many objects one occurrence of the field can return."""
    if field is None or parent is None:
        return 1
    if "first" in field.args:
        return _first(node, page_size)
    if parent.name.endswith("Connection"):
        return 1  # edges and nodes: already priced by the connection's ``first``
    if is_list_type(get_nullable_type(field.type)):
        bound = _declared_size(field)
        return page_size if bound is None else bound
    return 1


def cost_rule(max_cost: int, page_size: int) -> type[ValidationRule]:
    """A validation rule refusing documents whose worst-case result size exceeds ``max_cost`` objects.

    Each field costs 1; a connection (a field with ``first``) or a list field multiplies the cost of what
    is below it by its size (``first``, the page size, or the domain bound the field declares with :func:`list_size`), so nested
    lists are priced as the rows they could return. Fragments (named and inline) are priced where used.
    """

    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            cost = self._cost(node.selection_set, root, 1, frozenset())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"Query too expensive: up to {cost} objects; the limit is {max_cost}. Ask for smaller pages.",
                        node,
                        extensions={"code": "QUERY_TOO_EXPENSIVE"},
                    )
                )

        def _cost(
            self,
            selection_set: SelectionSetNode | None,
            parent: GraphQLNamedType | None,
            multiplier: int,
            spreading: frozenset[str],
        ) -> int:
            if selection_set is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode) and selection.name.value.startswith("__"):
                    # Introspection (development only: production disables it) is answered from the
                    # schema in memory, bounded by the schema's size whatever the document asks.
                    total += multiplier
                elif isinstance(selection, FieldNode):
                    field = _field(parent, selection.name.value)
                    size = _size(selection, parent, field, page_size)
                    inner = get_named_type(field.type) if field is not None else None
                    total += multiplier + self._cost(
                        selection.selection_set, inner, multiplier * size, spreading
                    )
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    target = self.context.schema.get_type(condition.name.value) if condition else parent
                    total += self._cost(selection.selection_set, target, multiplier, spreading)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is None or name in spreading:  # unknown or cyclic: other rules report it
                        continue
                    target = self.context.schema.get_type(fragment.type_condition.name.value)
                    total += self._cost(fragment.selection_set, target, multiplier, spreading | {name})
            return total

    return QueryCost


class CachedDocuments(SchemaExtension):
    """Parsing and validating through :data:`graph.documents.DOCUMENTS`, within the document limits: the
    edge's parse of the same text is reused, a refusal (a syntax error, a limit) is the operation's only
    error, and a document's validation is cached with it, under the same bound."""

    def __init__(self, limits: DocumentLimits) -> None:
        super().__init__()
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            context.graphql_document = parse_document(context.query, self.limits)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query
        if document is not None and query and context.pre_execution_errors is None:
            rules = (id(context.schema._schema), tuple(context.validation_rules))
            # What the schema's direct path looks a validated document up by (graph.core.schema).
            context.schema.validated_with = (self.limits, rules)  # type: ignore[attr-defined]
            context.pre_execution_errors = DOCUMENTS.validate(
                query,
                self.limits,
                rules,
                lambda: validate_document(context.schema._schema, document, context.validation_rules),
            )
        yield


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """``message`` without graphql-core's "Did you mean ...?" hints, which name arguments, input fields,
    types and enum values of the schema to a caller that may not introspect it."""
    return _SUGGESTION.sub("", message)


def schema_extensions(settings: Settings) -> list[Any]:
    """Extension factories: strawberry builds fresh instances per request (the caches are module-level)."""
    # The validation rules are built once: the validation cache is keyed by the rule classes, so rules
    # rebuilt per request (as the limiters' constructors do) would make every request a cache miss.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        cost_rule(MAX_COST, settings.max_page_size),
    ]
    limits = DocumentLimits.of(settings)
    extensions: list[Any] = [
        before_execution(lambda: CachedDocuments(limits)),
        before_execution(lambda: AddValidationRules(rules)),
    ]
    if not settings.graphiql:
        extensions.append(before_execution(DisableIntrospection))
    return extensions


BEFORE_EXECUTION = "schoolgraph_before_execution"
"""Marks an extension factory whose extension acts only on parsing and validation (never on execution or
its result): a document it has already passed may be executed without it (graph.core.schema)."""


def before_execution(factory: Any) -> Any:
    """``factory`` marked :data:`BEFORE_EXECUTION` (a class is wrapped, its attributes being its own)."""

    def make() -> Any:
        return factory()

    setattr(make, BEFORE_EXECUTION, True)
    return make

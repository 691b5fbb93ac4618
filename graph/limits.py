"""Limits every schema runs with: depth, aliases, tokens, a query cost, caches, and no introspection in production."""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from graphql.language import IntValueNode, VariableNode
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from server.settings import Settings

MAX_COST = 50_000


def _list_size(node: FieldNode, variables: dict[str, Any] | None, default: int) -> int:
    for argument in node.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode) and variables:
                value = variables.get(argument.value.name.value)
                if isinstance(value, int):
                    return value
    return default


def cost_rule(max_cost: int, page_size: int) -> type[ValidationRule]:
    """A validation rule refusing documents whose worst-case result size exceeds ``max_cost`` objects.

    Each field costs 1; a connection (a field with ``first``) or a plural field multiplies the cost of
    what is below it by its page size, so nested lists are priced as the rows they could return.
    """

    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node: Any, *_: Any) -> None:
            cost = self._cost(node.selection_set, 1)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"Query too expensive: up to {cost} objects; the limit is {max_cost}. Ask for smaller pages.",
                        node,
                        extensions={"code": "QUERY_TOO_EXPENSIVE"},
                    )
                )

        def _cost(self, selection_set: Any, multiplier: int) -> int:
            if selection_set is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                inner = getattr(selection, "selection_set", None)
                if isinstance(selection, FieldNode):
                    size = _list_size(selection, None, page_size) if _is_list_like(selection) else 1
                    total += multiplier + self._cost(inner, multiplier * size)
                else:
                    total += self._cost(inner, multiplier)
            return total

    return QueryCost


def _is_list_like(node: FieldNode) -> bool:
    name = node.name.value
    return any(a.name.value == "first" for a in node.arguments or ()) or name in {
        "pupils",
        "groups",
        "teachers",
        "contacts",
        "children",
        "staff",
    }


def schema_extensions(settings: Settings) -> list[Any]:
    """Extension factories: strawberry builds fresh instances per request (the caches are module-level)."""
    cost = cost_rule(MAX_COST, settings.max_page_size)
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules([cost]),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ]
    if not settings.graphiql:
        extensions.append(DisableIntrospection)
    return extensions

"""The executor every schoolgraph schema runs with: graphql-core's, with lists of leaves completed in one pass.

graphql-core completes each item of a list on its own: a path entry, an awaitable check, a type dispatch
and the serialisation, for every item. A list of scalars or enum values (a pupil's level on each of a
ladder's 15 rungs, 30 pupils to a class) needs only the serialisation. :class:`Executor` serialises such
a list in one comprehension and hands anything unusual (an item that is awaitable, an exception, a null
in a list of non-null items, a value the type cannot serialise, ``@stream``) back to graphql-core, which
then completes the list as it always does, errors and their paths included. The result is the same
value graphql-core would produce; only the work per item is less.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLResolveInfo, GraphQLScalarType
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_LEAF = (GraphQLScalarType, GraphQLEnumType)


class Executor(StrawberryGraphQLCoreExecutionContext):
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
        serialize, is_awaitable = leaf.serialize, self.is_awaitable
        out: list[Any] = []
        append = out.append
        for item in items:
            if item is None:
                if non_null:
                    return None  # graphql-core raises the null error at the item's path
                append(None)
                continue
            if isinstance(item, Exception) or is_awaitable(item):
                return None
            try:
                value = serialize(item)
            except Exception:
                return None
            if value is None or value is Undefined:
                return None
            append(value)
        return out

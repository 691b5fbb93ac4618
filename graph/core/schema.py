"""The schema class all three schoolgraph schemas (school, trust, platform) are built with."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, execute, get_operation_ast
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe

from graph.core.scalars import SCALARS
from graph.documents import DOCUMENTS, DocumentLimits
from graph.execution import Executor, plan
from graph.limits import BEFORE_EXECUTION
from graph.permissions import compile_guards


class SchoolSchema(strawberry.Schema):
    """Every schoolgraph schema (school, trust, platform): guarded fields compiled (:mod:`graph.permissions`),
    lists of leaves completed in one pass (:mod:`graph.execution`), errors not logged here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            *args, **{"execution_context_class": Executor, "scalar_overrides": SCALARS, **kwargs}
        )
        compile_guards(self)
        plan(self._schema)

    validated_with: tuple[DocumentLimits, Hashable] | None = None
    """The limits and rule set this schema's documents are validated with (set by
    :class:`graph.limits.CachedDocuments` at the first validation)."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A document this schema has already parsed and validated without error, whose operation is one
        of the allowed types, is executed directly: graphql-core's execute with the same executor,
        arguments and (no) middleware that strawberry passes, without strawberry's per-request extension
        machinery, whose extensions here all act before execution (:data:`graph.limits.BEFORE_EXECUTION`)
        and have already passed it. Anything else (a first sight, an invalid document, an unknown operation
        name, an operation type not allowed, other extensions) goes through strawberry as always."""
        document = (
            self._validated(query, operation_name, allowed_operation_types)
            if operation_extensions is None
            else None
        )
        if document is None:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        result = await await_maybe(
            execute(
                self._schema,
                document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=operation_name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,
                executor_class=self.execution_context_class,
                operation_extensions=None,  # as strawberry passes it: the executor's own argument
            )
        )
        return ExecutionResult(data=result.data, errors=result.errors, extensions={})

    def _validated(
        self, query: str | None, operation_name: str | None, allowed: Iterable[OperationType] | None
    ) -> DocumentNode | None:
        """The document of ``query`` when it may be executed directly (see :meth:`execute`), else None."""
        validated_with = self.validated_with
        if validated_with is None or not query or self.directives:
            return None
        if self.config.enable_experimental_incremental_execution:
            return None
        if not all(getattr(extension, BEFORE_EXECUTION, False) for extension in self.extensions):
            return None
        document = DOCUMENTS.valid_document(query, *validated_with)
        if document is None:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return None
        if OperationType(operation.operation.value) not in (allowed or DEFAULT_ALLOWED_OPERATION_TYPES):
            return None
        return document

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log nothing here: the HTTP edge logs unexpected errors with the request id, and denials and
        validation errors are expected outcomes, recorded in the audit log instead."""

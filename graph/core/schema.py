"""The schema class all three schoolgraph schemas (school, trust, platform) are built with."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from graph.core.scalars import SCALARS
from graph.execution import Executor, plan
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

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log nothing here: the HTTP edge logs unexpected errors with the request id, and denials and
        validation errors are expected outcomes, recorded in the audit log instead."""

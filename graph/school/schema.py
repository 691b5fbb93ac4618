"""The school schema served at ``/schools/{slug}/graphql``."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.execution import Executor, plan
from graph.limits import schema_extensions
from graph.permissions import compile_guards
from graph.school.activation import ActivationMutation
from graph.school.admin_mutations import AdminMutation
from graph.school.audit_queries import AuditQuery
from graph.school.auth_mutations import AuthMutation
from graph.school.learning import LearningMutation, LearningQuery
from graph.school.queries import Query as PeopleQuery
from graph.school.roster import RosterMutation, RosterQuery
from graph.school.types import ContactType, GroupType, PupilType, StaffType


@strawberry.type
class Query(PeopleQuery, AuditQuery, RosterQuery, LearningQuery):
    """The root query: each domain contributes its fields from its own module."""


@strawberry.type
class Mutation(AuthMutation, ActivationMutation, AdminMutation, RosterMutation, LearningMutation):
    """The root mutation: each domain contributes its fields from its own module."""


audit_every_mutation(Mutation)


class SchoolSchema(strawberry.Schema):
    """Every schoolgraph schema (school, trust, platform): guarded fields compiled (:mod:`graph.permissions`),
    lists of leaves completed in one pass (:mod:`graph.execution`), errors not logged here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"execution_context_class": Executor, **kwargs})
        compile_guards(self)
        plan(self._schema)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log nothing here: the HTTP edge logs unexpected errors with the request id, and denials and
        validation errors are expected outcomes, recorded in the audit log instead."""


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        types=[PupilType, StaffType, GroupType, ContactType],
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

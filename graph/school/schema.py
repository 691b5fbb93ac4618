"""The school schema served at ``/schools/{slug}/graphql``."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
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


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        types=[PupilType, StaffType, GroupType, ContactType],
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

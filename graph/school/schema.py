"""The school schema served at ``/schools/{slug}/graphql``."""

from __future__ import annotations

import strawberry

from graph.audit import audit_every_mutation
from graph.limits import schema_extensions
from graph.school.admin_mutations import AdminMutation
from graph.school.auth_mutations import AuthMutation
from graph.school.queries import Query
from graph.school.types import ContactType, GroupType, PupilType, StaffType
from server.settings import Settings


@strawberry.type
class Mutation(AuthMutation, AdminMutation):
    pass


audit_every_mutation(Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[PupilType, StaffType, GroupType, ContactType],
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

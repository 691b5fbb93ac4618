"""The platform schema served at ``/platform/graphql`` (operators only; aggregates only)."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
from graph.platform.mutations import Mutation
from graph.platform.queries import Query

audit_every_mutation(Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

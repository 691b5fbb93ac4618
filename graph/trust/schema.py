"""The trust schema served at ``/trusts/{slug}/graphql`` (the trust's admins)."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
from graph.trust.mutations import Mutation
from graph.trust.queries import Query

audit_every_mutation(Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

"""The trust schema served at ``/trusts/{slug}/graphql`` (the trust's admins)."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
from graph.trust.auth import AuthMutation
from graph.trust.handover import HandoverMutation
from graph.trust.nodes import NodeQuery
from graph.trust.novations import NovationMutation
from graph.trust.queries import Query as TrustQuery
from graph.trust.school_admins import SchoolAdminMutation


@strawberry.type
class Query(NodeQuery, TrustQuery):
    """The root query: ``node(id)`` (graph/trust/nodes.py, which reads the types of graph/trust/queries.py)
    and the trust's fields."""


@strawberry.type
class Mutation(AuthMutation, SchoolAdminMutation, NovationMutation, HandoverMutation):
    """The root mutation: sign-in and activation of trust admins, the trust's school admins (create,
    deactivate, Super-Users), novations in and out (LL 20, LL 7.1.16), and the termination handover
    (LL 5.1.3), in the order of the bases."""


audit_every_mutation(Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

"""The platform schema served at ``/platform/graphql`` (operators only; aggregates only)."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
from graph.platform.auth import AuthMutation
from graph.platform.documents import DocumentsMutation
from graph.platform.learning import LearningMutation
from graph.platform.licences.mutations import LicenceMutation
from graph.platform.novations.mutations import NovationMutation
from graph.platform.partners import PartnerMutation
from graph.platform.provisioning import ProvisioningMutation
from graph.platform.queries import Query
from graph.platform.schools import SuspensionMutation
from graph.platform.trusts import TrustMutation


@strawberry.type
class Mutation(
    LearningMutation,
    AuthMutation,
    TrustMutation,
    ProvisioningMutation,
    LicenceMutation,
    SuspensionMutation,
    NovationMutation,
    DocumentsMutation,
    PartnerMutation,
):
    """The root mutation: each domain contributes its fields from its own module, in the order of the bases."""


audit_every_mutation(Mutation)


def build_schema(settings: Settings) -> strawberry.Schema:
    return SchoolSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions(settings),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True),
    )

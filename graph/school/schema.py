"""The school schema served at ``/schools/{slug}/graphql``."""

from __future__ import annotations

import strawberry

from common.settings import Settings
from graph.audit import audit_every_mutation
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions
from graph.school.accounts.activation import ActivationMutation
from graph.school.accounts.auth import AuthMutation
from graph.school.accounts.mutations import AdminMutation
from graph.school.agreements.mutations import AgreementsMutation
from graph.school.agreements.queries import AgreementsQuery
from graph.school.audit.queries import AuditQuery
from graph.school.consent.mutations import ConsentMutation
from graph.school.consent.queries import ConsentQuery
from graph.school.learning.queries import LearningQuery
from graph.school.learning.schema import LearningMutation
from graph.school.partners.schema import PartnerMutation, PartnerQuery
from graph.school.people.queries import Query as PeopleQuery
from graph.school.people.types import ContactType, GroupType, PupilType, StaffType
from graph.school.privacy.mutations import PrivacyMutation
from graph.school.privacy.queries import PrivacyQuery
from graph.school.roster.mutations import RosterMutation
from graph.school.roster.queries import RosterQuery


@strawberry.type
class Query(
    PeopleQuery,
    AuditQuery,
    RosterQuery,
    LearningQuery,
    ConsentQuery,
    AgreementsQuery,
    PrivacyQuery,
    PartnerQuery,
):
    """The root query: each domain contributes its fields from its own module."""


@strawberry.type
class Mutation(
    AuthMutation,
    ActivationMutation,
    AdminMutation,
    RosterMutation,
    LearningMutation,
    ConsentMutation,
    AgreementsMutation,
    PrivacyMutation,
    PartnerMutation,
):
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

"""Provisioning a school on an accepted order (LL 4.1 - 4.3), and nominating its Super-Users."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from common.errors import DomainError
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, expect_school_id, operator_of, school_url
from graph.platform.refs import SchoolPhase
from graph.platform.school_admins import (
    SchoolAdminType,
    SetSuperUsersInput,
    SetSuperUsersPayload,
    set_super_users,
)
from graph.platform.types import PlatformSchool
from subscriptions import onboarding
from subscriptions.school_admins import SchoolAdminView


@strawberry.input
class SchoolAdminInput:
    forename: str
    surname: str
    email: str = strawberry.field(description="Work e-mail: Super-User notices go here.")
    username: str = "admin"


@strawberry.input
class ProvisionSchoolInput:
    slug: str = strawberry.field(description="Its unique address: /schools/{slug}/graphql (LL 4.1).")
    name: str
    phase: SchoolPhase
    urn: str | None = None
    trust_id: strawberry.ID | None = strawberry.field(
        default=None, description="Joins this trust from today."
    )
    order_reference: str
    payment_confirmed: bool = strawberry.field(
        description="LL 4.1: set up on the order with payment confirmed."
    )
    admin: SchoolAdminInput


@strawberry.type
class ProvisionSchoolPayload:
    school: PlatformSchool | None = None
    url: str | None = None
    admin: SchoolAdminType | None = None
    activation_code: str | None = strawberry.field(
        default=None,
        description="Shown once (LL 4.2): the school admin redeems it with activateAccount at the school's URL.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def provision_school(info: Info, input: ProvisionSchoolInput) -> ProvisionSchoolPayload:
    ctx: AdminContext = info.context

    def order(trust_id: uuid.UUID | None = None) -> onboarding.Order:
        return onboarding.Order(
            slug=input.slug,
            name=input.name,
            phase=input.phase.value,
            urn=input.urn,
            trust_id=trust_id,
            order_reference=input.order_reference,
            payment_confirmed=input.payment_confirmed,
            admin_forename=input.admin.forename,
            admin_surname=input.admin.surname,
            admin_email=input.admin.email,
            admin_username=input.admin.username,
        )

    def done(provisioned: onboarding.Provisioned) -> ProvisionSchoolPayload:
        school, admin = provisioned.school, provisioned.admin
        return ProvisionSchoolPayload(
            school=PlatformSchool.of(school),
            url=school_url(school.slug),
            admin=SchoolAdminType.of(SchoolAdminView(admin.account, admin.staff, True)),
            activation_code=admin.activation_code,
        )

    return await mutate(
        info,
        ProvisionSchoolPayload,
        lambda *trust_id: onboarding.provision_school(
            ctx.session,
            order(*trust_id),
            operator_id=operator_of(info).account_id,
            today=ctx.today,
            now=ctx.now,
        ),
        [] if input.trust_id is None else [("trustId", "Trust", input.trust_id)],
        done=done,
    )


async def set_school_super_users(info: Info, input: SetSuperUsersInput) -> SetSuperUsersPayload:
    try:
        school_id = expect_school_id(input.school_id)
    except DomainError as error:
        return SetSuperUsersPayload(errors=user_errors(error.problems))
    return await set_super_users(info, input, school_id, nominated_by_type="OPERATOR")


@strawberry.type
class ProvisioningMutation:
    provision_school: ProvisionSchoolPayload = guarded_mutation(
        OPERATOR,
        resolver=provision_school,
        description="LL 4.1-4.3: the tenant, its URL and its school admin (one-time activation code).",
    )
    set_super_users: SetSuperUsersPayload = guarded_mutation(
        OPERATOR,
        resolver=set_school_super_users,
        description="Up to three school admins hear of agreement changes.",
    )

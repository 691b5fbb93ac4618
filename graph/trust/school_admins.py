"""The trust's school admins: creating one at a school of the trust, deactivating one, and nominating a
school's Super-Users. A trust admin reaches only the trust's current schools (``school_of_trust``); what it
does to a school is recorded in that school's audit chain.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from common.errors import DomainError
from graph.core.arguments import decode_ids
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, trust_admin_of
from graph.platform.school_admins import (
    SchoolAdminType,
    SetSuperUsersInput,
    SetSuperUsersPayload,
    set_super_users,
)
from graph.trust.queries import school_of_trust
from models import School
from subscriptions import school_admins
from subscriptions.school_admins import SchoolAdminView


async def _active_school(info: Info, global_id: str) -> School:
    ctx: AdminContext = info.context
    school = await ctx.session.get(School, school_of_trust(info, global_id))
    assert school is not None
    if school.status != "ACTIVE":
        raise DomainError.one(
            "schoolId",
            "SCHOOL_NOT_ACTIVE",
            f"{school.name} is {school.status.lower()} ({school.status_reason}).",
        )
    return school


@strawberry.input
class CreateSchoolAdminInput:
    school_id: strawberry.ID
    forename: str
    surname: str
    email: str = strawberry.field(description="Work e-mail.")
    username: str
    super_user: bool = strawberry.field(
        default=False, description="Also nominate as a Super-User (max three)."
    )


@strawberry.type
class CreateSchoolAdminPayload:
    school_admin: SchoolAdminType | None = None
    activation_code: str | None = strawberry.field(
        default=None, description="Shown once: the admin redeems it with activateAccount at the school's URL."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def create_school_admin(info: Info, input: CreateSchoolAdminInput) -> CreateSchoolAdminPayload:
    ctx: AdminContext = info.context

    async def create() -> school_admins.NewSchoolAdmin:
        school = await _active_school(info, input.school_id)
        return await school_admins.create_school_admin(
            ctx.session,
            school.id,
            forename=input.forename,
            surname=input.surname,
            email=input.email,
            username=input.username,
            issuer_type="TRUST_ADMIN",
            issuer_id=trust_admin_of(info).account_id,
            super_user=input.super_user,
            now=ctx.now,
        )

    async def done(created: school_admins.NewSchoolAdmin) -> CreateSchoolAdminPayload:
        account = created.account
        nominated = account.id in await school_admins.super_user_ids(ctx.session, account.school_id)
        ctx.audit.for_school(
            account.school_id, "school_admin.created", target_type="Account", target_id=account.id
        )
        return CreateSchoolAdminPayload(
            school_admin=SchoolAdminType.of(SchoolAdminView(account, created.staff, nominated)),
            activation_code=created.activation_code,
        )

    return await mutate(info, CreateSchoolAdminPayload, create, done=done)


@strawberry.input
class DeactivateSchoolAdminInput:
    school_id: strawberry.ID
    account_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class SchoolAdminPayload:
    school_admin: SchoolAdminType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def deactivate_school_admin(info: Info, input: DeactivateSchoolAdminInput) -> SchoolAdminPayload:
    ctx: AdminContext = info.context

    async def deactivate() -> SchoolAdminView:
        # The school first: an id of a school outside the trust is the error, whatever the account id.
        school_id = school_of_trust(info, input.school_id)
        (account_id,) = decode_ids([("accountId", "Account", input.account_id)])
        await school_admins.deactivate_school_admin(
            ctx.session, school_id, account_id, reason=input.reason, now=ctx.now
        )
        views = await school_admins.school_admins(ctx.session, school_id)
        return next(v for v in views if v.account.id == account_id)

    def done(view: SchoolAdminView) -> SchoolAdminPayload:
        account = view.account
        ctx.audit.for_school(
            account.school_id, "school_admin.deactivated", target_type="Account", target_id=account.id
        )
        return SchoolAdminPayload(school_admin=SchoolAdminType.of(view))

    return await mutate(info, SchoolAdminPayload, deactivate, done=done)


async def set_school_super_users(info: Info, input: SetSuperUsersInput) -> SetSuperUsersPayload:
    try:
        school_id = school_of_trust(info, input.school_id)
    except DomainError as error:
        return SetSuperUsersPayload(errors=user_errors(error.problems))
    return await set_super_users(info, input, school_id, nominated_by_type="TRUST_ADMIN")


@strawberry.type
class SchoolAdminMutation:
    create_school_admin: CreateSchoolAdminPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=create_school_admin,
        description="A PENDING school admin at one of the trust's schools, with a one-time activation code.",
    )
    deactivate_school_admin: SchoolAdminPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=deactivate_school_admin,
        description="Disables it and ends its sessions at once.",
    )
    set_super_users: SetSuperUsersPayload = guarded_mutation(
        TRUST_ADMIN, resolver=set_school_super_users, description="Up to three school admins per school."
    )

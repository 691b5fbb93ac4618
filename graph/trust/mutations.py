"""The trust schema's mutations: sign-in and activation of trust admins, the trust's school admins
(create, deactivate, Super-Users), and novations in and out (LL 20, LL 7.1.16).

A trust admin reaches only the trust's current schools (``school_of_trust``); what it does to a school is
recorded in that school's audit chain.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from audit.platform import trust_admin_actor
from auth import admin_sessions, trust_admins
from auth.admin_sessions import AdminTokens
from auth.tokens import audience_for_trust
from auth.trust_admins import TRUST_ADMIN, TrustAdminPrincipal
from common.errors import DomainError
from graph.core.arguments import decode_ids
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation, public
from graph.platform.context import AdminContext
from graph.platform.novations.types import (
    CloseNovationInput,
    NovationPayload,
    NovationType,
    ProposeNovationInput,
    novation_done,
)
from graph.platform.school_admins import (
    SchoolAdminType,
    SetSuperUsersInput,
    SetSuperUsersPayload,
    set_super_users,
)
from graph.platform.sign_in import (
    AdminAuthPayload,
    ChangePasswordInput,
    LoginInput,
    LogoutPayload,
    RefreshTokenInput,
    audit_sign_in,
)
from graph.trust.queries import school_of_trust
from models import School
from models.licensing import Novation
from models.platform import TrustAdminAccount
from subscriptions import novation, school_admins, trusts
from subscriptions.school_admins import SchoolAdminView


def _admin(info: Info) -> TrustAdminPrincipal:
    principal = info.context.principal
    assert isinstance(principal, TrustAdminPrincipal)  # the TRUST_ADMIN policy admitted the caller
    return principal


def _party(info: Info) -> novation.Party:
    principal = _admin(info)
    return novation.Party("TRUST_ADMIN", principal.account_id, principal.trust_id)


# --- signing in ------------------------------------------------------------------------------------------


async def login(info: Info, input: LoginInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None
    outcome = await trust_admins.login(
        ctx.session,
        ctx.auth,
        trust_id=ctx.tenant.id,
        username=input.username,
        password=input.password,
        address=ctx.client_address,
        now=ctx.now,
    )
    audit_sign_in(info, "auth.login", outcome)
    return AdminAuthPayload.from_outcome(outcome)


async def refresh_token(info: Info, input: RefreshTokenInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None
    outcome = await admin_sessions.refresh(
        ctx.session,
        ctx.auth,
        refresh_token=input.refresh_token,
        audience=audience_for_trust(ctx.tenant.id),
        now=ctx.now,
    )
    audit_sign_in(info, "auth.refresh", outcome)
    return AdminAuthPayload.from_outcome(outcome)


@strawberry.input
class ActivateTrustAdminInput:
    code: str = strawberry.field(description="The one-time activation code the operator gave.")
    password: str


async def activate_trust_admin(info: Info, input: ActivateTrustAdminInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None
    trust_id = ctx.tenant.id

    def done(activated: tuple[TrustAdminAccount, AdminTokens]) -> AdminAuthPayload:
        account, tokens = activated
        ctx.audit.record(
            "auth.activated",
            target_type="TrustAdmin",
            target_id=account.id,
            actor=trust_admin_actor(account.id, account.username),
        )
        return AdminAuthPayload.of(tokens, [])

    return await mutate(
        info,
        AdminAuthPayload,
        lambda: trust_admins.activate(
            ctx.session,
            ctx.auth,
            trust_id=trust_id,
            code=input.code,
            password=input.password,
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=done,
        throttle_on="INVALID_ACTIVATION_CODE",
    )


async def logout(info: Info) -> LogoutPayload:
    ctx: AdminContext = info.context
    await admin_sessions.revoke(
        ctx.session, session_ids=[_admin(info).session_id], reason="LOGOUT", now=ctx.now
    )
    return LogoutPayload(ok=True)


async def change_password(info: Info, input: ChangePasswordInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        AdminAuthPayload,
        lambda: trust_admins.change_password(
            ctx.session,
            ctx.auth,
            _admin(info),
            current_password=input.current_password,
            new_password=input.new_password,
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=lambda tokens: AdminAuthPayload.of(tokens, []),
        throttle_on="INVALID_CREDENTIALS",
    )


# --- school admins ---------------------------------------------------------------------------------------


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
            issuer_id=_admin(info).account_id,
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


# --- novations -------------------------------------------------------------------------------------------


async def propose_novation(info: Info, input: ProposeNovationInput) -> NovationPayload:
    """LL 7.1.16: the outgoing trust tells the platform a school is leaving, for which trust, from when."""
    ctx: AdminContext = info.context

    async def propose() -> Novation:
        school_id = school_of_trust(info, input.school_id)
        to_trust = await trusts.resolve_trust(ctx.session, input.to_trust)
        if to_trust is None:
            raise DomainError.one("toTrust", "NOT_FOUND", f"No trust with slug {input.to_trust!r}.")
        return await novation.propose(
            ctx.session,
            school_id=school_id,
            to_trust_id=to_trust.id,
            effective_date=input.effective_date,
            reason=input.reason.value,
            note=input.note,
            by=_party(info),
            today=ctx.today,
            now=ctx.now,
        )

    return await mutate(info, NovationPayload, propose, done=novation_done(info, "novation.proposed"))


@strawberry.input
class AcceptNovationInput:
    novation_id: strawberry.ID
    accept_licence_terms: bool = strawberry.field(
        description="The successor accepts the licence terms (LL 20)."
    )
    terms_version: str = strawberry.field(description="The version accepted: currentTermsVersion.")


async def accept_novation(info: Info, input: AcceptNovationInput) -> NovationPayload:
    ctx: AdminContext = info.context

    def done(row: Novation) -> NovationPayload:
        ctx.audit.for_school(
            row.tenant_id,
            "novation.accepted",
            target_type="Novation",
            target_id=row.id,
            detail={"termsVersion": row.accepted_terms_version},
        )
        if row.status == "APPLIED":
            ctx.audit.for_school(row.tenant_id, "novation.applied", target_type="Novation", target_id=row.id)
        return NovationPayload(novation=NovationType.of(row))

    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: novation.accept(
            ctx.session,
            novation_id,
            by=_party(info),
            accept_terms=input.accept_licence_terms,
            terms_version=input.terms_version,
            today=ctx.today,
            now=ctx.now,
        ),
        [("novationId", "Novation", input.novation_id)],
        done=done,
    )


async def _close(info: Info, input: CloseNovationInput, *, reject: bool) -> NovationPayload:
    ctx: AdminContext = info.context
    close = novation.reject if reject else novation.withdraw
    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: close(
            ctx.session, novation_id, by=_party(info), reason=input.reason, now=ctx.now
        ),
        [("novationId", "Novation", input.novation_id)],
        done=novation_done(info, "novation.rejected" if reject else "novation.withdrawn"),
    )


async def reject_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    return await _close(info, input, reject=True)


async def withdraw_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    return await _close(info, input, reject=False)


@strawberry.type
class Mutation:
    login: AdminAuthPayload = public(
        "signing in is how a trust admin gets a session", resolver=login, mutation=True
    )
    refresh_token: AdminAuthPayload = public(
        "the refresh token itself is the credential", resolver=refresh_token, mutation=True
    )
    activate_trust_admin: AdminAuthPayload = public(
        "the one-time activation code from the operator is the credential",
        resolver=activate_trust_admin,
        mutation=True,
    )
    logout: LogoutPayload = guarded_mutation(TRUST_ADMIN, resolver=logout, password_change_exempt=True)
    change_password: AdminAuthPayload = guarded_mutation(
        TRUST_ADMIN, resolver=change_password, password_change_exempt=True
    )
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
    propose_novation: NovationPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=propose_novation,
        description="LL 7.1.16: one of this trust's schools leaves it, for which trust and from when.",
    )
    accept_novation: NovationPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=accept_novation,
        description="The successor accepts a school and the licence terms; applied at once if due today.",
    )
    reject_novation: NovationPayload = guarded_mutation(TRUST_ADMIN, resolver=reject_novation)
    withdraw_novation: NovationPayload = guarded_mutation(TRUST_ADMIN, resolver=withdraw_novation)

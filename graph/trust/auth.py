"""Trust admins signing in at their trust's URL: sign-in, refresh, activation of a new admin's account,
sign-out and a password change.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import admin_sessions, trust_admins
from auth.admin_sessions import AdminTokens
from auth.admin_tokens import audience_for_trust
from auth.trust_admins import TRUST_ADMIN
from graph.core.mutations import mutate
from graph.core.sign_in import LoginInput, LogoutPayload, RefreshTokenInput
from graph.permissions import guarded_mutation, public
from graph.platform.context import AdminContext, trust_admin_of
from graph.platform.sign_in import AdminAuthPayload, change_password_resolver, logout_resolver
from models.platform import TrustAdminAccount


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
    return AdminAuthPayload.from_outcome(outcome)


async def refresh_token(info: Info, input: RefreshTokenInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None
    outcome = await admin_sessions.refresh(
        ctx.session,
        ctx.auth,
        refresh_token=input.refresh_token or "",
        audience=audience_for_trust(ctx.tenant.id),
        now=ctx.now,
    )
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
        _, tokens = activated
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


logout = logout_resolver(trust_admin_of)
change_password = change_password_resolver(trust_admin_of, trust_admins.change_password)


@strawberry.type
class AuthMutation:
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

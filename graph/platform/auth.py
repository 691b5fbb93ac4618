"""Operators signing in to the platform schema: sign-in, refresh, sign-out and a password change."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import admin_sessions, operators
from auth.admin_tokens import PLATFORM_AUDIENCE
from auth.operators import OPERATOR
from graph.core.sign_in import LoginInput, LogoutPayload, RefreshTokenInput
from graph.permissions import guarded_mutation, public
from graph.platform.context import AdminContext, operator_of
from graph.platform.sign_in import AdminAuthPayload, change_password_resolver, logout_resolver


async def login(info: Info, input: LoginInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    outcome = await operators.login(
        ctx.session,
        ctx.auth,
        username=input.username,
        password=input.password,
        address=ctx.client_address,
        now=ctx.now,
    )
    return AdminAuthPayload.from_outcome(outcome)


async def refresh_token(info: Info, input: RefreshTokenInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    outcome = await admin_sessions.refresh(
        ctx.session,
        ctx.auth,
        refresh_token=input.refresh_token or "",
        audience=PLATFORM_AUDIENCE,
        now=ctx.now,
    )
    return AdminAuthPayload.from_outcome(outcome)


logout = logout_resolver(operator_of)
change_password = change_password_resolver(operator_of, operators.change_password)


@strawberry.type
class AuthMutation:
    login: AdminAuthPayload = public(
        "signing in is how an operator gets a session", resolver=login, mutation=True
    )
    refresh_token: AdminAuthPayload = public(
        "the refresh token itself is the credential", resolver=refresh_token, mutation=True
    )
    logout: LogoutPayload = guarded_mutation(OPERATOR, resolver=logout, password_change_exempt=True)
    change_password: AdminAuthPayload = guarded_mutation(
        OPERATOR, resolver=change_password, password_change_exempt=True
    )

"""Signing in to the trust and platform schemas: the payloads and inputs both use, and their sign-out and
password-change resolvers, made once for either kind of admin."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import strawberry
from strawberry.types import Info

from auth import admin_sessions
from auth.admin_sessions import AdminOutcome, AdminTokens
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.core.sign_in import ChangePasswordInput, LogoutPayload
from graph.platform.context import AdminContext


@strawberry.type
class AdminAuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_expires_at: datetime.datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, tokens: AdminTokens | None, errors: list[UserError]) -> AdminAuthPayload:
        if tokens is None:
            return cls(errors=errors)
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=tokens.access_token_expires_at,
            errors=errors,
        )

    @classmethod
    def from_outcome(cls, outcome: AdminOutcome) -> AdminAuthPayload:
        if outcome.problem is not None:
            return cls.of(None, user_errors([outcome.problem]))
        return cls.of(outcome.tokens, [])


class _SignedIn(Protocol):
    @property
    def session_id(self) -> Any: ...


def logout_resolver(principal_of: Callable[[Info], _SignedIn]) -> Callable[[Info], Awaitable[LogoutPayload]]:
    """``logout`` for the admins ``principal_of`` returns: their session ends at once."""

    async def logout(info: Info) -> LogoutPayload:
        ctx: AdminContext = info.context
        await admin_sessions.revoke(
            ctx.session, session_ids=[principal_of(info).session_id], reason="LOGOUT", now=ctx.now
        )
        return LogoutPayload(ok=True)

    return logout


def change_password_resolver(
    principal_of: Callable[[Info], Any], change: Callable[..., Awaitable[AdminTokens]]
) -> Callable[[Info, ChangePasswordInput], Awaitable[AdminAuthPayload]]:
    """``changePassword`` for the admins ``principal_of`` returns, through their service's ``change``
    (a wrong current password is throttled like a failed sign-in)."""

    async def change_password(info: Info, input: ChangePasswordInput) -> AdminAuthPayload:
        ctx: AdminContext = info.context
        return await mutate(
            info,
            AdminAuthPayload,
            lambda: change(
                ctx.session,
                ctx.auth,
                principal_of(info),
                current_password=input.current_password,
                new_password=input.new_password,
                address=ctx.client_address,
                now=ctx.now,
            ),
            done=lambda tokens: AdminAuthPayload.of(tokens, []),
            throttle_on="INVALID_CREDENTIALS",
        )

    return change_password

"""Signing in to the trust and platform schemas: the payloads, inputs and audit events both use."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import strawberry

from auth.admin_sessions import AdminOutcome, AdminTokens
from graph.core.errors import UserError, user_errors

if TYPE_CHECKING:
    pass


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


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str

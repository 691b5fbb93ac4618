"""Signing in to the trust and platform schemas: the payloads, inputs and audit events both use."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from audit.platform import PlatformTrail, operator_actor, trust_admin_actor
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


def audit_sign_in(info: Info, action: str, outcome: AdminOutcome) -> None:
    """LRS 5.11: sign-ins, refusals and lockouts of admin accounts are logged (the platform log)."""
    audit: PlatformTrail = info.context.audit
    account = outcome.account
    actor = None
    if account is not None and outcome.tokens is not None:
        is_trust = hasattr(account, "trust_id")
        actor = (trust_admin_actor if is_trust else operator_actor)(account.id, account.username)
    audit.record(
        action,
        "SUCCESS" if outcome.tokens is not None else "REJECTED",
        target_type=None if account is None else type(account).__name__,
        target_id=None if account is None else account.id,
        detail={"code": outcome.problem.code} if outcome.problem is not None else {},
        actor=actor,
    )
    if outcome.event is not None and account is not None:
        audit.record(
            f"auth.{outcome.event.lower()}", target_type=type(account).__name__, target_id=account.id
        )

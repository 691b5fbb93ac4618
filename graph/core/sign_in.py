"""The inputs and payloads of signing in and out that every schema shares (school, trust, platform)."""

from __future__ import annotations

import strawberry

from graph.core.errors import UserError


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str | None = strawberry.field(
        default=None,
        description="The refresh token; null at a school's endpoint takes it from the browser-session "
        "cookie (with the X-CSRF-Token header).",
    )


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError] = strawberry.field(default_factory=list)

"""Sign-in mutations of the school schema: login, refreshToken, logout, changePassword, parent registration."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from auth import parent_codes, policies
from auth import service as auth_service
from common.errors import DomainError, Problem
from graph.core.browser import BrowserSession, csrf_token
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.core.sign_in import ChangePasswordInput, LoginInput, LogoutPayload, RefreshTokenInput
from graph.permissions import guarded_mutation, public
from privacy import consent, consent_at_13


@strawberry.type
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_expires_at: datetime.datetime | None = None
    consent_required: bool | None = strawberry.field(
        default=None,
        description="Signed in, but the pupil must give their own consent (giveOwnConsent) before anything "
        "else works (LL 6.3.3): every other field answers FORBIDDEN with reason CONSENT_REQUIRED.",
    )
    csrf_token: str | None = strawberry.field(
        default=None,
        description="Browser sessions only (signed in with X-Session-Transport: cookie): the refresh token is "
        "in an HttpOnly cookie instead of refreshToken; send this in X-CSRF-Token to refresh with it.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    def delivered(self, browser: BrowserSession | None) -> AuthPayload:
        """The payload as this client receives it: in a browser session, the refresh token goes into the
        cookie (set by the edge) and the body carries its CSRF token instead."""
        if browser is None or not browser.cookie_mode or self.refresh_token is None:
            return self
        browser.issue = self.refresh_token
        self.csrf_token, self.refresh_token = csrf_token(self.refresh_token), None
        return self

    @classmethod
    def of(
        cls, tokens: auth_service.Tokens | None, errors: list[UserError], *, consent_required: bool = False
    ) -> AuthPayload:
        if tokens is None:
            return cls(errors=errors)
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=tokens.access_token_expires_at,
            consent_required=consent_required,
            errors=errors,
        )


@strawberry.input
class RegisterParentInput:
    code: str = strawberry.field(description="The parent access code the school issued.")
    username: str
    password: str
    forename: str
    surname: str
    email: str | None = None


@strawberry.input
class LinkChildInput:
    code: str


async def _outcome(info: Info, outcome: auth_service.AuthOutcome) -> AuthPayload:
    if outcome.problem is not None:
        return AuthPayload.of(None, user_errors([outcome.problem]))
    account = outcome.account
    required = account is not None and await consent_at_13.own_consent_required(info.context.session, account)
    return AuthPayload.of(outcome.tokens, [], consent_required=required).delivered(info.context.browser)


async def login(info: Info, input: LoginInput) -> AuthPayload:
    ctx = info.context
    outcome = await auth_service.login(
        ctx.session,
        ctx.auth,
        ctx.tenant,
        username=input.username,
        password=input.password,
        address=ctx.client_address,
        gate=consent.sign_in_problem,
        now=ctx.now,
    )
    return await _outcome(info, outcome)


async def refresh_token(info: Info, input: RefreshTokenInput) -> AuthPayload:
    ctx = info.context
    presented = input.refresh_token
    if presented is None:
        try:
            if ctx.browser is None:
                raise DomainError.one("refreshToken", "REQUIRED", "Send the refresh token.")
            presented = ctx.browser.refresh_from_cookie()
        except DomainError as refused:
            return AuthPayload.of(None, user_errors(refused.problems))
    outcome = await auth_service.refresh(
        ctx.session, ctx.auth, ctx.tenant, refresh_token=presented, now=ctx.now
    )
    return await _outcome(info, outcome)


async def logout(info: Info) -> LogoutPayload:
    ctx = info.context
    await auth_service.logout(ctx.session, ctx.principal, now=ctx.now)
    if ctx.browser is not None and ctx.browser.presented is not None:
        ctx.browser.clear = True
    return LogoutPayload(ok=True)


async def change_password(info: Info, input: ChangePasswordInput) -> AuthPayload:
    ctx = info.context
    # A wrong current password is a failed sign-in (LRS 5.11): otherwise a stolen access token would be an
    # unthrottled oracle for guessing the password itself.
    return await mutate(
        info,
        AuthPayload,
        lambda: auth_service.change_password(
            ctx.session,
            ctx.auth,
            ctx.principal,
            current_password=input.current_password,
            new_password=input.new_password,
            context_words=[ctx.tenant.name, ctx.tenant.slug],
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=lambda tokens: AuthPayload.of(tokens, []).delivered(ctx.browser),
        throttle_on="INVALID_CREDENTIALS",
    )


async def register_parent(info: Info, input: RegisterParentInput) -> AuthPayload:
    ctx = info.context
    registration = parent_codes.Registration(
        code=input.code,
        username=input.username,
        password=input.password,
        forename=input.forename,
        surname=input.surname,
        email=input.email,
    )
    return await mutate(
        info,
        AuthPayload,
        lambda: parent_codes.register_parent(
            ctx.session, ctx.auth, ctx.tenant, registration, address=ctx.client_address, now=ctx.now
        ),
        done=lambda tokens: AuthPayload.of(tokens, []).delivered(ctx.browser),
        throttle_on="INVALID_PARENT_CODE",
    )


@strawberry.type
class LinkChildPayload:
    linked: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


async def link_child(info: Info, input: LinkChildInput) -> LinkChildPayload:
    ctx = info.context
    return await mutate(
        info,
        lambda errors: LinkChildPayload(linked=False, errors=errors),
        lambda: parent_codes.link_child(ctx.session, ctx.principal, code=input.code, now=ctx.now),
        done=lambda result: LinkChildPayload(linked=bool(result)),
        throttle_on="INVALID_PARENT_CODE",
    )


@strawberry.type
class AuthMutation:
    login: AuthPayload = public(
        "signing in is how an anonymous caller gets an account", resolver=login, mutation=True
    )
    refresh_token: AuthPayload = public(
        "the refresh token itself is the credential", resolver=refresh_token, mutation=True
    )
    register_parent: AuthPayload = public(
        "the single-use parent code from the school is the credential (LL 6.3.4)",
        resolver=register_parent,
        mutation=True,
    )
    logout: LogoutPayload = guarded_mutation(policies.SIGNED_IN, resolver=logout, password_change_exempt=True)
    change_password: AuthPayload = guarded_mutation(
        policies.SIGNED_IN, resolver=change_password, password_change_exempt=True
    )
    link_child: LinkChildPayload = guarded_mutation(
        policies.PARENT, resolver=link_child, description="A parent adds another child with a new code."
    )


__all__ = ["AuthMutation", "Problem"]

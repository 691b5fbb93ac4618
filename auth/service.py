"""Signing in and out: login with throttling and lockout, refresh-token rotation, logout, password changes.

Contracts shared by every operation here:

* They run inside the request's transaction, bound to the school; they ``flush()`` and never commit.
* A refused sign-in is an *outcome*, not an exception: the failure counters it bumps must be committed,
  so these functions return an :class:`AuthOutcome` with the problem instead of raising.
* Error messages never reveal whether a username exists, except that an account is locked (the user
  must be told why they cannot sign in, LRS 5.11).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.credentials import INVALID_CREDENTIALS, check_password
from auth.opaque_tokens import hash_token
from auth.passwords import check_password_policy
from auth.principal import Principal
from auth.runtime import AuthRuntime
from auth.sessions import Tokens, issue_tokens, revoke_sessions, start_session
from auth.throttling import (
    address_blocked,
    clear_sign_in_failures,
    record_address_failure,
    school_realm,
    throttled_problem,
)
from common.errors import DomainError, Problem
from common.events import Actor, emit
from models import Account, AuthSession, RefreshToken
from tenants.context import Tenant
from tenants.scoping import in_school, scoped, scoped_update

# The runtime, sessions and throttling have modules of their own; callers have long imported them from here.
__all__ = [
    "INVALID_CREDENTIALS",
    "INVALID_REFRESH",
    "AccessGate",
    "AuthOutcome",
    "AuthRuntime",
    "Tokens",
    "address_blocked",
    "change_password",
    "emit_sign_in",
    "login",
    "logout",
    "password_problems",
    "record_address_failure",
    "refresh",
    "reset_password",
    "revoke_sessions",
    "set_account_status",
    "start_session",
    "temporary_password",
    "throttled_problem",
]


@dataclass(frozen=True)
class AuthOutcome:
    """What a sign-in or refresh came to; ``account`` is who it concerned, when known (for the audit)."""

    tokens: Tokens | None = None
    problem: Problem | None = None
    account: Account | None = None
    event: str | None = None
    """A noteworthy security event besides the outcome: LOCKED_OUT, REFRESH_TOKEN_REUSED."""


AccessGate = Callable[[AsyncSession, Account, datetime], Awaitable[Problem | None]]
"""Why an account's person may not have access at ``now`` (a problem), or None. The rule is the privacy
layer's (``privacy.consent.sign_in_problem``: a pupil under 13 needs a parent's consent); auth sits below
privacy (ADR 0001), so whoever calls :func:`login` or ``auth.accounts.create_account`` hands it down, and
must: it has no default, so no route forgets it."""

INVALID_REFRESH = Problem(
    "refreshToken",
    "INVALID_REFRESH_TOKEN",
    "The refresh token is unknown, used, expired or revoked: sign in again.",
)


def _refused(problem: Problem, account: Account | None = None, *, event: str | None = None) -> AuthOutcome:
    return AuthOutcome(problem=problem, account=account, event=event)


def password_problems(
    auth: AuthRuntime, password: str, *, field: str, context_words: list[str]
) -> list[Problem]:
    """The password rules (NIST SP 800-63B) as problems on ``field``; empty when the password is fine."""
    return [
        Problem(field, p.code, f"The password {p.message}.")
        for p in check_password_policy(
            password, context_words=context_words, min_length=auth.settings.password_min_length
        )
    ]


async def login(
    session: AsyncSession,
    auth: AuthRuntime,
    tenant: Tenant,
    *,
    username: str,
    password: str,
    address: str,
    gate: AccessGate,
    now: datetime,
) -> AuthOutcome:
    """Sign in with username and password (LRS 5.11: throttled per address, locked per account).

    With the right password, ``gate`` may still refuse the person (its problem is the outcome); it is asked
    only then, so it tells nothing to someone without the password. The attempt is recorded
    (``auth.login``), and so is a lockout it causes (``auth.locked_out``)."""
    outcome = await _login(
        session, auth, tenant, username=username, password=password, address=address, gate=gate, now=now
    )
    await _emit_outcome(session, "auth.login", outcome)
    return outcome


async def _login(
    session: AsyncSession,
    auth: AuthRuntime,
    tenant: Tenant,
    *,
    username: str,
    password: str,
    address: str,
    gate: AccessGate,
    now: datetime,
) -> AuthOutcome:
    account = (
        await session.execute(
            scoped(Account, tenant.id)
            .where(func.lower(Account.username) == username.strip().lower())
            .with_for_update()
        )
    ).scalar_one_or_none()
    checked = await check_password(
        session,
        auth,
        account,
        password,
        realm=school_realm(tenant.id),
        username=username,
        address=address,
        now=now,
        unlock_remedy=", or until a school admin resets its password",
        not_active_remedy="ask the school to enable it",
    )
    if checked.problem is not None or account is None:
        concerned = account if checked.about_account else None
        return _refused(checked.problem or INVALID_CREDENTIALS, concerned, event=checked.event)
    if (refused := await gate(session, account, now)) is not None:
        return _refused(refused, account)
    tokens = await start_session(session, auth, account, now=now, address=address)
    return AuthOutcome(tokens=tokens, account=account)


async def _emit_outcome(session: AsyncSession, action: str, outcome: AuthOutcome) -> None:
    account = outcome.account
    await emit_sign_in(
        session,
        action,
        signed_in=outcome.tokens is not None,
        problem=outcome.problem,
        event=outcome.event,
        target=None if account is None else ("Account", account.id),
        actor=None if account is None else Actor("ACCOUNT", account.id, account.username, account.role),
    )


async def emit_sign_in(
    session: AsyncSession,
    action: str,
    *,
    signed_in: bool,
    problem: Problem | None,
    event: str | None,
    target: tuple[str, uuid.UUID] | None,
    actor: Actor | None,
) -> None:
    """Record a sign-in or refresh attempt (LRS 5.11: failures and lockouts are logged): SUCCESS as
    ``actor``, the account it signed in; REJECTED as the (anonymous) caller, with the problem's code.
    ``target`` is the account tried, when known (type, id); ``event`` a security event besides the
    outcome (``LOCKED_OUT``, ``REFRESH_TOKEN_REUSED``), recorded as ``auth.<event>`` about it."""
    target_type, target_id = target if target is not None else (None, None)
    await emit(
        session,
        action,
        "SUCCESS" if signed_in else "REJECTED",
        target_type=target_type,
        target_id=target_id,
        detail={"code": problem.code} if problem is not None else {},
        actor=actor if signed_in else None,
    )
    if event is not None and target is not None:
        await emit(session, f"auth.{event.lower()}", "SUCCESS", target_type=target_type, target_id=target_id)


async def refresh(
    session: AsyncSession, auth: AuthRuntime, tenant: Tenant, *, refresh_token: str, now: datetime
) -> AuthOutcome:
    """Rotate a refresh token. A used token presented again revokes its whole session (token family).

    The attempt is recorded (``auth.refresh``), and so is a reuse (``auth.refresh_token_reused``)."""
    outcome = await _refresh(session, auth, tenant, refresh_token=refresh_token, now=now)
    await _emit_outcome(session, "auth.refresh", outcome)
    return outcome


async def _refresh(
    session: AsyncSession, auth: AuthRuntime, tenant: Tenant, *, refresh_token: str, now: datetime
) -> AuthOutcome:
    row = (
        await session.execute(
            select(RefreshToken, AuthSession, Account)
            .join(
                AuthSession, (AuthSession.id == RefreshToken.session_id) & in_school(AuthSession, tenant.id)
            )
            .join(Account, (Account.id == AuthSession.account_id) & in_school(Account, tenant.id))
            .where(in_school(RefreshToken, tenant.id), RefreshToken.token_hash == hash_token(refresh_token))
            .with_for_update(of=RefreshToken)
        )
    ).one_or_none()
    if row is None:
        return _refused(INVALID_REFRESH)
    token, auth_session, account = row
    if token.used_at is not None:
        await revoke_sessions(
            session, tenant.id, session_ids=[auth_session.id], reason="REFRESH_REUSE", now=now
        )
        return _refused(INVALID_REFRESH, account, event="REFRESH_TOKEN_REUSED")
    if (
        token.expires_at <= now
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
        or account.status != "ACTIVE"
    ):
        return _refused(INVALID_REFRESH, account)
    token.used_at = now
    return AuthOutcome(
        tokens=await issue_tokens(session, auth, account, auth_session, now=now), account=account
    )


async def logout(session: AsyncSession, principal: Principal, *, now: datetime) -> None:
    """End this session server-side (LRS 5.7): its access and refresh tokens stop working at once."""
    await revoke_sessions(
        session, principal.school_id, session_ids=[principal.session_id], reason="LOGOUT", now=now
    )


async def _account(session: AsyncSession, school_id: uuid.UUID, account_id: uuid.UUID) -> Account:
    account = (
        await session.execute(scoped(Account, school_id).where(Account.id == account_id).with_for_update())
    ).scalar_one_or_none()
    if account is None:
        raise DomainError.one("accountId", "NOT_FOUND", "No such account at this school.")
    return account


async def change_password(
    session: AsyncSession,
    auth: AuthRuntime,
    principal: Principal,
    *,
    current_password: str,
    new_password: str,
    context_words: list[str],
    address: str,
    now: datetime,
) -> Tokens:
    """Change one's own password (LL 8.3, LRS 5.3): every session ends, and a new one starts for the caller."""
    account = await _account(session, principal.school_id, principal.account_id)
    if not await auth.verify(account.password_hash, current_password):
        raise DomainError.one(
            "currentPassword", "INVALID_CREDENTIALS", "The current password is not correct."
        )
    problems = password_problems(
        auth, new_password, field="newPassword", context_words=[account.username, *context_words]
    )
    if new_password == current_password:
        problems.append(
            Problem("newPassword", "SAME_PASSWORD", "The new password must differ from the current one.")
        )
    if problems:
        raise DomainError(problems)
    await _set_password(session, auth, account, new_password, now=now, must_change=False)
    return await start_session(session, auth, account, now=now, address=address)


def temporary_password() -> str:
    """A one-time password for a new or reset account: 20 characters, about 100 bits, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


async def reset_password(
    session: AsyncSession, auth: AuthRuntime, school_id: uuid.UUID, account_id: uuid.UUID, *, now: datetime
) -> str:
    """An admin's reset (LL 7.1.6, LL 8.2): a temporary password shown once, to be changed at next sign-in.

    Ends every session of the account and lifts a lockout.
    """
    account = await _account(session, school_id, account_id)
    password = temporary_password()
    await _set_password(session, auth, account, password, now=now, must_change=True)
    await emit(session, "auth.password_reset", target_type="Account", target_id=account_id)
    return password


async def _set_password(
    session: AsyncSession,
    auth: AuthRuntime,
    account: Account,
    password: str,
    *,
    now: datetime,
    must_change: bool,
) -> None:
    account.password_hash = await auth.hash(password)
    account.password_changed_at = now
    account.must_change_password = must_change
    account.failed_logins = 0
    account.locked_until = None
    await clear_sign_in_failures(session, school_realm(account.school_id), account.username)
    await session.flush()
    await revoke_sessions(
        session, account.school_id, account_ids=[account.id], reason="PASSWORD_CHANGED", now=now
    )


async def set_account_status(
    session: AsyncSession,
    school_id: uuid.UUID,
    account_ids: list[uuid.UUID],
    *,
    status: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Enable or disable accounts; disabling ends their sessions at once (LL 8.2, LL 11.1)."""
    await session.execute(
        scoped_update(Account, school_id)
        .where(Account.id.in_(account_ids))  # type: ignore[attr-defined]
        .values(status=status, status_reason=reason)
    )
    if status != "ACTIVE":
        await revoke_sessions(session, school_id, account_ids=account_ids, reason="ACCOUNT_DISABLED", now=now)

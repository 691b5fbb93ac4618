"""Sign-in, sessions and refresh tokens of accounts that belong to no school: operators and trust admins.

The same rules as a school's sign-in (auth/service.py), on their own tables: throttling per client
address (the shared ``address_throttles``, LRS 5.11), a lockout per account, server-side sessions with an
absolute and an idle timeout, single-use refresh tokens stored as SHA-256 whose reuse revokes the session,
and access tokens for exactly one audience (``platform`` or ``trust:<id>``, auth/tokens.py), so none of
them is accepted at a school's URL and no school token is accepted here.

Like every service: runs in the caller's transaction, flushes, never commits. A refused sign-in is an
outcome, not an exception, so that its failure counters are committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.admin_tokens import PLATFORM_AUDIENCE, audience_for_trust, issue_admin_token
from auth.credentials import check_password
from auth.opaque_tokens import hash_token, new_refresh_token
from auth.service import (
    INVALID_CREDENTIALS,
    INVALID_REFRESH,
    AuthRuntime,
    emit_sign_in,
    password_problems,
)
from auth.throttling import clear_sign_in_failures
from common.errors import DomainError, Problem
from common.events import operator_actor, trust_admin_actor
from models.platform import AdminRefreshToken, AdminSession, OperatorAccount, TrustAdminAccount

AdminAccount = OperatorAccount | TrustAdminAccount


@dataclass(frozen=True)
class AdminTokens:
    access_token: str
    refresh_token: str
    access_token_expires_at: datetime
    account_id: uuid.UUID


@dataclass(frozen=True)
class AdminOutcome:
    """What a sign-in or refresh came to; ``account`` is who it concerned, when known (for the audit)."""

    tokens: AdminTokens | None = None
    problem: Problem | None = None
    account: AdminAccount | None = None
    event: str | None = None


def _role(account: AdminAccount) -> str:
    return "OPERATOR" if isinstance(account, OperatorAccount) else "TRUST_ADMIN"


async def start_session(
    session: AsyncSession,
    auth: AuthRuntime,
    account: AdminAccount,
    *,
    audience: str,
    now: datetime,
    address: str | None,
) -> AdminTokens:
    settings = auth.settings
    holder = (
        {"operator_id": account.id}
        if isinstance(account, OperatorAccount)
        else {"trust_admin_id": account.id}
    )
    row = AdminSession(
        audience=audience,
        created_at=now,
        expires_at=now + settings.session_absolute_timeout,
        client_address=address,
        **holder,
    )
    session.add(row)
    await session.flush()
    return await _issue(session, auth, account, row, now=now)


async def _issue(
    session: AsyncSession, auth: AuthRuntime, account: AdminAccount, row: AdminSession, *, now: datetime
) -> AdminTokens:
    settings = auth.settings
    refresh, digest = new_refresh_token()
    session.add(
        AdminRefreshToken(
            session_id=row.id,
            token_hash=digest,
            created_at=now,
            expires_at=min(now + settings.session_idle_timeout, row.expires_at),
        )
    )
    await session.flush()
    expires = min(now + settings.access_token_ttl, row.expires_at)
    access = issue_admin_token(
        auth.keys,
        subject=account.id,
        audience=row.audience,
        session_id=row.id,
        roles=[_role(account)],
        ttl=expires - now,
        now=now,
    )
    return AdminTokens(access, refresh, expires, account.id)


async def sign_in(
    session: AsyncSession,
    auth: AuthRuntime,
    account: AdminAccount | None,
    *,
    username: str,
    password: str,
    audience: str,
    address: str,
    now: datetime,
) -> AdminOutcome:
    """Check ``password`` for ``account`` (found by the caller as ``username``, locked FOR UPDATE, or None
    if unknown).

    The attempt is recorded (``auth.login``), and so is a lockout it causes (``auth.locked_out``)."""
    outcome = await _sign_in(
        session,
        auth,
        account,
        username=username,
        password=password,
        audience=audience,
        address=address,
        now=now,
    )
    await _emit_outcome(session, "auth.login", outcome)
    return outcome


async def _sign_in(
    session: AsyncSession,
    auth: AuthRuntime,
    account: AdminAccount | None,
    *,
    username: str,
    password: str,
    audience: str,
    address: str,
    now: datetime,
) -> AdminOutcome:
    checked = await check_password(
        session,
        auth,
        account,
        password,
        realm=audience,
        username=username,
        address=address,
        now=now,
        unlock_remedy="",
        not_active_remedy="ask the platform operator",
    )
    if checked.problem is not None or account is None:
        concerned = account if checked.about_account else None
        problem = checked.problem or INVALID_CREDENTIALS
        return AdminOutcome(problem=problem, account=concerned, event=checked.event)
    tokens = await start_session(session, auth, account, audience=audience, now=now, address=address)
    return AdminOutcome(tokens=tokens, account=account)


async def refresh(
    session: AsyncSession, auth: AuthRuntime, *, refresh_token: str, audience: str, now: datetime
) -> AdminOutcome:
    """Rotate a refresh token of a session for ``audience``; a used token again revokes the session.

    The attempt is recorded (``auth.refresh``), and so is a reuse (``auth.refresh_token_reused``)."""
    outcome = await _refresh(session, auth, refresh_token=refresh_token, audience=audience, now=now)
    await _emit_outcome(session, "auth.refresh", outcome)
    return outcome


async def _refresh(
    session: AsyncSession, auth: AuthRuntime, *, refresh_token: str, audience: str, now: datetime
) -> AdminOutcome:
    row = (
        await session.execute(
            select(AdminRefreshToken, AdminSession)
            .join(AdminSession, AdminSession.id == AdminRefreshToken.session_id)
            .where(
                AdminRefreshToken.token_hash == hash_token(refresh_token),
                AdminSession.audience == audience,
            )
            .with_for_update(of=AdminRefreshToken)
        )
    ).one_or_none()
    if row is None:
        return AdminOutcome(problem=INVALID_REFRESH)
    token, admin_session = row
    account = await _holder(session, admin_session)
    if token.used_at is not None:
        await revoke(session, session_ids=[admin_session.id], reason="REFRESH_REUSE", now=now)
        return AdminOutcome(problem=INVALID_REFRESH, account=account, event="REFRESH_TOKEN_REUSED")
    if (
        token.expires_at <= now
        or admin_session.revoked_at is not None
        or admin_session.expires_at <= now
        or account is None
        or account.status != "ACTIVE"
    ):
        return AdminOutcome(problem=INVALID_REFRESH, account=account)
    token.used_at = now
    return AdminOutcome(tokens=await _issue(session, auth, account, admin_session, now=now), account=account)


async def _emit_outcome(session: AsyncSession, action: str, outcome: AdminOutcome) -> None:
    account = outcome.account
    named = operator_actor if isinstance(account, OperatorAccount) else trust_admin_actor
    await emit_sign_in(
        session,
        action,
        signed_in=outcome.tokens is not None,
        problem=outcome.problem,
        event=outcome.event,
        target=None if account is None else (type(account).__name__, account.id),
        actor=None if account is None else named(account.id, account.username),
    )


async def _holder(session: AsyncSession, row: AdminSession) -> AdminAccount | None:
    if row.operator_id is not None:
        return await session.get(OperatorAccount, row.operator_id)
    if row.trust_admin_id is not None:
        return await session.get(TrustAdminAccount, row.trust_admin_id)
    return None


async def live_session(
    session: AsyncSession, *, session_id: uuid.UUID, subject: uuid.UUID, audience: str, now: datetime
) -> AdminSession | None:
    """The session a verified token names, if it is still live and belongs to ``subject`` at ``audience``."""
    row = await session.get(AdminSession, session_id)
    if (
        row is None
        or row.audience != audience
        or row.revoked_at is not None
        or row.expires_at <= now
        or subject not in (row.operator_id, row.trust_admin_id)
    ):
        return None
    return row


async def revoke(
    session: AsyncSession,
    *,
    reason: str,
    now: datetime,
    session_ids: list[uuid.UUID] | None = None,
    operator_id: uuid.UUID | None = None,
    trust_admin_id: uuid.UUID | None = None,
) -> int:
    """Revoke admin sessions by id or by holder (logout, disabling, password change). Returns a count."""
    stmt = update(AdminSession).where(AdminSession.revoked_at.is_(None))  # type: ignore[union-attr]
    if session_ids is not None:
        stmt = stmt.where(AdminSession.id.in_(session_ids))  # type: ignore[attr-defined]
    if operator_id is not None:
        stmt = stmt.where(AdminSession.operator_id == operator_id)
    if trust_admin_id is not None:
        stmt = stmt.where(AdminSession.trust_admin_id == trust_admin_id)
    if session_ids is None and operator_id is None and trust_admin_id is None:
        raise ValueError("revoke needs sessions or a holder")
    result = await session.execute(stmt.values(revoked_at=now, revoked_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def set_password(
    session: AsyncSession,
    auth: AuthRuntime,
    account: AdminAccount,
    password: str,
    *,
    context_words: list[str],
    field: str,
    now: datetime,
) -> None:
    """Set a new password after checking the rules (NIST SP 800-63B); ends every session of the account."""
    problems = password_problems(
        auth, password, field=field, context_words=[account.username, *context_words]
    )
    if problems:
        raise DomainError(problems)
    account.password_hash = await auth.hash(password)
    account.password_changed_at = now
    account.must_change_password = False
    account.failed_logins = 0
    account.locked_until = None
    realm = (
        PLATFORM_AUDIENCE if isinstance(account, OperatorAccount) else audience_for_trust(account.trust_id)
    )
    await clear_sign_in_failures(session, realm, account.username)
    await session.flush()
    holder = (
        {"operator_id": account.id}
        if isinstance(account, OperatorAccount)
        else {"trust_admin_id": account.id}
    )
    await revoke(session, reason="PASSWORD_CHANGED", now=now, **holder)


async def change_own_password(
    session: AsyncSession,
    auth: AuthRuntime,
    account: AdminAccount | None,
    *,
    current_password: str,
    new_password: str,
    audience: str,
    address: str,
    now: datetime,
) -> AdminTokens:
    """Change one's own password (LL 8.3): every session ends and a new one starts for the caller."""
    if account is None or not await auth.verify(account.password_hash, current_password):
        raise DomainError.one(
            "currentPassword", "INVALID_CREDENTIALS", "The current password is not correct."
        )
    if new_password == current_password:
        raise DomainError.one(
            "newPassword", "SAME_PASSWORD", "The new password must differ from the current one."
        )
    await set_password(
        session,
        auth,
        account,
        new_password,
        context_words=[account.display_name],
        field="newPassword",
        now=now,
    )
    return await start_session(session, auth, account, audience=audience, now=now, address=address)

"""Sessions and their tokens: opening a session, issuing its token pairs, revoking sessions.

A session lasts at most ``session_absolute_timeout``; each refresh token at most ``session_idle_timeout``
and each access token ``access_token_ttl``, neither past the session's end. Revoking a session ends its
tokens at once: the access token's ``sid`` is checked against the session on every request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth.access_tokens import issue_access_token
from auth.opaque_tokens import new_refresh_token
from auth.runtime import AuthRuntime
from models import Account, AuthSession, RefreshToken
from tenants.scoping import scoped_update


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    access_token_expires_at: datetime
    account_id: uuid.UUID


async def start_session(
    session: AsyncSession, auth: AuthRuntime, account: Account, *, now: datetime, address: str | None
) -> Tokens:
    """Open a session for ``account`` and return its first token pair."""
    settings = auth.settings
    auth_session = AuthSession(
        school_id=account.school_id,
        account_id=account.id,
        expires_at=now + settings.session_absolute_timeout,
        client_address=address,
        created_at=now,
    )
    session.add(auth_session)
    await session.flush()
    return await issue_tokens(session, auth, account, auth_session, now=now)


async def issue_tokens(
    session: AsyncSession, auth: AuthRuntime, account: Account, auth_session: AuthSession, *, now: datetime
) -> Tokens:
    """A new token pair of ``auth_session``: a refresh token (stored as its digest) and an access token,
    neither outliving the session."""
    settings = auth.settings
    refresh, digest = new_refresh_token()
    session.add(
        RefreshToken(
            school_id=account.school_id,
            session_id=auth_session.id,
            token_hash=digest,
            created_at=now,
            expires_at=min(now + settings.session_idle_timeout, auth_session.expires_at),
        )
    )
    await session.flush()
    access_expires = min(now + settings.access_token_ttl, auth_session.expires_at)
    access = issue_access_token(
        auth.keys,
        account_id=account.id,
        school_id=account.school_id,
        session_id=auth_session.id,
        roles=[account.role],
        ttl=access_expires - now,
        now=now,
    )
    return Tokens(access, refresh, access_expires, account.id)


async def revoke_sessions(
    session: AsyncSession,
    school_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    session_ids: list[uuid.UUID] | None = None,
    account_ids: list[uuid.UUID] | None = None,
) -> int:
    """Revoke sessions by id or by account (logout, password change, disabling, leavers). Returns a count."""
    stmt = scoped_update(AuthSession, school_id).where(AuthSession.revoked_at.is_(None))  # type: ignore[union-attr]
    if session_ids is not None:
        stmt = stmt.where(AuthSession.id.in_(session_ids))  # type: ignore[attr-defined]
    if account_ids is not None:
        stmt = stmt.where(AuthSession.account_id.in_(account_ids))  # type: ignore[attr-defined]
    result = await session.execute(stmt.values(revoked_at=now, revoked_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]

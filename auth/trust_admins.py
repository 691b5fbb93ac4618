"""Trust admins: accounts of a trust (not of any school), their activation, sign-in, principal and policy.

A trust admin is created PENDING by an operator with a one-time activation code (shown once; only its
SHA-256 is stored) and sets a password when activating at the trust's URL. Tokens are for
``trust:<trust_id>`` only, so a trust admin's token is refused at another trust, at every school and at
the platform.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import admin_sessions
from auth.admin_sessions import AdminOutcome, AdminTokens
from auth.admin_tokens import AdminClaims, audience_for_trust
from auth.opaque_tokens import hash_token
from auth.operators import OperatorPrincipal
from auth.parent_codes import ALPHABET, normalise_code, username_problem
from auth.policies import Policy
from auth.service import AuthRuntime
from common.errors import DomainError, Problem, Problems
from common.events import emit, trust_admin_actor
from common.identifiers import IdentifierError, validate_email
from models.platform import TrustAdminAccount

ACTIVATION_TTL = timedelta(days=14)
INVALID_ACTIVATION = Problem(
    "code", "INVALID_ACTIVATION_CODE", "This activation code is not valid: unknown, used or expired."
)


@dataclass(frozen=True)
class TrustAdminPrincipal:
    """A signed-in admin of the trust whose URL this is."""

    account_id: uuid.UUID
    username: str
    trust_id: uuid.UUID
    session_id: uuid.UUID
    must_change_password: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return ("TRUST_ADMIN",)


TRUST_ADMIN = Policy(
    "trust_admin",
    "admins of this trust (its current schools only; no pupil's personal data)",
    lambda p, _: isinstance(p, TrustAdminPrincipal),
)


def new_activation_code() -> str:
    """16 characters of Crockford base32 (80 bits) in groups of four: guessing is hopeless, typing easy."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


async def load_principal(
    session: AsyncSession, claims: AdminClaims, *, trust_id: uuid.UUID, now: datetime
) -> TrustAdminPrincipal | None:
    live = await admin_sessions.live_session(
        session,
        session_id=claims.session_id,
        subject=claims.subject,
        audience=audience_for_trust(trust_id),
        now=now,
    )
    if live is None or live.trust_admin_id is None:
        return None
    account = await session.get(TrustAdminAccount, live.trust_admin_id)
    if account is None or account.status != "ACTIVE" or account.trust_id != trust_id:
        return None
    return TrustAdminPrincipal(account.id, account.username, trust_id, live.id, account.must_change_password)


async def by_username(
    session: AsyncSession, trust_id: uuid.UUID, username: str, *, lock: bool = False
) -> TrustAdminAccount | None:
    stmt = select(TrustAdminAccount).where(
        TrustAdminAccount.trust_id == trust_id,
        func.lower(TrustAdminAccount.username) == username.strip().lower(),
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_trust_admin(
    session: AsyncSession,
    *,
    trust_id: uuid.UUID,
    username: str,
    display_name: str,
    email: str,
    created_by: uuid.UUID | None,
    now: datetime,
) -> tuple[TrustAdminAccount, str]:
    """A PENDING trust admin and its one-time activation code (returned once, never stored)."""
    problems = Problems()
    username = username.strip()
    if (p := username_problem(username)) is not None:
        problems.add(p.field, p.code, p.message)
    elif await by_username(session, trust_id, username) is not None:
        problems.add("username", "USERNAME_TAKEN", "This trust has an admin with this username already.")
    try:
        email = validate_email(email)
    except IdentifierError as error:
        problems.add("email", error.code, error.message)
    if not display_name.strip():
        problems.add("displayName", "REQUIRED", "Give the admin's name.")
    problems.raise_if_any()
    code = new_activation_code()
    account = TrustAdminAccount(
        trust_id=trust_id,
        username=username,
        display_name=display_name.strip(),
        email=email,
        status="PENDING",
        activation_hash=hash_token(code),
        activation_expires_at=now + ACTIVATION_TTL,
        created_by=created_by,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    return account, code


async def activate(
    session: AsyncSession,
    auth: AuthRuntime,
    *,
    trust_id: uuid.UUID,
    code: str,
    password: str,
    address: str,
    now: datetime,
) -> tuple[TrustAdminAccount, AdminTokens]:
    """Redeem an activation code at the trust's URL: set the password, activate, sign in."""
    account = (
        await session.execute(
            select(TrustAdminAccount)
            .where(
                TrustAdminAccount.trust_id == trust_id,
                TrustAdminAccount.activation_hash == hash_token(normalise_code(code)),
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if (
        account is None
        or account.status != "PENDING"
        or account.activation_expires_at is None
        or account.activation_expires_at <= now
    ):
        # The caller counts this against the address (outside the rolled-back savepoint).
        raise DomainError([INVALID_ACTIVATION])
    await admin_sessions.set_password(
        session, auth, account, password, context_words=[account.display_name], field="password", now=now
    )
    account.status = "ACTIVE"
    account.activation_hash = None
    account.activation_expires_at = None
    await session.flush()
    tokens = await admin_sessions.start_session(
        session, auth, account, audience=audience_for_trust(trust_id), now=now, address=address
    )
    actor = trust_admin_actor(account.id, account.username)  # the caller was anonymous until now
    await emit(session, "auth.activated", target_type="TrustAdmin", target_id=account.id, actor=actor)
    return account, tokens


async def login(
    session: AsyncSession,
    auth: AuthRuntime,
    *,
    trust_id: uuid.UUID,
    username: str,
    password: str,
    address: str,
    now: datetime,
) -> AdminOutcome:
    account = await by_username(session, trust_id, username, lock=True)
    return await admin_sessions.sign_in(
        session,
        auth,
        account,
        username=username,
        password=password,
        audience=audience_for_trust(trust_id),
        address=address,
        now=now,
    )


async def set_status(
    session: AsyncSession, account_id: uuid.UUID, *, status: str, reason: str | None, now: datetime
) -> TrustAdminAccount:
    """Enable or disable a trust admin (operators only); disabling ends their sessions at once."""
    account = await session.get(TrustAdminAccount, account_id, with_for_update=True)
    if account is None:
        raise DomainError.one("accountId", "NOT_FOUND", "No such trust admin.")
    if status not in ("ACTIVE", "DISABLED"):
        raise DomainError.one("status", "INVALID_STATUS", "The status must be ACTIVE or DISABLED.")
    if status == "ACTIVE" and account.password_hash is None:
        raise DomainError.one("status", "NOT_ACTIVATED", "This admin has not activated the account yet.")
    account.status = status
    account.status_reason = reason
    await session.flush()
    if status != "ACTIVE":
        await admin_sessions.revoke(session, trust_admin_id=account.id, reason="ACCOUNT_DISABLED", now=now)
    return account


async def change_password(
    session: AsyncSession,
    auth: AuthRuntime,
    principal: TrustAdminPrincipal,
    *,
    current_password: str,
    new_password: str,
    address: str,
    now: datetime,
) -> AdminTokens:
    account = await session.get(TrustAdminAccount, principal.account_id, with_for_update=True)
    return await admin_sessions.change_own_password(
        session,
        auth,
        account,
        current_password=current_password,
        new_password=new_password,
        audience=audience_for_trust(principal.trust_id),
        address=address,
        now=now,
    )


SCHOOL_ADMIN_DIRECTORY = Policy(
    "school_admin_directory",
    "platform operators, and the admins of the school's trust (for its current schools)",
    lambda p, _: isinstance(p, TrustAdminPrincipal | OperatorPrincipal),
)

"""Platform operators: their accounts, sign-in, the principal of the platform endpoint and its policy.

An operator is "We" of the licence: provisions schools, runs licences, suspends and terminates. Operators
see aggregates only, never a pupil's personal data (ARCHITECTURE: users); the platform schema has no
type that could carry it. The first operator is created from the command line (``schoolgraph operator
create``); there is no self-service sign-up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import admin_sessions
from auth.admin_sessions import AdminOutcome
from auth.admin_tokens import PLATFORM_AUDIENCE, AdminClaims
from auth.parent_codes import username_problem
from auth.policies import Policy
from auth.service import AuthRuntime, password_problems, temporary_password
from common.errors import Problems
from common.identifiers import IdentifierError, validate_email
from models.platform import OperatorAccount


@dataclass(frozen=True)
class OperatorPrincipal:
    """A signed-in platform operator."""

    account_id: uuid.UUID
    username: str
    session_id: uuid.UUID
    must_change_password: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return ("OPERATOR",)


OPERATOR = Policy(
    "operator",
    "platform operators (aggregates only: no pupil's personal data is reachable from the platform schema)",
    lambda p, _: isinstance(p, OperatorPrincipal),
)


async def load_principal(
    session: AsyncSession, claims: AdminClaims, *, now: datetime
) -> OperatorPrincipal | None:
    """The operator behind a verified platform token, if its session is live and the account active."""
    live = await admin_sessions.live_session(
        session, session_id=claims.session_id, subject=claims.subject, audience=PLATFORM_AUDIENCE, now=now
    )
    if live is None or live.operator_id is None:
        return None
    account = await session.get(OperatorAccount, live.operator_id)
    if account is None or account.status != "ACTIVE":
        return None
    return OperatorPrincipal(account.id, account.username, live.id, account.must_change_password)


async def by_username(session: AsyncSession, username: str, *, lock: bool = False) -> OperatorAccount | None:
    stmt = select(OperatorAccount).where(func.lower(OperatorAccount.username) == username.strip().lower())
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_operator(
    session: AsyncSession,
    auth: AuthRuntime,
    *,
    username: str,
    display_name: str,
    email: str,
    password: str | None,
    now: datetime,
) -> tuple[OperatorAccount, str]:
    """A new ACTIVE operator. Without ``password`` a temporary one is generated, to be changed at first use.

    Returns the account and the password to hand over (shown once).
    """
    problems = Problems()
    username = username.strip()
    if (p := username_problem(username)) is not None:
        problems.add(p.field, p.code, p.message)
    elif await by_username(session, username) is not None:
        problems.add("username", "USERNAME_TAKEN", "An operator with this username exists already.")
    try:
        email = validate_email(email)
    except IdentifierError as error:
        problems.add("email", error.code, error.message)
    if not display_name.strip():
        problems.add("displayName", "REQUIRED", "Give the operator's name.")
    if password is not None:
        for problem in password_problems(
            auth, password, field="password", context_words=[username, display_name]
        ):
            problems.add(problem.field, problem.code, problem.message)
    problems.raise_if_any()
    chosen = password or temporary_password()
    account = OperatorAccount(
        username=username,
        display_name=display_name.strip(),
        email=email,
        password_hash=await auth.hash(chosen),
        status="ACTIVE",
        must_change_password=password is None,
        password_changed_at=now,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    return account, chosen


async def login(
    session: AsyncSession, auth: AuthRuntime, *, username: str, password: str, address: str, now: datetime
) -> AdminOutcome:
    account = await by_username(session, username, lock=True)
    return await admin_sessions.sign_in(
        session,
        auth,
        account,
        username=username,
        password=password,
        audience=PLATFORM_AUDIENCE,
        address=address,
        now=now,
    )


async def change_password(
    session: AsyncSession,
    auth: AuthRuntime,
    principal: OperatorPrincipal,
    *,
    current_password: str,
    new_password: str,
    address: str,
    now: datetime,
) -> admin_sessions.AdminTokens:
    account = await session.get(OperatorAccount, principal.account_id, with_for_update=True)
    return await admin_sessions.change_own_password(
        session,
        auth,
        account,
        current_password=current_password,
        new_password=new_password,
        audience=PLATFORM_AUDIENCE,
        address=address,
        now=now,
    )

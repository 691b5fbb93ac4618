"""School admins made from outside the school: by an operator at provisioning (LL 4.2) or by a trust admin;
their one-time activation; their deactivation; and the nominated Super-Users (LRS "Super-User").

A school admin made here is a PENDING account linked to a new staff record (name and work e-mail: the
address the Super-User notices go to) with a one-time activation code. The code is shown once to whoever
created the account and only its SHA-256 is kept; the admin redeems it at the school's URL
(``activateAccount``), choosing a password, and is signed in. Every function runs bound to the school.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.opaque_tokens import hash_token
from auth.parent_codes import normalise_code, username_problem, username_taken
from auth.service import AuthRuntime, Tokens, password_problems, revoke_sessions, start_session
from auth.trust_admins import new_activation_code
from common.errors import DomainError, Problem, Problems
from common.events import Actor, emit, emit_for_school
from common.identifiers import IdentifierError, validate_email
from models import Account, AuditEntry, Staff
from models.platform import AccountActivation, SuperUser
from tenants.context import Tenant
from tenants.scoping import in_school, scoped, scoped_update

ACTIVATION_TTL = timedelta(days=14)
MAX_SUPER_USERS = 3
INVALID_ACTIVATION = Problem(
    "code", "INVALID_ACTIVATION_CODE", "This activation code is not valid: unknown, used or expired."
)
_NAME = re.compile(r"\S")


@dataclass(frozen=True)
class NewSchoolAdmin:
    account: Account
    staff: Staff
    activation_code: str
    """Shown once to whoever created the account; the admin redeems it at the school's URL."""


@dataclass(frozen=True)
class SchoolAdminView:
    account: Account
    staff: Staff | None
    super_user: bool


async def create_school_admin(
    session: AsyncSession,
    school_id: uuid.UUID,
    *,
    forename: str,
    surname: str,
    email: str,
    username: str,
    issuer_type: str,
    issuer_id: uuid.UUID | None,
    super_user: bool,
    now: datetime,
) -> NewSchoolAdmin:
    """A PENDING school admin with a staff record and an activation code (the school must be bound)."""
    username, email = await _checked_admin(session, school_id, forename, surname, email, username)
    staff = Staff(
        school_id=school_id,
        forename=forename.strip(),
        surname=surname.strip(),
        work_email=email,
        teaching=False,
        role_text="School admin",
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    account = Account(
        school_id=school_id,
        username=username,
        password_hash=None,
        role="SCHOOL_ADMIN",
        status="PENDING",
        staff_id=staff.id,
        created_by=issuer_id,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    code = await issue_activation(
        session, school_id, account.id, issuer_type=issuer_type, issuer_id=issuer_id, now=now
    )
    if super_user:
        await _nominate_if_room(
            session, school_id, account.id, issuer_type=issuer_type, issuer_id=issuer_id, now=now
        )
    return NewSchoolAdmin(account=account, staff=staff, activation_code=code)


async def _checked_admin(
    session: AsyncSession, school_id: uuid.UUID, forename: str, surname: str, email: str, username: str
) -> tuple[str, str]:
    """The username (stripped) and e-mail (validated) of a new school admin; raises every problem at once."""
    problems = Problems()
    username = username.strip()
    if (p := username_problem(username)) is not None:
        problems.add(p.field, p.code, p.message)
    elif await username_taken(session, school_id, username):
        problems.add("username", "USERNAME_TAKEN", "This username is already in use at this school.")
    for field, value in (("forename", forename), ("surname", surname)):
        if not _NAME.search(value) or len(value.strip()) > 100:
            problems.add(field, "INVALID_NAME", f"The {field} must be 1 to 100 characters.")
    try:
        email = validate_email(email)
    except IdentifierError as error:
        problems.add("email", error.code, error.message)
    problems.raise_if_any()
    return username, email


async def _nominate_if_room(
    session: AsyncSession,
    school_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    issuer_type: str,
    issuer_id: uuid.UUID | None,
    now: datetime,
) -> None:
    """Nominate the account a Super-User unless the school has its MAX_SUPER_USERS already (then silently not)."""
    if len(await super_user_ids(session, school_id)) >= MAX_SUPER_USERS:
        return
    session.add(
        SuperUser(
            school_id=school_id,
            account_id=account_id,
            nominated_by_type=issuer_type,
            nominated_by=issuer_id,
            nominated_at=now,
        )
    )
    await session.flush()


async def issue_activation(
    session: AsyncSession,
    school_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    issuer_type: str,
    issuer_id: uuid.UUID | None,
    now: datetime,
) -> str:
    code = new_activation_code()
    session.add(
        AccountActivation(
            school_id=school_id,
            account_id=account_id,
            code_hash=hash_token(code),
            issued_by_type=issuer_type,
            issued_by=issuer_id,
            created_at=now,
            expires_at=now + ACTIVATION_TTL,
        )
    )
    await session.flush()
    return code


async def activate_account(
    session: AsyncSession,
    auth: AuthRuntime,
    tenant: Tenant,
    *,
    code: str,
    username: str | None,
    password: str,
    address: str,
    now: datetime,
) -> tuple[Account, Tokens]:
    """Redeem an activation code (LL 4.2): optionally rename, set the password, activate, sign in."""
    row = (
        await session.execute(
            select(AccountActivation, Account)
            .join(
                Account,
                and_(in_school(Account, tenant.id), Account.id == AccountActivation.account_id),
            )
            .where(
                in_school(AccountActivation, tenant.id),
                AccountActivation.code_hash == hash_token(normalise_code(code)),
            )
            .with_for_update()
        )
    ).one_or_none()
    if row is None or row[0].used_at is not None or row[0].expires_at <= now or row[1].status != "PENDING":
        raise DomainError([INVALID_ACTIVATION])
    activation, account = row
    problems = Problems()
    if username is not None and username.strip().lower() != account.username.lower():
        username = username.strip()
        if (p := username_problem(username)) is not None:
            problems.add(p.field, p.code, p.message)
        elif await username_taken(session, tenant.id, username):
            problems.add("username", "USERNAME_TAKEN", "This username is already in use at this school.")
        else:
            account.username = username
    for problem in password_problems(
        auth, password, field="password", context_words=[account.username, tenant.name, tenant.slug]
    ):
        problems.add(problem.field, problem.code, problem.message)
    problems.raise_if_any()
    account.password_hash = await auth.hash(password)
    account.password_changed_at = now
    account.must_change_password = False
    account.status = "ACTIVE"
    account.last_login_at = now
    activation.used_at = now
    await session.flush()
    tokens = await start_session(session, auth, account, now=now, address=address)
    actor = Actor("ACCOUNT", account.id, account.username, account.role)  # the caller was anonymous until now
    await emit(session, "auth.activated", target_type="Account", target_id=account.id, actor=actor)
    return account, tokens


async def school_admins(session: AsyncSession, school_id: uuid.UUID) -> list[SchoolAdminView]:
    """The school's admin accounts with their staff record and Super-User flag (the school must be bound)."""
    rows = await session.execute(
        select(Account, Staff, SuperUser.account_id)
        .outerjoin(Staff, and_(in_school(Staff, school_id), Staff.id == Account.staff_id))
        .outerjoin(SuperUser, and_(in_school(SuperUser, school_id), SuperUser.account_id == Account.id))
        .where(in_school(Account, school_id), Account.role == "SCHOOL_ADMIN")
        .order_by(Account.username)
    )
    return [
        SchoolAdminView(account, staff, nominated is not None) for account, staff, nominated in rows.all()
    ]


async def deactivate_school_admin(
    session: AsyncSession, school_id: uuid.UUID, account_id: uuid.UUID, *, reason: str | None, now: datetime
) -> Account:
    """Disable a school admin and end their sessions at once; the last active admin cannot be disabled."""
    account = (
        await session.execute(
            scoped(Account, school_id)
            .where(Account.id == account_id, Account.role == "SCHOOL_ADMIN")
            .with_for_update()
        )
    ).scalar_one_or_none()
    if account is None:
        raise DomainError.one("accountId", "NOT_FOUND", "No such school admin at this school.")
    if account.status == "DISABLED":
        raise DomainError.one("accountId", "ALREADY_DISABLED", "This school admin is disabled already.")
    others = (
        await session.execute(
            select(func.count())
            .select_from(Account)
            .where(
                in_school(Account, school_id),
                Account.role == "SCHOOL_ADMIN",
                Account.status == "ACTIVE",
                Account.id != account_id,
            )
        )
    ).scalar_one()
    if account.status == "ACTIVE" and others == 0:
        raise DomainError.one(
            "accountId",
            "LAST_SCHOOL_ADMIN",
            "This is the school's only active admin: create and activate another before disabling it.",
        )
    await session.execute(
        scoped_update(Account, school_id)
        .where(Account.id == account_id)
        .values(status="DISABLED", status_reason=reason)
    )
    await revoke_sessions(session, school_id, account_ids=[account_id], reason="ACCOUNT_DISABLED", now=now)
    await session.refresh(account)
    return account


async def super_user_ids(session: AsyncSession, school_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(select(SuperUser.account_id).where(in_school(SuperUser, school_id)))
    return list(rows.scalars())


async def set_super_users(
    session: AsyncSession,
    school_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    *,
    nominated_by_type: str,
    nominated_by: uuid.UUID | None,
    now: datetime,
) -> list[uuid.UUID]:
    """Replace the school's Super-Users: at most three of its (not disabled) school admins."""
    wanted = list(dict.fromkeys(account_ids))
    if len(wanted) > MAX_SUPER_USERS:
        raise DomainError.one(
            "accountIds", "TOO_MANY_SUPER_USERS", f"At most {MAX_SUPER_USERS} Super-Users per school."
        )
    found = set(
        (
            await session.execute(
                select(Account.id).where(
                    in_school(Account, school_id),
                    Account.id.in_(wanted),  # type: ignore[attr-defined]
                    Account.role == "SCHOOL_ADMIN",
                    Account.status != "DISABLED",
                )
            )
        ).scalars()
    )
    missing = [i for i, a in enumerate(wanted) if a not in found]
    if missing:
        raise DomainError(
            [
                Problem(f"accountIds.{i}", "NOT_FOUND", "Not a school admin (enabled) of this school.")
                for i in missing
            ]
        )
    await session.execute(delete(SuperUser).where(in_school(SuperUser, school_id)))
    session.add_all(
        SuperUser(
            school_id=school_id,
            account_id=a,
            nominated_by_type=nominated_by_type,
            nominated_by=nominated_by,
            nominated_at=now,
        )
        for a in wanted
    )
    await session.flush()
    await emit_for_school(
        session, school_id, "super_users.set", detail={"accountIds": [str(a) for a in wanted]}
    )
    return wanted


ACCOUNT_EVENT_ACTIONS = (
    "mutation.createAccount",
    "mutation.setAccountStatus",
    "mutation.resetPassword",
    "mutation.activateAccount",
)
"""What a trust admin reads of its schools' audit (LRS 8.9): sign-ins and account administration."""
ACCOUNT_EVENT_PREFIXES = ("auth.", "account.", "school_admin.", "super_users.")


async def account_events(
    session: AsyncSession, school_id: uuid.UUID, *, first: int, before_id: int | None
) -> list[AuditEntry]:
    """The school's account events, newest first, ``first + 1`` at most (the school must be bound)."""
    stmt = scoped(AuditEntry, school_id).where(
        or_(
            AuditEntry.action.in_(ACCOUNT_EVENT_ACTIONS),  # type: ignore[attr-defined]
            *(AuditEntry.action.startswith(p) for p in ACCOUNT_EVENT_PREFIXES),
        )
    )
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(first + 1)  # type: ignore[union-attr]
    return list((await session.execute(stmt)).scalars())

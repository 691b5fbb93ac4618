"""Parent access codes (LL 6.3.4): issued by a school admin for one pupil, single use, expiring.

A parent registers with a code and is linked to that child; a signed-in parent redeems a second code to
add another child. Codes are 16 characters of Crockford base32 (80 bits), grouped for reading aloud;
only their SHA-256 is stored, so a leaked table does not leak usable codes. Failed redemptions count
against the caller's address like failed sign-ins.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.opaque_tokens import hash_token
from auth.principal import Principal
from auth.service import (
    AuthRuntime,
    Tokens,
    password_problems,
    start_session,
)
from common.errors import DomainError, Problem, Problems
from common.events import emit
from common.identifiers import IdentifierError, validate_email
from models import Account, Contact, ParentCode, Pupil, PupilContact
from tenants.context import Tenant
from tenants.scoping import in_school, scoped

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVALID_CODE = Problem(
    "code",
    "INVALID_PARENT_CODE",
    "This parent code is not valid: it is unknown, already used, withdrawn or expired.",
)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_code(code: str) -> str:
    """Upper case, no separators or spaces, and the look-alikes Crockford maps (O->0, I/L->1)."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


@dataclass(frozen=True)
class IssuedCode:
    code: str
    """Shown once to the issuing admin; never stored."""
    record: ParentCode


async def issue(
    session: AsyncSession,
    principal: Principal,
    *,
    pupil_id: uuid.UUID,
    relationship: str,
    now: datetime,
    ttl_days: int,
) -> IssuedCode:
    pupil = (
        await session.execute(scoped(Pupil, principal.school_id).where(Pupil.id == pupil_id))
    ).scalar_one_or_none()
    if pupil is None:
        raise DomainError.one("pupilId", "NOT_FOUND", "No such pupil at this school.")
    if not pupil.active:
        raise DomainError.one(
            "pupilId", "PUPIL_INACTIVE", "This pupil has left: no parent code can be issued."
        )
    code = new_code()
    record = ParentCode(
        school_id=principal.school_id,
        pupil_id=pupil_id,
        code_hash=hash_token(code),
        relationship=relationship,
        issued_by=principal.account_id,
        issued_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    session.add(record)
    await session.flush()
    # LL 7.1.4: the record of parent codes granted, by whom and for which pupil.
    detail = {"parentCodeId": str(record.id)}
    await emit(session, "parent_code.issued", target_type="Pupil", target_id=record.pupil_id, detail=detail)
    return IssuedCode(code=code, record=record)


async def _redeemable(session: AsyncSession, school_id: uuid.UUID, code: str, now: datetime) -> ParentCode:
    record = (
        await session.execute(
            scoped(ParentCode, school_id)
            .where(ParentCode.code_hash == hash_token(normalise_code(code)))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if (
        record is None
        or record.used_at is not None
        or record.revoked_at is not None
        or record.expires_at <= now
        # issue() refuses leavers; a code issued before the pupil left must not link anyone to them either.
        or not await _pupil_active(session, school_id, record.pupil_id)
    ):
        raise DomainError([INVALID_CODE])
    return record


async def _pupil_active(session: AsyncSession, school_id: uuid.UUID, pupil_id: uuid.UUID) -> bool:
    active = await session.execute(
        select(Pupil.active).where(in_school(Pupil, school_id), Pupil.id == pupil_id)
    )
    return bool(active.scalar_one_or_none())


async def _link(
    session: AsyncSession, record: ParentCode, contact_id: uuid.UUID, account_id: uuid.UUID, now: datetime
) -> None:
    await session.execute(
        insert(PupilContact)
        .values(
            school_id=record.school_id,
            pupil_id=record.pupil_id,
            contact_id=contact_id,
            relationship=record.relationship,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    record.used_at = now
    record.used_by = account_id
    await session.flush()


@dataclass(frozen=True)
class Registration:
    code: str
    username: str
    password: str
    forename: str
    surname: str
    email: str | None


USERNAME_RULE = "3 to 64 characters: letters, digits, '.', '_', '-' and '@'"


def username_problem(username: str, field: str = "username") -> Problem | None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
    if not 3 <= len(username) <= 64 or not set(username.lower()) <= allowed:
        return Problem(field, "INVALID_USERNAME", f"The username must be {USERNAME_RULE}.")
    return None


async def username_taken(session: AsyncSession, school_id: uuid.UUID, username: str) -> bool:
    found = await session.execute(
        select(func.count()).select_from(
            scoped(Account, school_id).where(func.lower(Account.username) == username.lower()).subquery()
        )
    )
    return bool(found.scalar_one())


async def register_parent(
    session: AsyncSession,
    auth: AuthRuntime,
    tenant: Tenant,
    registration: Registration,
    *,
    address: str,
    now: datetime,
) -> Tokens:
    """Create a parent's contact record and account from a code, link the child, and sign them in."""
    problems = Problems()
    username = registration.username.strip()
    if (p := username_problem(username)) is not None:
        problems.add(p.field, p.code, p.message)
    elif await username_taken(session, tenant.id, username):
        problems.add("username", "USERNAME_TAKEN", "This username is already in use at this school.")
    forename, surname = registration.forename.strip(), registration.surname.strip()
    if not forename:
        problems.add("forename", "REQUIRED", "Forename is required.")
    if not surname:
        problems.add("surname", "REQUIRED", "Surname is required.")
    email = None
    if registration.email:
        try:
            email = validate_email(registration.email)
        except IdentifierError as error:
            problems.add("email", error.code, error.message)
    problems.items.extend(
        password_problems(
            auth, registration.password, field="password", context_words=[username, tenant.name, tenant.slug]
        )
    )
    record = await _redeemable(session, tenant.id, registration.code, now)
    problems.raise_if_any()
    contact = Contact(school_id=tenant.id, forename=forename, surname=surname, email=email, created_at=now)
    session.add(contact)
    await session.flush()
    account = Account(
        school_id=tenant.id,
        username=username,
        password_hash=await auth.hash(registration.password),
        role="PARENT",
        status="ACTIVE",
        contact_id=contact.id,
        password_changed_at=now,
        created_by=record.issued_by,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    await _link(session, record, contact.id, account.id, now)
    return await start_session(session, auth, account, now=now, address=address)


async def link_child(session: AsyncSession, principal: Principal, *, code: str, now: datetime) -> bool:
    """A signed-in parent redeems another code: that child is linked to them too."""
    if principal.contact_id is None:
        raise DomainError.one(None, "NOT_A_PARENT", "Only a parent account can redeem a parent code.")
    record = await _redeemable(session, principal.school_id, code, now)
    await _link(session, record, principal.contact_id, principal.account_id, now)
    return True

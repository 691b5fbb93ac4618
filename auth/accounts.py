"""Creating accounts for a school's people (LL 4.3: the school admin creates Registered Users).

The account's role follows from the person (LRS 7.2: no conflicting roles), ``created_by`` records the
admin who authorised it, and the first password is a temporary one the person must change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth.parent_codes import username_problem, username_taken
from auth.principal import Principal
from auth.service import AccessGate, AuthRuntime, temporary_password
from common.errors import DomainError, Problems
from models import Account, Contact, Pupil, Staff
from tenants.scoping import scoped

PERSON_ROLES = {"Staff": "STAFF", "Pupil": "PUPIL", "Contact": "PARENT"}


@dataclass(frozen=True)
class NewAccount:
    account: Account
    temporary_password: str
    """Shown once to the admin who created the account; the person must change it at first sign-in."""


async def create_account(
    session: AsyncSession,
    auth: AuthRuntime,
    principal: Principal,
    *,
    person_kind: str,
    person_id: uuid.UUID,
    username: str,
    school_admin: bool,
    gate: AccessGate,
    now: datetime,
) -> NewAccount:
    """A new ACTIVE account for a person of the school, refused (nothing written) when the username is
    invalid or taken, the person is unknown, inactive or has an account, a non-staff account would be a school
    admin, or ``gate`` refuses the person access (a pupil under 13 without a parent's consent, LL 6.3.2)."""
    problems = Problems()
    username = username.strip()
    if (p := username_problem(username)) is not None:
        problems.add(p.field, p.code, p.message)
    elif await username_taken(session, principal.school_id, username):
        problems.add("username", "USERNAME_TAKEN", "This username is already in use at this school.")
    await _check_person(session, problems, principal.school_id, person_kind, person_id)
    if school_admin and person_kind != "Staff":
        problems.add(
            "schoolAdmin", "ROLE_CONFLICT", "Only a member of staff can be a school admin (LRS 7.2)."
        )
    problems.raise_if_any()
    password = temporary_password()
    role = "SCHOOL_ADMIN" if school_admin else PERSON_ROLES[person_kind]
    account = Account(
        school_id=principal.school_id,
        username=username,
        password_hash=await auth.hash(password),
        role=role,
        status="ACTIVE",
        must_change_password=True,
        created_by=principal.account_id,
        created_at=now,
        **{_person_column(person_kind): person_id},
    )
    if (refused := await gate(session, account, now)) is not None:
        raise DomainError.one("personId", refused.code, refused.message)
    session.add(account)
    await session.flush()
    return NewAccount(account=account, temporary_password=password)


async def account_by_id(session: AsyncSession, school_id: uuid.UUID, account_id: uuid.UUID) -> Account:
    account = (
        await session.execute(scoped(Account, school_id).where(Account.id == account_id))
    ).scalar_one_or_none()
    if account is None:
        raise DomainError.one("accountId", "NOT_FOUND", "No such account at this school.")
    return account


def _person_column(person_kind: str) -> str:
    """The account's column that names a person of this kind: ``staff_id``, ``pupil_id`` or ``contact_id``."""
    return f"{'contact' if person_kind == 'Contact' else person_kind.lower()}_id"


async def _check_person(
    session: AsyncSession, problems: Problems, school_id: uuid.UUID, person_kind: str, person_id: uuid.UUID
) -> None:
    """The person exists at the school, is still there, and has no account yet."""
    model = {"Staff": Staff, "Pupil": Pupil, "Contact": Contact}[person_kind]
    person = (
        await session.execute(scoped(model, school_id).where(model.id == person_id))  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if person is None:
        problems.add("personId", "NOT_FOUND", f"No such {person_kind.lower()} at this school.")
    elif not person.active:
        problems.add(
            "personId", "PERSON_INACTIVE", "This person has left the school: no account can be created."
        )
    elif (
        await session.execute(
            scoped(Account, school_id).where(getattr(Account, _person_column(person_kind)) == person_id)
        )
    ).scalar_one_or_none() is not None:
        problems.add("personId", "ACCOUNT_EXISTS", "This person already has an account.")

"""A school's data subject as the rights services see them: a pupil, member of staff or contact, with the
accounts that sign in as them. One lookup serves export, erasure, restriction and objection."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from models import Account, Contact, Pupil, Staff
from models.privacy import ErasureRecord
from privacy.registry import Subject
from tenants.scoping import in_school

MODELS: dict[Subject, Any] = {Subject.PUPIL: Pupil, Subject.STAFF: Staff, Subject.CONTACT: Contact}
GLOBAL_TYPES = {"Pupil": Subject.PUPIL, "Staff": Subject.STAFF, "Contact": Subject.CONTACT}
"""The GraphQL type of each kind of person (a global id names one of these)."""


@dataclass(frozen=True)
class Person:
    school_id: uuid.UUID
    kind: Subject
    id: uuid.UUID
    forename: str
    surname: str
    account_ids: tuple[uuid.UUID, ...]

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    @property
    def all_ids(self) -> tuple[uuid.UUID, ...]:
        return (self.id, *self.account_ids)

    def ids_for(self, subject: Subject) -> tuple[uuid.UUID, ...]:
        """The ids a link to ``subject`` holds for this person (none when it links another kind)."""
        if subject is Subject.ACCOUNT:
            return self.account_ids
        if subject is Subject.PERSON:
            return self.all_ids
        if subject is self.kind:
            return (self.id,)
        return ()


def digest(school_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """The erasure record's pseudonymous fingerprint of a person: a second erasure is refused by it."""
    return hashlib.sha256(f"{school_id}:{person_id}".encode()).hexdigest()


def unknown(field: str) -> DomainError:
    return DomainError.one(field, "NOT_FOUND", "No such person at this school (or they have been erased).")


async def find(
    session: AsyncSession,
    school_id: uuid.UUID,
    kind: Subject,
    person_id: uuid.UUID,
    *,
    field: str = "personId",
) -> Person:
    """The person and their accounts; ``NOT_FOUND`` on ``field`` when the school has no such person."""
    model = MODELS.get(kind)
    if model is None:
        raise unknown(field)
    row = (
        await session.execute(
            select(model.forename, model.surname).where(in_school(model, school_id), model.id == person_id)
        )
    ).one_or_none()
    if row is None:
        raise unknown(field)
    link = {
        Subject.PUPIL: Account.pupil_id,
        Subject.STAFF: Account.staff_id,
        Subject.CONTACT: Account.contact_id,
    }
    accounts = (
        await session.execute(
            select(Account.id).where(in_school(Account, school_id), or_(link[kind] == person_id))
        )
    ).scalars()
    return Person(school_id, kind, person_id, row.forename, row.surname, tuple(accounts))


async def find_living(
    session: AsyncSession,
    school_id: uuid.UUID,
    kind: Subject,
    person_id: uuid.UUID,
    *,
    field: str = "personId",
) -> Person:
    """:func:`find`, but ``ERASED`` (not ``NOT_FOUND``) for a person this school has erased."""
    erased = await session.scalar(
        select(ErasureRecord.id).where(
            in_school(ErasureRecord, school_id), ErasureRecord.subject_digest == digest(school_id, person_id)
        )
    )
    if erased is not None:
        raise DomainError.one(field, "ERASED", "This person has been erased: nothing of theirs is left.")
    return await find(session, school_id, kind, person_id, field=field)

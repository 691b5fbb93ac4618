"""School-admin operations on a school's contacts (parents, guardians, others) and their links to pupils.

A parent's account sees exactly the pupils linked to its contact, loaded with its Principal: a link made
or removed here takes effect on its next request. The contract every operation keeps is in
:mod:`people.service`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from models import Contact, Pupil, PupilContact
from models.people import CONTACT_RELATIONSHIPS
from people import validation as v
from people.rows import CONTACT, PUPIL, find
from tenants.scoping import scoped_delete


@dataclass(frozen=True)
class NewContact:
    forename: str
    surname: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ContactLink:
    contact_id: uuid.UUID
    pupil_id: uuid.UUID
    relationship: str = "PARENT"


@dataclass(frozen=True)
class ContactUnlink:
    contact_id: uuid.UUID
    pupil_id: uuid.UUID


FIELDS: dict[str, v.Cleaner] = {
    "title": v.text("The title", 20),
    "forename": v.text("The forename", 100, required=True),
    "surname": v.text("The surname", 100, required=True),
    "email": v.email("The email"),
    "phone": v.phone,
}


async def create_contact(
    session: AsyncSession, principal: Principal, data: NewContact, *, now: datetime
) -> Contact:
    """A parent, guardian or other contact; linked to pupils with :func:`link_contact`."""
    problems = Problems()
    cleaned = v.clean(problems, FIELDS, data)
    problems.raise_if_any()
    contact = Contact(school_id=principal.school_id, **cleaned, created_at=now)
    session.add(contact)
    await session.flush()
    return contact


async def link_contact(
    session: AsyncSession, principal: Principal, data: ContactLink, *, now: datetime
) -> tuple[Pupil, Contact]:
    """Link a contact to a pupil, or change the relationship of an existing link.

    A parent's account sees exactly the pupils linked to its contact, from its next request.
    """
    problems = Problems()
    contact: Contact | None = await find(session, principal, CONTACT, data.contact_id, problems, active=True)
    pupil: Pupil | None = await find(session, principal, PUPIL, data.pupil_id, problems, active=True)
    relationship = v.choice("The relationship", CONTACT_RELATIONSHIPS)(
        problems, "relationship", data.relationship
    )
    problems.raise_if_any()
    assert contact is not None and pupil is not None
    stmt = insert(PupilContact).values(
        school_id=principal.school_id,
        pupil_id=pupil.id,
        contact_id=contact.id,
        relationship=relationship,
        created_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["school_id", "pupil_id", "contact_id"],
            set_={"relationship": stmt.excluded.relationship},
        )
    )
    return pupil, contact


async def unlink_contact(
    session: AsyncSession, principal: Principal, data: ContactUnlink, *, now: datetime
) -> tuple[Pupil, Contact]:
    """Idempotent. A parent's account loses sight of the pupil from its next request."""
    problems = Problems()
    contact: Contact | None = await find(session, principal, CONTACT, data.contact_id, problems)
    pupil: Pupil | None = await find(session, principal, PUPIL, data.pupil_id, problems)
    problems.raise_if_any()
    assert contact is not None and pupil is not None
    await session.execute(
        scoped_delete(PupilContact, principal.school_id).where(
            PupilContact.pupil_id == pupil.id, PupilContact.contact_id == contact.id
        )
    )
    return pupil, contact

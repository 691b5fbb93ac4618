"""People of one school, with the Schedule 1 fields of the licence's data-processing appendix (LL-S1).

Staff, pupils and parent/guardian contacts are *people*; an account (``models/accounts.py``) is how a
person signs in. Leavers are deactivated (``active = false``, ``date_of_leaving``), never deleted here:
deletion is erasure, a privacy operation with its own record.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.base import change_version, created_at, day, id_field, school_key, tenant_fk, timestamp, uuid_ref

GENDERS = ("FEMALE", "MALE", "OTHER", "NOT_KNOWN")
PUPIL_ACCESS_SCOPES = ("TAUGHT", "SCHOOL")
CONTACT_RELATIONSHIPS = ("PARENT", "GUARDIAN", "CARER", "RELATIVE", "OTHER")
STAFF_ROLES = (
    "teacher",
    "aide",
    "administrator",
    "principal",
    "siteAdministrator",
    "districtAdministrator",
    "systemAdministrator",
    "counselor",
    "proctor",
)
"""A member of staff's role as the MIS gave it (OneRoster's vocabulary, 1.1 and 1.2)."""


def sourced_id_index(table: str) -> Index:
    """A person table's active rows in OneRoster sourcedId order (the id a package knows a row by,
    ``roster.records.key``): the provider's pages of users read through it (migration 0014)."""
    return Index(
        f"ix_{table}_school_id_sourced_id",
        "school_id",
        text("coalesce(source_id, id::text)"),
        postgresql_where=text("active"),
    )


class Staff(SQLModel, table=True):
    """A member of staff (Teacher Subscriber, LL 6.3.1: named, with a work email)."""

    __tablename__ = "staff"
    __table_args__ = (
        Index("ix_staff_school_id_changed_version", "school_id", "changed_version"),
        sourced_id_index("staff"),
        UniqueConstraint("school_id", "staff_code"),
        UniqueConstraint("school_id", "source_id"),
        CheckConstraint(f"pupil_access IN {PUPIL_ACCESS_SCOPES}", name="pupil_access"),
        CheckConstraint(f"staff_role IS NULL OR staff_role IN {STAFF_ROLES}", name="staff_role"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    title: str | None = Field(default=None, max_length=20)
    forename: str = Field(max_length=100)
    preferred_forename: str | None = Field(default=None, max_length=100)
    """The given name the person goes by, when it is not the legal one (``forename``): shown where names are
    displayed; exports and official records keep the legal name."""
    surname: str = Field(max_length=100)
    work_email: str | None = Field(default=None, max_length=254)
    """Required when an admin creates staff (LL 6.3.1); an MIS import may lack it, and then the staff member
    gets no account until one is recorded (roster/, docs/roster-csv.md)."""
    secondary_email: str | None = Field(default=None, max_length=254)
    teaching: bool = True
    role_text: str | None = Field(default=None, max_length=100)
    staff_role: str | None = Field(default=None, max_length=32)
    """The OneRoster role an import gave (``aide``, ``principal``, ...): the export writes it in the 1.1
    vocabulary. None for staff made in schoolgraph (``teaching`` then says teacher or administrator)."""
    staff_code: str | None = Field(default=None, max_length=20)
    date_of_leaving: date | None = day()
    active: bool = True
    pupil_access: str = Field(default="TAUGHT", max_length=16)
    """TAUGHT: the pupils of the groups they teach. SCHOOL: every pupil (head of year, SENCO, ...)."""
    pupil_access_reason: str | None = Field(default=None, max_length=100)
    pupil_access_granted_by: uuid.UUID | None = uuid_ref(nullable=True)
    pupil_access_granted_at: datetime | None = timestamp()
    source_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at()
    updated_at: datetime | None = timestamp()
    changed_version: int | None = change_version()


class Pupil(SQLModel, table=True):
    """A pupil (Pupil Subscriber). UPN is validated with its check letter, ULN with its check digit."""

    __tablename__ = "pupils"
    __table_args__ = (
        Index("ix_pupils_school_id_changed_version", "school_id", "changed_version"),
        sourced_id_index("pupils"),
        UniqueConstraint("school_id", "upn"),
        UniqueConstraint("school_id", "source_id"),
        CheckConstraint(f"gender IN {GENDERS}", name="gender"),
        CheckConstraint("upn ~ '^[A-Z][0-9]{11}[0-9A-Z]$'", name="upn_format"),
        CheckConstraint("uln IS NULL OR uln ~ '^[1-9][0-9]{9}$'", name="uln_format"),
        Index("ix_pupils_school_id_surname_forename", "school_id", "surname", "forename"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    forename: str = Field(max_length=100)
    preferred_forename: str | None = Field(default=None, max_length=100)
    """The given name the person goes by, when it is not the legal one (``forename``): shown where names are
    displayed; exports and official records keep the legal name."""
    surname: str = Field(max_length=100)
    date_of_birth: date | None = day()
    """Required when an admin creates a pupil (LL 6.3.2); an MIS import may lack it (OneRoster has no date of
    birth without demographics.csv): such a pupil counts as under 13 until it is recorded."""
    gender: str = Field(max_length=16)
    email: str | None = Field(default=None, max_length=254)
    upn: str | None = Field(default=None, max_length=13)
    """Required when an admin creates a pupil; an import from a system that has none (OneRoster without a
    ``{UPN:...}`` user id) leaves it empty, with a warning."""
    uln: str | None = Field(default=None, max_length=10)
    active: bool = True
    date_of_leaving: date | None = day()
    source_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at()
    updated_at: datetime | None = timestamp()
    changed_version: int | None = change_version()


class Contact(SQLModel, table=True):
    """A parent, guardian or other contact of one or more pupils (Parent Subscriber when they have an account)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("school_id", "source_id"),
        Index("ix_contacts_school_id_changed_version", "school_id", "changed_version"),
        sourced_id_index("contacts"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    title: str | None = Field(default=None, max_length=20)
    forename: str = Field(max_length=100)
    preferred_forename: str | None = Field(default=None, max_length=100)
    """The given name the person goes by, when it is not the legal one (``forename``): shown where names are
    displayed; exports and official records keep the legal name."""
    surname: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    active: bool = True
    source_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at()
    updated_at: datetime | None = timestamp()
    changed_version: int | None = change_version()


class PupilContact(SQLModel, table=True):
    """A contact's link to a pupil; a parent's account sees exactly the pupils linked here."""

    __tablename__ = "pupil_contacts"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        tenant_fk(["contact_id"], "contacts", ondelete="CASCADE"),
        CheckConstraint(f"relationship IN {CONTACT_RELATIONSHIPS}", name="relationship"),
        Index("ix_pupil_contacts_school_id_contact_id", "school_id", "contact_id"),
    )

    school_id: uuid.UUID = school_key()
    pupil_id: uuid.UUID = Field(primary_key=True)
    contact_id: uuid.UUID = Field(primary_key=True)
    relationship: str = Field(default="PARENT", max_length=16)
    created_at: datetime = created_at()


__all__ = ["Contact", "Pupil", "PupilContact", "Staff", "text"]

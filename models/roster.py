"""Roster sync (MIS / OneRoster import and export), terms, extended pupil data and its opt-in, activation.

* ``roster_imports``: the import history (LL 10.2, LL-A 4.1): who, when, which file (name, SHA-256, size),
  the format and mode, the counts, how many errors and warnings (by code), and the outcome. It holds no
  row-level problem messages: those may quote personal data and are shown once, to the importer.
* ``roster_sources``: which OneRoster org is this school (its ``sourcedId``), set by a school admin.
* ``terms`` and ``group_terms``: OneRoster academic sessions and the terms a class runs in.
* ``pupil_extended_data``: the optional Schedule 1 pupil data (LL-S1: LEA care, SEN status code, pupil
  premium, EAL). Rows exist only while the school has opted in; revoking deletes them (LL-A 3.2).
* ``extended_data_opt_ins``: the school's opt-in setting, with who approved or revoked it and when.
* ``activation_codes``: one-time codes that turn an imported PENDING account into an ACTIVE one (LL 11.3).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from models.base import created_at, day, id_field, school_key, tenant_fk, timestamp, uuid_ref

IMPORT_FORMATS = ("ONEROSTER_1_1", "ONEROSTER_1_2", "SCHOOLGRAPH_CSV", "UNKNOWN")
IMPORT_MODES = ("BULK", "DELTA", "MIXED")
IMPORT_OUTCOMES = ("COMMITTED", "DRY_RUN", "REFUSED")
TERM_TYPES = ("SCHOOL_YEAR", "SEMESTER", "TERM", "GRADING_PERIOD")
SEN_STATUSES = ("N", "K", "E", "S")


class RosterImport(SQLModel, table=True):
    """One import attempt that got as far as reading the file: committed, dry run or refused."""

    __tablename__ = "roster_imports"
    __table_args__ = (
        CheckConstraint(f"format IN {IMPORT_FORMATS}", name="format"),
        CheckConstraint(f"mode IN {IMPORT_MODES}", name="mode"),
        CheckConstraint(f"outcome IN {IMPORT_OUTCOMES}", name="outcome"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),
        Index("ix_roster_imports_school_id_started_at", "school_id", "started_at"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    started_at: datetime = created_at()
    finished_at: datetime = timestamp(nullable=False)
    account_id: uuid.UUID | None = uuid_ref(nullable=True)
    """The school admin who imported; None from the command line."""
    actor: str = Field(max_length=100)
    """Their username at the time, or ``command line``."""
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size_bytes: int = Field(sa_type=BigInteger)
    format: str = Field(max_length=16)
    mode: str = Field(max_length=8)
    dry_run: bool
    outcome: str = Field(max_length=16)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    """``{entity: {create, update, deactivate, unchanged}}``."""
    error_count: int = 0
    warning_count: int = 0
    problem_codes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    """``{code: count}``: which kinds of problem, never the rows or values."""


class RosterSource(SQLModel, table=True):
    """The OneRoster org that is this school: a package naming it (or the school's URN) may be imported."""

    __tablename__ = "roster_sources"

    school_id: uuid.UUID = school_key()
    org_sourced_id: str = Field(max_length=255)
    set_by: uuid.UUID | None = uuid_ref(nullable=True)
    set_at: datetime = timestamp(nullable=False)


class Term(SQLModel, table=True):
    """An academic session (OneRoster ``academicSessions``): school year, semester, term, grading period."""

    __tablename__ = "terms"
    __table_args__ = (
        UniqueConstraint("school_id", "source_id"),
        CheckConstraint(f"type IN {TERM_TYPES}", name="type"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    source_id: str = Field(max_length=255)
    title: str = Field(max_length=200)
    type: str = Field(max_length=16)
    start_date: date = day(nullable=False)
    end_date: date = day(nullable=False)
    parent_source_id: str | None = Field(default=None, max_length=255)
    school_year: int | None = None
    active: bool = True
    created_at: datetime = created_at()
    updated_at: datetime | None = timestamp()


class GroupTerm(SQLModel, table=True):
    """A class runs in a term (OneRoster ``classes.termSourcedIds``)."""

    __tablename__ = "group_terms"
    __table_args__ = (
        tenant_fk(["group_id"], "groups", ondelete="CASCADE"),
        tenant_fk(["term_id"], "terms", ondelete="CASCADE"),
        Index("ix_group_terms_school_id_term_id", "school_id", "term_id"),
    )

    school_id: uuid.UUID = school_key()
    group_id: uuid.UUID = Field(primary_key=True)
    term_id: uuid.UUID = Field(primary_key=True)


class PupilExtendedData(SQLModel, table=True):
    """LL-S1 optional data, kept only while the school has opted in (LL-A 3.2). None: not known."""

    __tablename__ = "pupil_extended_data"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(f"sen_status IS NULL OR sen_status IN {SEN_STATUSES}", name="sen_status"),
    )

    school_id: uuid.UUID = school_key()
    pupil_id: uuid.UUID = Field(primary_key=True)
    lea_care: bool | None = None
    """Looked after by the local authority."""
    sen_status: str | None = Field(default=None, max_length=1)
    """DfE SEN provision: N none, K SEN support, E EHC plan, S statement (legacy)."""
    pupil_premium: bool | None = None
    eal: bool | None = None
    """English as an additional language."""
    updated_at: datetime = timestamp(nullable=False)


class ExtendedDataOptIn(SQLModel, table=True):
    """The school's extended-data setting (LL-A 3.2): who approved or revoked it, and when."""

    __tablename__ = "extended_data_opt_ins"

    school_id: uuid.UUID = school_key()
    enabled: bool = False
    approved_by: uuid.UUID | None = uuid_ref(nullable=True)
    approved_by_name: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = timestamp()
    revoked_by: uuid.UUID | None = uuid_ref(nullable=True)
    revoked_by_name: str | None = Field(default=None, max_length=200)
    revoked_at: datetime | None = timestamp()


class ActivationCode(SQLModel, table=True):
    """A one-time code for activating a PENDING account; only its SHA-256 is stored."""

    __tablename__ = "activation_codes"
    __table_args__ = (
        tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),
        UniqueConstraint("school_id", "code_hash"),
        Index("ix_activation_codes_school_id_account_id", "school_id", "account_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    code_hash: bytes = Field(sa_type=LargeBinary)
    issued_by: uuid.UUID | None = uuid_ref(nullable=True)
    issued_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    used_at: datetime | None = timestamp()
    revoked_at: datetime | None = timestamp()


__all__ = [
    "ActivationCode",
    "ExtendedDataOptIn",
    "GroupTerm",
    "PupilExtendedData",
    "RosterImport",
    "RosterSource",
    "Term",
]

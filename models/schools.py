"""Trusts, schools (the tenants) and the effective-dated school-to-trust membership."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Identity, Index, text
from sqlmodel import Field, SQLModel

from models.base import created_at, day, id_field, timestamp, uuid_ref

TRUST_KINDS = ("MULTI_ACADEMY_TRUST", "SINGLE_ACADEMY_TRUST", "LOCAL_AUTHORITY")
SCHOOL_PHASES = (
    "NURSERY",
    "PRIMARY",
    "MIDDLE",
    "SECONDARY",
    "ALL_THROUGH",
    "SPECIAL",
    "ALTERNATIVE_PROVISION",
)
SCHOOL_STATUSES = ("ACTIVE", "SUSPENDED", "TERMINATED")


class Trust(SQLModel, table=True):
    """An organisation that holds schools: a multi-academy trust, a single-academy trust or a local authority."""

    __tablename__ = "trusts"
    __table_args__ = (CheckConstraint(f"kind IN {TRUST_KINDS}", name="kind"),)

    id: uuid.UUID = id_field()
    slug: str = Field(unique=True, max_length=63)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    created_at: datetime = created_at()


class School(SQLModel, table=True):
    """A school: the tenant. Its ``id`` is every tenant row's ``school_id`` and never changes."""

    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint(f"phase IN {SCHOOL_PHASES}", name="phase"),
        CheckConstraint(f"status IN {SCHOOL_STATUSES}", name="status"),
        CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug_format"),
        CheckConstraint("urn IS NULL OR urn ~ '^[0-9]{6,7}$'", name="urn_format"),
    )

    id: uuid.UUID = id_field()
    slug: str = Field(unique=True, max_length=63)
    urn: str | None = Field(default=None, unique=True, max_length=7)
    name: str = Field(max_length=200)
    phase: str = Field(max_length=32)
    status: str = Field(default="ACTIVE", max_length=16)
    status_reason: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_at()
    principal_epoch: int = Field(
        default=0, sa_type=BigInteger, nullable=False, sa_column_kwargs={"server_default": text("0")}
    )
    """Raised by the database as each write to a table a principal is read from commits (migration 0033):
    a server keeps a caller's principal while this and the caller's account and session rows are unchanged
    (``auth.kept``). Written by those triggers only."""


class PrincipalEpochRaise(SQLModel, table=True):
    """A school whose principal epoch its writer's commit raises (NULL: every school), noted by the
    statement-level triggers of migration 0033 and removed by the deferred trigger that raises it, in the
    same transaction: no other transaction ever sees a row."""

    __tablename__ = "principal_epoch_raises"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    school: uuid.UUID | None = Field(default=None)


class SchoolTrustMembership(SQLModel, table=True):
    """A school belongs to a trust from ``effective_from`` until the day before ``effective_to``.

    A novation ends one row and adds another; no tenant data moves. At most one row is open at any date
    (an exclusion constraint would need btree_gist; the services keep the rows contiguous and a partial
    unique index keeps at most one open-ended row per school).
    """

    __tablename__ = "school_trust_memberships"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to > effective_from", name="dates"),
        Index(
            "uq_school_trust_memberships_open",
            "school_id",
            unique=True,
            postgresql_where=text("effective_to IS NULL"),
        ),
    )

    school_id: uuid.UUID = Field(primary_key=True, foreign_key="schools.id")
    id: uuid.UUID = id_field()
    trust_id: uuid.UUID = Field(foreign_key="trusts.id")
    effective_from: date = day(nullable=False)
    effective_to: date | None = day()
    created_at: datetime = created_at()
    ended_at: datetime | None = timestamp()
    created_by: uuid.UUID | None = uuid_ref(nullable=True)

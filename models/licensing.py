"""The commercial and contractual record: licences and the schools they cover, invoices, novations,
suspensions and destruction records. All global (reference) tables.

A global table that names a school calls the column ``tenant_id``, never ``school_id``: ``school_id`` marks a
tenant row (row-level security, destroyed with its school), while these records must outlive the school's
data: the licence history and the destruction record are what is left to show after a termination
(docs/adr/0008-licensing-records.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# The platform's own tables live in models/platform.py; importing it here registers them with the metadata
# (models/__init__.py imports this module for the licensing capability).
from models import platform  # noqa: F401
from models.base import created_at, day, id_field, timestamp, uuid_ref

LICENCE_STATUSES = ("ACTIVE", "ENDED", "NOVATED", "TERMINATED")
NOVATION_REASONS = ("CONVERSION_TO_ACADEMY", "TRUST_TRANSFER")
NOVATION_STATUSES = ("PROPOSED", "ACCEPTED", "APPLIED", "WITHDRAWN", "REJECTED")
OPEN_NOVATION = ("PROPOSED", "ACCEPTED")
SUSPENSION_REASONS = ("SECURITY_BREACH", "DATA_BREACH")
DESTRUCTION_STATUSES = ("PENDING", "DESTROYED")
PARTY_TYPES = ("OPERATOR", "TRUST_ADMIN", "SYSTEM")


class Licence(SQLModel, table=True):
    """A licence: a licensee (a trust or local authority for named schools, or a school for itself), a term
    that renews every year unless cancelled 90 days before (LL 15.1), and an annual fee.

    ``term_end`` is the next renewal date. A novation (LL 20) ends the school's cover here and starts a new
    licence for the successor that names this one in ``novated_from_id``.
    """

    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint(f"status IN {LICENCE_STATUSES}", name="status"),
        CheckConstraint("(licensee_trust_id IS NULL) <> (licensee_tenant_id IS NULL)", name="one_licensee"),
        CheckConstraint("term_end > term_start", name="term"),
        CheckConstraint(
            "annual_fee_pence >= 0 AND (next_fee_pence IS NULL OR next_fee_pence >= 0)", name="fees"
        ),
        Index("ix_licences_licensee_trust_id", "licensee_trust_id"),
        Index("ix_licences_term_end_active", "term_end", postgresql_where=text("status = 'ACTIVE'")),
    )

    id: uuid.UUID = id_field()
    reference: str = Field(unique=True, max_length=32)
    licensee_trust_id: uuid.UUID | None = Field(default=None, foreign_key="trusts.id", nullable=True)
    licensee_tenant_id: uuid.UUID | None = Field(default=None, foreign_key="schools.id", nullable=True)
    licensee_name: str = Field(max_length=200)
    terms_version: str = Field(max_length=32)
    term_start: date = day(nullable=False)
    term_end: date = day(nullable=False)
    auto_renew: bool = True
    renewals: int = 0
    annual_fee_pence: int = Field(sa_type=BigInteger)
    next_fee_pence: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    next_fee_notified_on: date | None = day()
    cancellation_received_on: date | None = day()
    renewal_notice_for: date | None = day()
    """The ``term_end`` whose renewal notice (LL 15.1, LL 15.2) has been queued: one notice per term."""
    status: str = Field(default="ACTIVE", max_length=16)
    ended_on: date | None = day()
    novated_from_id: uuid.UUID | None = Field(default=None, foreign_key="licences.id", nullable=True)
    created_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()


class LicenceSchool(SQLModel, table=True):
    """A school covered by a licence from ``covered_from`` until the day before ``covered_to``."""

    __tablename__ = "licence_schools"
    __table_args__ = (
        CheckConstraint("covered_to IS NULL OR covered_to > covered_from", name="dates"),
        Index("ix_licence_schools_tenant_id", "tenant_id"),
    )

    licence_id: uuid.UUID = Field(primary_key=True, foreign_key="licences.id")
    tenant_id: uuid.UUID = Field(primary_key=True, foreign_key="schools.id")
    covered_from: date = day(nullable=False)
    covered_to: date | None = day()


class Invoice(SQLModel, table=True):
    """An invoice of a licence. Unpaid past ``due_on``, every covered school is refused (LL 15.4)."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount_pence >= 0", name="amount"),
        CheckConstraint("period_end > period_start", name="period"),
        Index("ix_invoices_licence_id", "licence_id"),
        Index("ix_invoices_unpaid_due_on", "due_on", postgresql_where=text("paid_on IS NULL")),
    )

    id: uuid.UUID = id_field()
    licence_id: uuid.UUID = Field(foreign_key="licences.id")
    number: str = Field(unique=True, max_length=32)
    period_start: date = day(nullable=False)
    period_end: date = day(nullable=False)
    amount_pence: int = Field(sa_type=BigInteger)
    issued_on: date = day(nullable=False)
    due_on: date = day(nullable=False)
    paid_on: date | None = day()
    payment_reference: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at()


class Novation(SQLModel, table=True):
    """A school changing trust (LL 20: conversion to academy, or an academy moving between trusts).

    Proposed by an operator or the outgoing trust (LL 7.1.16), accepted by the successor trust (recording
    its acceptance of the licence terms), applied on ``effective_date``: the membership switches and the
    licence is novated. No tenant data moves; ``school_id``, users and URL stay as they are.
    """

    __tablename__ = "novations"
    __table_args__ = (
        CheckConstraint(f"status IN {NOVATION_STATUSES}", name="status"),
        CheckConstraint(f"reason IN {NOVATION_REASONS}", name="reason"),
        CheckConstraint(f"proposed_by_type IN {PARTY_TYPES}", name="proposed_by_type"),
        CheckConstraint("from_trust_id IS DISTINCT FROM to_trust_id", name="moves"),
        Index(
            "uq_novations_open_tenant_id",
            "tenant_id",
            unique=True,
            postgresql_where=text("status IN ('PROPOSED', 'ACCEPTED')"),
        ),
        Index("ix_novations_from_trust_id", "from_trust_id"),
        Index("ix_novations_to_trust_id", "to_trust_id"),
        Index("ix_novations_due", "effective_date", postgresql_where=text("status = 'ACCEPTED'")),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="schools.id")
    from_trust_id: uuid.UUID | None = Field(default=None, foreign_key="trusts.id", nullable=True)
    to_trust_id: uuid.UUID = Field(foreign_key="trusts.id")
    reason: str = Field(max_length=32)
    effective_date: date = day(nullable=False)
    status: str = Field(default="PROPOSED", max_length=16)
    note: str | None = Field(default=None, max_length=500)
    proposed_by_type: str = Field(max_length=16)
    proposed_by: uuid.UUID | None = uuid_ref(nullable=True)
    proposed_at: datetime = timestamp(nullable=False)
    accepted_by: uuid.UUID | None = uuid_ref(nullable=True)
    accepted_at: datetime | None = timestamp()
    accepted_terms_version: str | None = Field(default=None, max_length=32)
    closed_by_type: str | None = Field(default=None, max_length=16)
    closed_by: uuid.UUID | None = uuid_ref(nullable=True)
    closed_at: datetime | None = timestamp()
    close_reason: str | None = Field(default=None, max_length=500)
    applied_at: datetime | None = timestamp()
    old_licence_id: uuid.UUID | None = Field(default=None, foreign_key="licences.id", nullable=True)
    new_licence_id: uuid.UUID | None = Field(default=None, foreign_key="licences.id", nullable=True)


class Suspension(SQLModel, table=True):
    """A school suspended on a security or personal-data breach (LL-A 9.1): up to 30 days unless agreed longer."""

    __tablename__ = "suspensions"
    __table_args__ = (
        CheckConstraint(f"reason IN {SUSPENSION_REASONS}", name="reason"),
        CheckConstraint("ends_at > starts_at", name="period"),
        CheckConstraint(
            "agreed_longer OR ends_at <= starts_at + interval '30 days'", name="thirty_days_unless_agreed"
        ),
        CheckConstraint("NOT agreed_longer OR agreement IS NOT NULL", name="agreement_recorded"),
        Index(
            "uq_suspensions_open_tenant_id",
            "tenant_id",
            unique=True,
            postgresql_where=text("lifted_at IS NULL"),
        ),
        Index("ix_suspensions_due", "ends_at", postgresql_where=text("lifted_at IS NULL")),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="schools.id")
    reason: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=500)
    starts_at: datetime = timestamp(nullable=False)
    ends_at: datetime = timestamp(nullable=False)
    agreed_longer: bool = False
    agreement: str | None = Field(default=None, max_length=500)
    sessions_revoked: int = 0
    created_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()
    lifted_at: datetime | None = timestamp()
    lifted_by: uuid.UUID | None = uuid_ref(nullable=True)
    lift_reason: str | None = Field(default=None, max_length=16)


class DestructionRecord(SQLModel, table=True):
    """The record kept when a terminated school's data is exported and destroyed (LL 5.1.3, LL-A 9.3):
    what (row counts per table, the export file and its SHA-256), when, who asked for it."""

    __tablename__ = "destruction_records"
    __table_args__ = (
        CheckConstraint(f"status IN {DESTRUCTION_STATUSES}", name="status"),
        CheckConstraint("handover IS NULL OR handover IN ('RETURN', 'DELETE')", name="handover"),
        Index("ix_destruction_records_due", "destroy_on", postgresql_where=text("status = 'PENDING'")),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="schools.id", unique=True)
    school_slug: str = Field(max_length=63)
    school_name: str = Field(max_length=200)
    reason: str = Field(max_length=64)
    requested_by: uuid.UUID | None = uuid_ref(nullable=True)
    requested_at: datetime = timestamp(nullable=False)
    destroy_on: date = day(nullable=False)
    status: str = Field(default="PENDING", max_length=16)
    export_path: str | None = Field(default=None, max_length=500)
    export_sha256: str | None = Field(default=None, max_length=64)
    export_bytes: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    destroyed_at: datetime | None = timestamp()
    row_counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    total_rows: int = Field(default=0, sa_type=BigInteger)
    # The handover (LL 5.1.3, LL-A 9.3): the school's trust admins choose RETURN or DELETE; a returned
    # export is released encrypted (the password shown once) and downloadable until ``return_until``; then
    # every copy is purged and ``copies_purged_at`` says when.
    trust_id: uuid.UUID | None = Field(default=None, foreign_key="trusts.id", nullable=True)
    handover: str | None = Field(default=None, max_length=8)
    handover_by: uuid.UUID | None = uuid_ref(nullable=True)
    handover_at: datetime | None = timestamp()
    return_until: date | None = day()
    archive_sha256: str | None = Field(default=None, max_length=64)
    released_at: datetime | None = timestamp()
    copies_purged_at: datetime | None = timestamp()
    sealed_password: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    """The archive's password sealed under the server's export key from destruction to release, then
    cleared (``privacy.exporter.seal``)."""
    credential_hash: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    """The SHA-256 of the handover credential a Super-User of the school was given in advance (copied from
    ``termination_preferences`` at termination): its holder releases and downloads the export; cleared
    when the copies are purged."""
    credential_holder: uuid.UUID | None = uuid_ref(nullable=True)
    """The Super-User's account the credential was issued to (the account itself goes with the data)."""


__all__ = [
    "DestructionRecord",
    "Invoice",
    "Licence",
    "LicenceSchool",
    "Novation",
    "Suspension",
]

"""Consent records for pupils (LL 6.3.2, LL 6.3.3), and who owes their own consent since turning 13.

``pupil_consents`` holds every consent ever given for a pupil's data to be processed, and its withdrawal:
rows are never updated except to record a withdrawal, and never deleted here, so the table is the history.
A consent is *current* while ``withdrawn_at`` is NULL; at most one current consent per pupil and giver
(``PARENT``: a parent or carer for a child, ``PUPIL``: the pupil's own, from 13).

Who consented is the contact (``contact_id``) for a parent's consent, the pupil for their own. How:
``DIGITAL`` (given by the parent's or pupil's own account, ``account_id``) or ``PAPER`` (a form recorded by
a school admin, ``account_id``, with ``evidence_reference`` naming the form). For what: the purposes of the
privacy notice in force, by version (``notice_version``, ``purposes``).

``own_consent_due`` lists the pupils the scheduled job found aged 13 or over (LL 6.3.3): such a pupil must
give their own consent at their next sign-in, unless a school admin recorded that a parent necessarily stays
responsible (``parent_responsible_*``), which keeps the parent's consent in force for them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import String
from sqlmodel import Field, SQLModel

from models.base import day, id_field, school_key, tenant_fk, timestamp, uuid_ref

CONSENT_GIVERS = ("PARENT", "PUPIL")
CONSENT_METHODS = ("DIGITAL", "PAPER")
EVIDENCE_REFERENCE_MAX = 100
WITHDRAWAL_REASON_MAX = 200


class PupilConsent(SQLModel, table=True):
    """One consent for one pupil, from its giving to its withdrawal (if any)."""

    __tablename__ = "pupil_consents"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        tenant_fk(["contact_id"], "contacts"),
        CheckConstraint(f"given_by IN {CONSENT_GIVERS}", name="given_by"),
        CheckConstraint(f"method IN {CONSENT_METHODS}", name="method"),
        CheckConstraint("(given_by = 'PARENT') = (contact_id IS NOT NULL)", name="parent_names_contact"),
        CheckConstraint("(method = 'PAPER') = (evidence_reference IS NOT NULL)", name="paper_has_evidence"),
        CheckConstraint("withdrawn_at IS NULL OR withdrawn_at >= recorded_at", name="withdrawn_after"),
        Index(
            "uq_pupil_consents_current",
            "school_id",
            "pupil_id",
            "given_by",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_pupil_consents_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = uuid_ref()
    given_by: str = Field(max_length=8)
    contact_id: uuid.UUID | None = uuid_ref(nullable=True)
    """The parent or carer who consented (``given_by = 'PARENT'``)."""
    method: str = Field(max_length=8)
    account_id: uuid.UUID = uuid_ref()
    """Who recorded it: the consenting parent's or pupil's own account, or the school admin for paper."""
    evidence_reference: str | None = Field(default=None, max_length=EVIDENCE_REFERENCE_MAX)
    notice_version: str = Field(max_length=40)
    purposes: list[str] = Field(sa_type=ARRAY(String(40)))
    given_on: date = day(nullable=False)
    """The date of the consent: the school's date when given digitally, the form's date on paper."""
    recorded_at: datetime = timestamp(nullable=False)
    withdrawn_at: datetime | None = timestamp()
    withdrawn_by: uuid.UUID | None = uuid_ref(nullable=True)
    withdrawal_reason: str | None = Field(default=None, max_length=WITHDRAWAL_REASON_MAX)


class OwnConsentDue(SQLModel, table=True):
    """A pupil found aged 13 or over by the scheduled job, from then on owing their own consent."""

    __tablename__ = "own_consent_due"
    __table_args__ = (tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),)

    school_id: uuid.UUID = school_key()
    pupil_id: uuid.UUID = Field(primary_key=True)
    flagged_at: datetime = timestamp(nullable=False)
    parent_responsible_reason: str | None = Field(default=None, max_length=WITHDRAWAL_REASON_MAX)
    """Why a parent necessarily stays responsible (LL 6.3.3's exception), as a school admin recorded it."""
    parent_responsible_by: uuid.UUID | None = uuid_ref(nullable=True)
    parent_responsible_at: datetime | None = timestamp()


ERASABLE_SUBJECTS = ("PUPIL", "STAFF", "CONTACT")
ERASURE_REASON_MAX = 500
REQUEST_CHANNELS = ("ADMIN", "SELF")
REQUEST_STATUSES = ("OPEN", "READY", "RELEASED", "PURGED")
RESTRICTION_KINDS = ("RESTRICTION", "OBJECTION")


class ErasureRecord(SQLModel, table=True):
    """A person erased (LL 5.1.6): what, why, who, and how many rows, under a pseudonymous reference only.

    ``reference`` is a fresh id that replaces the person wherever another record must keep a link
    (``privacy.registry.Erase.PSEUDONYMISE``); ``subject_digest`` (SHA-256 of the school and the person's id)
    lets a second erasure of the same person be refused without keeping the id itself. ``files_pending``
    are the stored files' keys, removed from the store after the commit (the ``erasure_files`` jobs step).
    """

    __tablename__ = "erasure_records"
    __table_args__ = (
        CheckConstraint(f"subject_type IN {ERASABLE_SUBJECTS}", name="subject_type"),
        Index("uq_erasure_records_school_id_subject_digest", "school_id", "subject_digest", unique=True),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    subject_type: str = Field(max_length=16)
    reference: uuid.UUID = uuid_ref()
    subject_digest: str = Field(max_length=64)
    reason: str = Field(max_length=ERASURE_REASON_MAX)
    erased_by: uuid.UUID | None = uuid_ref(nullable=True)
    erased_at: datetime = timestamp(nullable=False)
    row_counts: dict[str, int] = Field(default_factory=dict, sa_type=JSONB)
    total_rows: int = 0
    files_pending: list[str] = Field(default_factory=list, sa_type=ARRAY(String(200)))
    files_deleted_at: datetime | None = timestamp()


class SubjectAccessRequest(SQLModel, table=True):
    """A subject access request (LL 5.1.1, LL-S2 (xii)): opened by a school admin, or by a parent or a pupil
    of 13+ for themself; due a calendar month after it was opened.

    OPEN: in the admins' queue until the ``subject_access`` jobs step builds the export (READY, staged in the
    store). RELEASED: an admin released it, encrypted with a password shown to them once and never stored
    (LRS 6.8), downloadable until ``expires_at``. PURGED: the archive is gone (7 days after release).
    """

    __tablename__ = "subject_access_requests"
    __table_args__ = (
        CheckConstraint(f"subject_type IN {ERASABLE_SUBJECTS}", name="subject_type"),
        CheckConstraint(f"channel IN {REQUEST_CHANNELS}", name="channel"),
        CheckConstraint(f"status IN {REQUEST_STATUSES}", name="status"),
        Index("ix_subject_access_requests_school_id_status", "school_id", "status"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    subject_type: str = Field(max_length=16)
    subject_id: uuid.UUID = uuid_ref()
    channel: str = Field(max_length=8)
    requested_by: uuid.UUID = uuid_ref()
    opened_at: datetime = timestamp(nullable=False)
    due_on: date = day(nullable=False)
    status: str = Field(default="OPEN", max_length=16)
    built_at: datetime | None = timestamp()
    staged_key: str | None = Field(default=None, max_length=200)
    released_by: uuid.UUID | None = uuid_ref(nullable=True)
    released_at: datetime | None = timestamp()
    archive_key: str | None = Field(default=None, max_length=200)
    archive_sha256: str | None = Field(default=None, max_length=64)
    archive_bytes: int | None = None
    expires_at: datetime | None = timestamp()
    downloads: int = 0
    purged_at: datetime | None = timestamp()
    sealed_password: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    """The archive's password sealed under the server's export key from build to release, then cleared
    (``privacy.exporter.seal``): never stored once shown."""


class ProcessingRestriction(SQLModel, table=True):
    """A restriction of a person's processing (LL-S2 (xiii)) or their objection to statistical use (LL-A
    5.2), in force while ``lifted_at`` is NULL; kept after it is lifted, as the history."""

    __tablename__ = "processing_restrictions"
    __table_args__ = (
        CheckConstraint(f"subject_type IN {ERASABLE_SUBJECTS}", name="subject_type"),
        CheckConstraint(f"kind IN {RESTRICTION_KINDS}", name="kind"),
        Index(
            "uq_processing_restrictions_current",
            "school_id",
            "subject_id",
            "kind",
            unique=True,
            postgresql_where=text("lifted_at IS NULL"),
        ),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    subject_type: str = Field(max_length=16)
    subject_id: uuid.UUID = uuid_ref()
    kind: str = Field(max_length=16)
    reason: str = Field(max_length=ERASURE_REASON_MAX)
    started_by: uuid.UUID = uuid_ref()
    started_at: datetime = timestamp(nullable=False)
    lifted_by: uuid.UUID | None = uuid_ref(nullable=True)
    lifted_at: datetime | None = timestamp()


HANDOVER_CHOICES = ("RETURN", "DELETE")


class TerminationPreference(SQLModel, table=True):
    """What a school's Super-User chose, in advance, for its data at termination (LL 5.1.3): RETURN or
    DELETE. Termination copies it onto the destruction record (where the trust's admins may change it).

    Choosing RETURN issues a handover credential, shown once to that Super-User and kept here only as its
    SHA-256: with it they release and download the termination export once the school's accounts are gone
    (``subscriptions.handover``). Choosing again issues a new one (the old one stops working); DELETE
    clears it."""

    __tablename__ = "termination_preferences"
    __table_args__ = (CheckConstraint(f"choice IN {HANDOVER_CHOICES}", name="choice"),)

    school_id: uuid.UUID = school_key()
    choice: str = Field(max_length=8)
    chosen_by: uuid.UUID | None = uuid_ref(nullable=True)
    chosen_at: datetime = timestamp(nullable=False)
    credential_hash: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    credential_issued_at: datetime | None = timestamp()


class RetentionPeriod(SQLModel, table=True):
    """A school's tightening of one retention rule (LL-S2 (v)): ``days`` instead of the platform's default
    for ``rule`` (a registry table's rule, or ``leavers``), never longer than the default nor shorter than the
    rule's floor (``privacy.retention.TIGHTENABLE``). No row: the platform's default."""

    __tablename__ = "retention_periods"
    __table_args__ = (CheckConstraint("days > 0", name="days"),)

    school_id: uuid.UUID = school_key()
    rule: str = Field(primary_key=True, max_length=32)
    days: int
    set_by: uuid.UUID | None = uuid_ref(nullable=True)
    set_at: datetime = timestamp(nullable=False)

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

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.dialects.postgresql import ARRAY
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

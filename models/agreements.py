"""Versioned documents users and schools accept (LL 21, LRS 3, LL 3.1, LRS 1.1), their acceptances, and the
notices inbox's read marks (LL 6.2).

``policy_documents`` is the platform's: operators publish a version of a kind with the instant it takes
effect (``effective_from``, UTC) and a summary of what changed. A document is never edited or withdrawn:
a new version supersedes it. The *current* version of a kind is the newest whose ``effective_from`` has
passed; a newer one published with a later date is *upcoming* (it can be read and accepted at once, and
binds from its date).

Who accepts which kind (``ACCEPTED_BY``): the licence terms are accepted for the school by one of its
Super-Users; the privacy notice and acceptable use policy by every user, a parent (or, from a paper form,
a school admin) accepting for a pupil under 13; the Learning Records Service user agreement by every user
before any ULN or learner record is shown to them.

``document_acceptances`` (a tenant table) keeps every acceptance: who (``account_id``), which version, when,
on behalf of which pupil, and for an acceptance recorded from a paper form, the form's reference. Rows are
never updated or deleted by the runtime role: the table is the history.

``notice_reads`` marks a notice read. The inbox itself is derived (every current or upcoming document its
reader must know of), so publishing writes one row, not one per user of every school.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import id_field, school_key, tenant_fk, timestamp, uuid_ref

LICENCE_TERMS = "LICENCE_TERMS"
PRIVACY_NOTICE = "PRIVACY_NOTICE"
ACCEPTABLE_USE = "ACCEPTABLE_USE"
LRS_AGREEMENT = "LRS_AGREEMENT"
DOCUMENT_KINDS = (LICENCE_TERMS, PRIVACY_NOTICE, ACCEPTABLE_USE, LRS_AGREEMENT)
USER_POLICIES = (PRIVACY_NOTICE, ACCEPTABLE_USE)
"""Accepted by every user before anything else works (LL 3.1)."""

VERSION_MAX = 40
TITLE_MAX = 200
SUMMARY_MAX = 2000
BODY_MAX = 200_000
EVIDENCE_REFERENCE_MAX = 100


class PolicyDocument(SQLModel, table=True):
    """One published version of a document; never changed once published."""

    __tablename__ = "policy_documents"
    __table_args__ = (
        CheckConstraint(f"kind IN {DOCUMENT_KINDS}", name="kind"),
        CheckConstraint(
            "effective_from >= published_at - interval '1 day'", name="effective_after_publishing"
        ),
        UniqueConstraint("kind", "version"),
        Index("ix_policy_documents_kind_effective", "kind", "effective_from"),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=16)
    version: str = Field(max_length=VERSION_MAX)
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(sa_type=Text)
    summary_of_changes: str = Field(max_length=SUMMARY_MAX)
    effective_from: datetime = timestamp(nullable=False)
    published_at: datetime = timestamp(nullable=False)
    published_by: uuid.UUID | None = uuid_ref(nullable=True)
    """The operator account that published it (None: seeded by the demo or a command)."""


class DocumentAcceptance(SQLModel, table=True):
    """One account's acceptance of one version, for itself, for its school or for a pupil under 13."""

    __tablename__ = "document_acceptances"
    __table_args__ = (
        tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),
        tenant_fk(["on_behalf_of_pupil_id"], "pupils", ondelete="CASCADE"),
        Index(
            "uq_document_acceptances_own",
            "school_id",
            "account_id",
            "document_id",
            unique=True,
            postgresql_where=text("on_behalf_of_pupil_id IS NULL"),
        ),
        Index(
            "uq_document_acceptances_on_behalf",
            "school_id",
            "on_behalf_of_pupil_id",
            "document_id",
            unique=True,
            postgresql_where=text("on_behalf_of_pupil_id IS NOT NULL"),
        ),
        CheckConstraint(
            "evidence_reference IS NULL OR on_behalf_of_pupil_id IS NOT NULL", name="evidence_is_for_a_pupil"
        ),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    document_id: uuid.UUID = Field(foreign_key="policy_documents.id")
    account_id: uuid.UUID = uuid_ref()
    """Who accepted: the user themselves, a Super-User for the school, a parent, or an admin from paper."""
    on_behalf_of_pupil_id: uuid.UUID | None = uuid_ref(nullable=True)
    evidence_reference: str | None = Field(default=None, max_length=EVIDENCE_REFERENCE_MAX)
    """The paper form an admin recorded the parent's acceptance from."""
    accepted_at: datetime = timestamp(nullable=False)


class NoticeRead(SQLModel, table=True):
    """An account read the notice of a document (LL 6.2): the inbox shows it as read from then on."""

    __tablename__ = "notice_reads"
    __table_args__ = (tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),)

    school_id: uuid.UUID = school_key()
    account_id: uuid.UUID = Field(primary_key=True, sa_type=UUID(as_uuid=True))
    document_id: uuid.UUID = Field(primary_key=True, foreign_key="policy_documents.id")
    read_at: datetime = timestamp(nullable=False)

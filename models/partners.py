"""Integration partners (issue 14): OAuth2 clients registered by the operator, approved per school with scopes.

Global tables (reference data, no ``school_id``): ``partners`` (the organisation and the scopes it may ask
for), ``partner_secrets`` (client secrets, stored only as argon2 hashes; a rotated one keeps working until
``expires_at``, the overlap window), ``partner_keys`` (public JWKs for ``private_key_jwt``, RFC 7523),
``partner_assertions`` (the ``jti`` of client assertions already used, so one cannot be replayed) and
``partner_rate_windows`` (the per-client request counter of the rate limit). ``roster_change_heads`` (tenant)
was each school's change-version sequencer for the roster change feed (until migration 0015).

Tenant tables: ``change_tombstones`` and ``change_purge_horizons`` (the change feed's deletions, and the
newest of them purged), ``partner_approvals`` (a school's approval of a partner, with the subset of scopes
it granted, and its revocation) and ``partner_tokens`` (each access token issued: its id, scopes and
expiry, never the token itself; a token is honoured only while its row is unrevoked and its approval is in
force).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.types import String
from sqlmodel import Field, SQLModel

from models.base import change_version, created_at, id_field, school_key, tenant_fk, timestamp, uuid_ref

PARTNER_STATUSES = ("ACTIVE", "DISABLED")
SCOPE_MAX = 40


class Partner(SQLModel, table=True):
    """An integration partner (an MIS extractor, a learning app): one OAuth2 client."""

    __tablename__ = "partners"
    __table_args__ = (CheckConstraint(f"status IN {PARTNER_STATUSES}", name="status"),)

    id: uuid.UUID = id_field()
    client_id: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    privacy_notice_url: str = Field(max_length=500)
    allowed_scopes: list[str] = Field(sa_type=ARRAY(String(SCOPE_MAX)))
    status: str = Field(default="ACTIVE", max_length=16)
    created_at: datetime = created_at()


class PartnerSecret(SQLModel, table=True):
    """A client secret, as its argon2 hash. ``expires_at``: set when a newer secret replaced it."""

    __tablename__ = "partner_secrets"
    __table_args__ = (
        ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE"),
        Index("ix_partner_secrets_partner_id", "partner_id"),
    )

    id: uuid.UUID = id_field()
    partner_id: uuid.UUID = uuid_ref()
    secret_hash: str = Field(max_length=200)
    created_at: datetime = created_at()
    expires_at: datetime | None = timestamp()


class PartnerKey(SQLModel, table=True):
    """A partner's public JWK for ``private_key_jwt`` client authentication (RFC 7523)."""

    __tablename__ = "partner_keys"
    __table_args__ = (
        ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE"),
        Index("uq_partner_keys_partner_id_kid", "partner_id", "kid", unique=True),
    )

    id: uuid.UUID = id_field()
    partner_id: uuid.UUID = uuid_ref()
    kid: str = Field(max_length=100)
    jwk: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = created_at()
    revoked_at: datetime | None = timestamp()


class PartnerAssertion(SQLModel, table=True):
    """A client assertion's ``jti``, remembered until the assertion expires: a replay is refused."""

    __tablename__ = "partner_assertions"
    __table_args__ = (ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE"),)

    partner_id: uuid.UUID = Field(primary_key=True, sa_type=UUID(as_uuid=True))
    jti: str = Field(primary_key=True, max_length=200)
    expires_at: datetime = timestamp(nullable=False)


class PartnerRateWindow(SQLModel, table=True):
    """How many requests a partner made in the current fixed window (the per-client rate limit)."""

    __tablename__ = "partner_rate_windows"
    __table_args__ = (ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE"),)

    partner_id: uuid.UUID = Field(primary_key=True, sa_type=UUID(as_uuid=True))
    window_started_at: datetime = timestamp(nullable=False)
    requests: int = 0


class PartnerApproval(SQLModel, table=True):
    """A school's approval of a partner with a subset of its scopes; at most one in force per partner."""

    __tablename__ = "partner_approvals"
    __table_args__ = (
        ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        Index(
            "uq_partner_approvals_current",
            "school_id",
            "partner_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= approved_at", name="revoked_after"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    partner_id: uuid.UUID = uuid_ref()
    scopes: list[str] = Field(sa_type=ARRAY(String(SCOPE_MAX)))
    approved_at: datetime = timestamp(nullable=False)
    approved_by: uuid.UUID | None = uuid_ref(nullable=True)
    """The school admin's account (None: seeded by the demo)."""
    revoked_at: datetime | None = timestamp()
    revoked_by: uuid.UUID | None = uuid_ref(nullable=True)


class PartnerToken(SQLModel, table=True):
    """An access token issued to a partner for one school: its id (the token's ``sid``), never its value."""

    __tablename__ = "partner_tokens"
    __table_args__ = (
        tenant_fk(["approval_id"], "partner_approvals"),
        Index("ix_partner_tokens_school_id_partner_id", "school_id", "partner_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    partner_id: uuid.UUID = uuid_ref()
    approval_id: uuid.UUID = uuid_ref()
    scopes: list[str] = Field(sa_type=ARRAY(String(SCOPE_MAX)))
    issued_at: datetime = timestamp(nullable=False)
    expires_at: datetime = timestamp(nullable=False)
    revoked_at: datetime | None = timestamp()


TOMBSTONE_COLLECTIONS = ("users", "classes", "judgements", "achievements")


class ChangeTombstone(SQLModel, table=True):
    """A deleted object of the partners' change feed (migration 0017): its collection, sourcedId and the
    version and time of its deletion, written by the fed tables' ``record_change_tombstone`` trigger; no
    name, no data. ``pupil_id`` names the pupil of a deleted judgement or achievement while the pupil
    exists (a restriction hides it); purged 30 days after the deletion (the retention step)."""

    __tablename__ = "change_tombstones"
    __table_args__ = (
        CheckConstraint(f"collection IN {TOMBSTONE_COLLECTIONS}", name="collection"),
        Index("ix_change_tombstones_school_id_changed_version", "school_id", "changed_version"),
        Index("ix_change_tombstones_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    collection: str = Field(primary_key=True, max_length=16)
    sourced_id: str = Field(primary_key=True, sa_type=Text)
    changed_version: int | None = change_version()
    deleted_at: datetime = created_at()
    pupil_id: uuid.UUID | None = uuid_ref(nullable=True)


class ChangePurgeHorizon(SQLModel, table=True):
    """The newest version of a collection's tombstones purged at a school (migration 0031; a version only,
    the purged sourcedIds are gone): written by ``change_tombstones``' ``record_purge_horizon`` trigger
    whenever a tombstone is deleted (the retention step, 30 days after the deletion), never lowered. A
    consumer of the change feed whose position is at or before it may have missed a deletion, and is told
    to read the feed again from the start (``partners.changes.SinceTooOld``)."""

    __tablename__ = "change_purge_horizons"
    __table_args__ = (CheckConstraint(f"collection IN {TOMBSTONE_COLLECTIONS}", name="collection"),)

    school_id: uuid.UUID = school_key()
    collection: str = Field(primary_key=True, max_length=16)
    version: int = Field(sa_type=BigInteger)


class RosterChangeHead(SQLModel, table=True):
    """A school's change-version sequencer of the first design (migration 0011): the last version it
    handed to a roster row's write. Since migration 0015 versions come from the writer's transaction id
    (no per-school lock: ``partners/changes.py``); the rows stay for the downgrade."""

    __tablename__ = "roster_change_heads"

    school_id: uuid.UUID = school_key()
    version: int = Field(sa_type=BigInteger)

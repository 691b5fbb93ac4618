"""Accounts (how a person signs in), their sessions and refresh tokens, parent codes, login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import created_at, id_field, school_key, tenant_fk, timestamp, uuid_ref

ROLES = ("SCHOOL_ADMIN", "STAFF", "PUPIL", "PARENT")
ACCOUNT_STATUSES = ("PENDING", "ACTIVE", "DISABLED")


class Account(SQLModel, table=True):
    """One person's sign-in at one school (LRS 5.1: individual usernames).

    The role follows from the person it is linked to, so an account never holds conflicting roles
    (LRS 7.2): a staff account links a staff record, a pupil account a pupil, a parent account a contact;
    a school admin may link a staff record. ``created_by`` records who authorised it.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        tenant_fk(["staff_id"], "staff"),
        tenant_fk(["pupil_id"], "pupils"),
        tenant_fk(["contact_id"], "contacts"),
        CheckConstraint(f"role IN {ROLES}", name="role"),
        CheckConstraint(f"status IN {ACCOUNT_STATUSES}", name="status"),
        CheckConstraint(
            "(role = 'SCHOOL_ADMIN' AND pupil_id IS NULL AND contact_id IS NULL)"
            " OR (role = 'STAFF' AND staff_id IS NOT NULL AND pupil_id IS NULL AND contact_id IS NULL)"
            " OR (role = 'PUPIL' AND pupil_id IS NOT NULL AND staff_id IS NULL AND contact_id IS NULL)"
            " OR (role = 'PARENT' AND contact_id IS NOT NULL AND staff_id IS NULL AND pupil_id IS NULL)",
            name="role_person",
        ),
        Index("uq_accounts_school_id_lower_username", "school_id", text("lower(username)"), unique=True),
        UniqueConstraint("school_id", "staff_id"),
        UniqueConstraint("school_id", "pupil_id"),
        UniqueConstraint("school_id", "contact_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    username: str = Field(max_length=64)
    password_hash: str | None = Field(default=None, max_length=512)
    role: str = Field(max_length=16)
    status: str = Field(default="ACTIVE", max_length=16)
    status_reason: str | None = Field(default=None, max_length=200)
    staff_id: uuid.UUID | None = uuid_ref(nullable=True)
    pupil_id: uuid.UUID | None = uuid_ref(nullable=True)
    contact_id: uuid.UUID | None = uuid_ref(nullable=True)
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = timestamp()
    password_changed_at: datetime | None = timestamp()
    last_login_at: datetime | None = timestamp()
    created_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()


class AuthSession(SQLModel, table=True):
    """A signed-in session: every access token names one, so revoking it ends the session server-side."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),
        Index("ix_auth_sessions_school_id_account_id", "school_id", "account_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    created_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    """Absolute timeout: no refresh extends a session past this."""
    revoked_at: datetime | None = timestamp()
    revoked_reason: str | None = Field(default=None, max_length=32)
    client_address: str | None = Field(default=None, max_length=64)


class RefreshToken(SQLModel, table=True):
    """One link of a session's refresh-token chain; only the SHA-256 of the token is stored.

    A token is used once. Presenting a used token again means it was copied: the whole session (the
    token family) is revoked.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_fk(["session_id"], "auth_sessions", ondelete="CASCADE"),
        UniqueConstraint("school_id", "token_hash"),
        Index("ix_refresh_tokens_school_id_session_id", "school_id", "session_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    token_hash: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    """Idle timeout: a session unused for this long cannot be refreshed."""
    used_at: datetime | None = timestamp()


class ParentCode(SQLModel, table=True):
    """A parent access code (LL 6.3.4): issued by a school admin for one pupil, single use, expiring.

    Every issue is a row, kept after use or expiry: the record of codes granted (LL 7.1.4). Only the
    SHA-256 of the code is stored; the code itself is shown once, to the admin who issued it.
    """

    __tablename__ = "parent_codes"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        tenant_fk(["issued_by"], "accounts"),
        tenant_fk(["used_by"], "accounts"),
        UniqueConstraint("school_id", "code_hash"),
        Index("ix_parent_codes_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    code_hash: bytes = Field(sa_type=LargeBinary)
    relationship: str = Field(default="PARENT", max_length=16)
    issued_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    issued_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    used_at: datetime | None = timestamp()
    used_by: uuid.UUID | None = uuid_ref(nullable=True)
    revoked_at: datetime | None = timestamp()


class AddressThrottle(SQLModel, table=True):
    """Failed sign-ins per client address, across all schools (LRS 5.11). Global: no school_id."""

    __tablename__ = "address_throttles"

    address: str = Field(primary_key=True, max_length=64)
    window_started_at: datetime = timestamp(nullable=False)
    failures: int = 0

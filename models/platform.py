"""The platform's own people and machinery: operator and trust-admin accounts, their sessions, the platform
audit log, the notification outbox and the job-run log; plus two small tenant tables of provisioning
(school-admin activation codes and the nominated Super-Users).

Operator and trust-admin accounts belong to no school: they are global tables, and their sessions and
tokens are not school sessions (``auth/admin_sessions.py``). A global table that names a school calls the
column ``tenant_id``, never ``school_id``: ``school_id`` marks a *tenant row* (row-level security, destroyed
with its school), and these rows must outlive a school's destruction (docs/adr/0008-licensing-records.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, LargeBinary, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from models.base import created_at, id_field, school_key, tenant_fk, timestamp, uuid_ref

ADMIN_ACCOUNT_STATUSES = ("PENDING", "ACTIVE", "DISABLED")
PLATFORM_ACTOR_TYPES = ("OPERATOR", "TRUST_ADMIN", "ANONYMOUS", "SYSTEM", "PARTNER", "HANDOVER")
ISSUER_TYPES = ("OPERATOR", "TRUST_ADMIN")
OUTBOX_AUDIENCES = ("SUPER_USERS", "TRUST_ADMINS")


class OperatorAccount(SQLModel, table=True):
    """A platform operator ("We" in the licence): provisions, licenses, suspends, terminates. Global."""

    __tablename__ = "operator_accounts"
    __table_args__ = (
        CheckConstraint(f"status IN {ADMIN_ACCOUNT_STATUSES}", name="status"),
        Index("uq_operator_accounts_lower_username", text("lower(username)"), unique=True),
    )

    id: uuid.UUID = id_field()
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    password_hash: str | None = Field(default=None, max_length=512)
    status: str = Field(default="ACTIVE", max_length=16)
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = timestamp()
    last_login_at: datetime | None = timestamp()
    password_changed_at: datetime | None = timestamp()
    created_at: datetime = created_at()


class TrustAdminAccount(SQLModel, table=True):
    """An admin of one trust (multi-academy trust, single-academy trust or local authority). Global.

    Created PENDING by an operator with a one-time activation code (only its SHA-256 is kept); the admin
    sets a password when activating.
    """

    __tablename__ = "trust_admin_accounts"
    __table_args__ = (
        CheckConstraint(f"status IN {ADMIN_ACCOUNT_STATUSES}", name="status"),
        Index(
            "uq_trust_admin_accounts_trust_id_lower_username",
            "trust_id",
            text("lower(username)"),
            unique=True,
        ),
        UniqueConstraint("activation_hash"),
    )

    id: uuid.UUID = id_field()
    trust_id: uuid.UUID = Field(foreign_key="trusts.id")
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    password_hash: str | None = Field(default=None, max_length=512)
    status: str = Field(default="PENDING", max_length=16)
    status_reason: str | None = Field(default=None, max_length=200)
    activation_hash: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    activation_expires_at: datetime | None = timestamp()
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = timestamp()
    last_login_at: datetime | None = timestamp()
    password_changed_at: datetime | None = timestamp()
    created_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()


class AdminSession(SQLModel, table=True):
    """A signed-in session of an operator or a trust admin; revoking it ends its tokens at once."""

    __tablename__ = "admin_sessions"
    __table_args__ = (
        CheckConstraint("(operator_id IS NULL) <> (trust_admin_id IS NULL)", name="one_holder"),
        Index("ix_admin_sessions_operator_id", "operator_id"),
        Index("ix_admin_sessions_trust_admin_id", "trust_admin_id"),
    )

    id: uuid.UUID = id_field()
    operator_id: uuid.UUID | None = Field(
        default=None, foreign_key="operator_accounts.id", ondelete="CASCADE", nullable=True
    )
    trust_admin_id: uuid.UUID | None = Field(
        default=None, foreign_key="trust_admin_accounts.id", ondelete="CASCADE", nullable=True
    )
    audience: str = Field(max_length=64)
    """``platform`` or ``trust:<id>``: the one URL family its tokens are for."""
    created_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    revoked_at: datetime | None = timestamp()
    revoked_reason: str | None = Field(default=None, max_length=32)
    client_address: str | None = Field(default=None, max_length=64)


class AdminRefreshToken(SQLModel, table=True):
    """One link of an admin session's refresh-token chain (SHA-256 only); reuse revokes the session."""

    __tablename__ = "admin_refresh_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        Index("ix_admin_refresh_tokens_session_id", "session_id"),
    )

    id: uuid.UUID = id_field()
    session_id: uuid.UUID = Field(foreign_key="admin_sessions.id", ondelete="CASCADE")
    token_hash: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    used_at: datetime | None = timestamp()


class PlatformAuditEntry(SQLModel, table=True):
    """What operators, trust admins and the jobs runner did (LRS 5.1), outside any one school's chain.

    Actions on a school are *also* appended to that school's own hash chain (``audit.recorder``); this log
    keeps the platform's view, which outlives a school's destruction. Append-only for the runtime role.
    """

    __tablename__ = "platform_audit"
    __table_args__ = (
        CheckConstraint(f"actor_type IN {PLATFORM_ACTOR_TYPES}", name="actor_type"),
        Index("ix_platform_audit_occurred_at", "occurred_at"),
        Index("ix_platform_audit_tenant_id", "tenant_id"),
        Index("ix_platform_audit_trust_id", "trust_id"),
    )

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger,
        sa_column_args=[Identity(always=True)],
    )
    occurred_at: datetime = timestamp(nullable=False)
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = uuid_ref(nullable=True)
    actor_username: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    trust_id: uuid.UUID | None = uuid_ref(nullable=True)
    tenant_id: uuid.UUID | None = uuid_ref(nullable=True)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: uuid.UUID | None = uuid_ref(nullable=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    request_id: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)


class JobRun(SQLModel, table=True):
    """One step of one ``schoolgraph jobs run``: what it applied, for the operator's record."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_started_at", "started_at"),)

    id: uuid.UUID = id_field()
    step: str = Field(max_length=32)
    runner: str = Field(max_length=128)
    started_at: datetime = timestamp(nullable=False)
    finished_at: datetime | None = timestamp()
    applied: int = 0
    failed: int = 0
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)


class OutboxMessage(SQLModel, table=True):
    """A notification waiting to be sent (e-mail when SMTP is configured, else a log line).

    Recipients are resolved when it is sent, not stored: ``SUPER_USERS`` of ``tenant_id`` (up to three
    nominated school admins, LRS "Super-User") or ``TRUST_ADMINS`` of ``trust_id``. So the outbox holds no
    one's address, and a super-user nominated later still hears of what is pending. ``dedupe_key`` makes
    a notice that a job raises once per occasion idempotent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"audience IN {OUTBOX_AUDIENCES}", name="audience"),
        CheckConstraint(
            "(audience = 'SUPER_USERS' AND tenant_id IS NOT NULL) OR (audience = 'TRUST_ADMINS' AND trust_id IS NOT NULL)",
            name="addressed",
        ),
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_tenant_id", "tenant_id"),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=48)
    audience: str = Field(max_length=16)
    tenant_id: uuid.UUID | None = Field(default=None, foreign_key="schools.id", nullable=True)
    trust_id: uuid.UUID | None = Field(default=None, foreign_key="trusts.id", nullable=True)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    dedupe_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at()
    sent_at: datetime | None = timestamp()
    recipients: int = 0
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


# --- tenant tables (school_id, row-level security) ---------------------------------------------------------


class AccountActivation(SQLModel, table=True):
    """A one-time activation code for a PENDING school-admin account (LL 4.2); only its SHA-256 is kept."""

    __tablename__ = "account_activations"
    __table_args__ = (
        tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),
        CheckConstraint(f"issued_by_type IN {ISSUER_TYPES}", name="issued_by_type"),
        UniqueConstraint("school_id", "code_hash"),
        Index("ix_account_activations_school_id_account_id", "school_id", "account_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    code_hash: bytes = Field(sa_type=LargeBinary)
    issued_by_type: str = Field(max_length=16)
    issued_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()
    expires_at: datetime = timestamp(nullable=False)
    used_at: datetime | None = timestamp()


class SuperUser(SQLModel, table=True):
    """A nominated Super-User of a school (LRS: up to three school admins who hear of agreement changes)."""

    __tablename__ = "super_users"
    __table_args__ = (
        tenant_fk(["account_id"], "accounts", ondelete="CASCADE"),
        CheckConstraint(f"nominated_by_type IN {ISSUER_TYPES}", name="nominated_by_type"),
    )

    school_id: uuid.UUID = school_key()
    account_id: uuid.UUID = Field(primary_key=True, sa_type=UUID(as_uuid=True))
    nominated_by_type: str = Field(max_length=16)
    nominated_by: uuid.UUID | None = uuid_ref(nullable=True)
    nominated_at: datetime = created_at()

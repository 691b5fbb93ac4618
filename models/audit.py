"""The audit log: an append-only, hash-chained record of all activity, per school (LRS 5.1, LL 7.1.4).

Each school has its own chain: ``seq`` counts from 1 without gaps, and ``hash`` is
``SHA-256(prev_hash || canonical(entry))`` (audit/chain.py). The hashed part references people only by id;
the two personal values (the username at the time, the client address) sit outside it, so an erasure can
blank them without breaking the chain. A trigger refuses every other UPDATE, and every DELETE.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from models.base import school_key, timestamp, uuid_ref

ACTOR_TYPES = ("ACCOUNT", "PARTNER", "OPERATOR", "ANONYMOUS", "SYSTEM")
OUTCOMES = ("SUCCESS", "REJECTED", "DENIED", "FAILED")


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(f"actor_type IN {ACTOR_TYPES}", name="actor_type"),
        CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_audit_log_school_id_occurred_at", "school_id", "occurred_at"),
        Index("ix_audit_log_school_id_target_id", "school_id", "target_id"),
        Index("ix_audit_log_school_id_actor_id", "school_id", "actor_id"),
    )

    school_id: uuid.UUID = school_key()
    seq: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    occurred_at: datetime = timestamp(nullable=False)
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = uuid_ref(nullable=True)
    role: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=64)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: uuid.UUID | None = uuid_ref(nullable=True)
    outcome: str = Field(max_length=16)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    request_id: str | None = Field(default=None, max_length=64)
    prev_hash: bytes = Field(sa_type=LargeBinary)
    hash: bytes = Field(sa_type=LargeBinary)
    # Outside the hash: personal data an erasure may blank.
    actor_username: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The newest entry of a school's chain; writers lock this row, so a chain never forks."""

    __tablename__ = "audit_heads"

    school_id: uuid.UUID = school_key()
    seq: int = Field(sa_type=BigInteger)
    hash: bytes = Field(sa_type=LargeBinary)


__all__ = ["UUID", "AuditEntry", "AuditHead"]

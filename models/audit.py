"""The audit log: an append-only record of all activity, per school (LRS 5.1, LL 7.1.4).

A request inserts its entries pending (``seq``, ``prev_hash`` and ``hash`` NULL); the school's sequencer
(audit/sequencer.py) later gives them their ``seq`` (from 1 without gaps: the entries committed when it runs, in insertion order), their hash in
the school's chain, ``SHA-256(prev_hash || canonical(entry))``, and their leaf in the school's Merkle tree,
whose signed heads it stores in :class:`AuditTreeHead`. The hashed part references people only by id;
the two personal values (the username at the time, the client address) sit outside it, so an erasure can
blank them without breaking the chain. A trigger refuses every other UPDATE, and every DELETE.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Identity,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
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
        CheckConstraint(
            "(seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL)",
            name="sequenced_together",
        ),
        UniqueConstraint("school_id", "seq"),
        Index("ix_audit_log_pending", "school_id", "id", postgresql_where=text("seq IS NULL")),
        Index("ix_audit_log_school_id_occurred_at", "school_id", "occurred_at"),
        Index("ix_audit_log_school_id_target_id", "school_id", "target_id"),
        Index("ix_audit_log_school_id_actor_id", "school_id", "actor_id"),
    )

    school_id: uuid.UUID = school_key()
    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=False), primary_key=True, nullable=False)
    )
    """Set by the database on insert: the entry's key while it is pending, and ever after."""
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    """Position in the school's log, from 1 without gaps; None while pending."""
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
    prev_hash: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    hash: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    # Outside the hash: personal data an erasure may blank.
    actor_username: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """The sequencer's state for a school: the newest sequenced entry and the Merkle tree's right edge.

    Only the school's sequencer (one at a time, under an advisory lock) writes it; requests never read it.
    """

    __tablename__ = "audit_heads"

    school_id: uuid.UUID = school_key()
    seq: int = Field(sa_type=BigInteger)
    hash: bytes = Field(sa_type=LargeBinary)
    frontier: list[bytes] | None = Field(default=None, sa_type=ARRAY(LargeBinary), nullable=True)
    """The roots of the perfect subtrees along the tree's right edge, largest first (None: rebuild)."""


class AuditTreeHead(SQLModel, table=True):
    """A signed tree head (RFC 9162 style): the school's Merkle root over its first ``tree_size`` entries,
    signed with the platform's key. Insert-only."""

    __tablename__ = "audit_tree_heads"
    __table_args__ = (CheckConstraint("tree_size > 0", name="tree_size_positive"),)

    school_id: uuid.UUID = school_key()
    tree_size: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    root_hash: bytes = Field(sa_type=LargeBinary)
    chain_hash: bytes = Field(sa_type=LargeBinary)
    """The hash of entry ``tree_size`` in the school's chain."""
    signed_at: datetime = timestamp(nullable=False)
    signature: str = Field(sa_type=Text)
    """A compact JWS (ES256) over the head's JSON (audit/merkle.py ``head_payload``)."""


__all__ = ["UUID", "AuditEntry", "AuditHead", "AuditTreeHead"]

"""Inclusion and consistency proofs of a school's log, between its signed tree heads (RFC 9162).

A proof is always about trees the platform signed: sizes are those of stored signed tree heads, so what
a school downloads (the heads, the proofs) checks with :mod:`audit.standalone_verify` and nothing else.
The proofs are computed from the school's entries read in ``seq`` order (their leaves recomputed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.merkle import consistency_proof, inclusion_proof, leaf_hash
from audit.store import stream_entries
from common.errors import DomainError
from models import AuditTreeHead
from tenants.scoping import in_school


@dataclass(frozen=True)
class InclusionProof:
    school_id: uuid.UUID
    seq: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    head: AuditTreeHead


@dataclass(frozen=True)
class ConsistencyProof:
    school_id: uuid.UUID
    from_size: int
    to_size: int
    path: list[bytes]
    from_head: AuditTreeHead
    to_head: AuditTreeHead


async def signed_head(
    session: AsyncSession, school_id: uuid.UUID, tree_size: int | None, *, field: str = "treeSize"
) -> AuditTreeHead:
    """The school's signed tree head of ``tree_size`` (the latest when None); a DomainError naming
    ``field`` when there is none."""
    stmt = select(AuditTreeHead).where(in_school(AuditTreeHead, school_id))
    if tree_size is None:
        stmt = stmt.order_by(AuditTreeHead.tree_size.desc()).limit(1)  # type: ignore[attr-defined]
    else:
        stmt = stmt.where(AuditTreeHead.tree_size == tree_size)
    head = (await session.execute(stmt)).scalars().first()
    if head is None:
        what = "no signed tree head yet" if tree_size is None else f"no signed tree head of size {tree_size}"
        raise DomainError.one(field, "NOT_FOUND", f"The school's audit log has {what}.")
    return head


async def _leaves(session: AsyncSession, school_id: uuid.UUID, size: int) -> list[bytes]:
    leaves = [leaf_hash(entry) async for entry in stream_entries(session, school_id, upto=size)]
    if len(leaves) != size:
        raise DomainError.one(
            "treeSize", "LOG_DAMAGED", f"The log holds {len(leaves)} of the {size} entries its head covers."
        )
    return leaves


async def prove_inclusion(
    session: AsyncSession, school_id: uuid.UUID, seq: int, tree_size: int | None
) -> InclusionProof:
    """The audit path of entry ``seq`` in the signed tree of ``tree_size`` (the latest when None)."""
    head = await signed_head(session, school_id, tree_size)
    if not 1 <= seq <= head.tree_size:
        raise DomainError.one(
            "seq", "OUT_OF_RANGE", f"seq must be from 1 to {head.tree_size}, the tree's size."
        )
    leaves = await _leaves(session, school_id, head.tree_size)
    return InclusionProof(
        school_id, seq, head.tree_size, leaves[seq - 1], inclusion_proof(seq - 1, leaves), head
    )


async def prove_consistency(
    session: AsyncSession, school_id: uuid.UUID, from_size: int, to_size: int | None
) -> ConsistencyProof:
    """That the signed tree of ``from_size`` is a prefix of the signed tree of ``to_size`` (the latest
    when None)."""
    older = await signed_head(session, school_id, from_size, field="fromSize")
    newer = await signed_head(session, school_id, to_size, field="toSize")
    if newer.tree_size < older.tree_size:
        raise DomainError.one("toSize", "OUT_OF_RANGE", "toSize must not be smaller than fromSize.")
    leaves = await _leaves(session, school_id, newer.tree_size)
    return ConsistencyProof(
        school_id,
        older.tree_size,
        newer.tree_size,
        consistency_proof(older.tree_size, leaves),
        older,
        newer,
    )

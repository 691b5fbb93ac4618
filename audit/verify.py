"""Verifying every school's log: its chain, its Merkle tree against the signed tree heads stored with it,
and against heads kept outside the database (an anchor); exporting the latest signed heads.

One walk over the school's entries in ``seq`` order checks everything:

- the chain (:class:`audit.chain.ChainWalk`): a modified, removed, inserted or reordered entry, at its
  ``seq``; a tail shorter than ``audit_heads`` or an entry past it;
- the tree: at each stored signed head's size, the root of the entries so far and the chain hash of the
  last one must be the head's, and the head's signature must be the platform's. An owner who rewrote
  entries and recomputed the chain (and ``audit_heads``) is caught at the first head covering the change;
  a head removed from the end leaves entries a signed head once covered missing;
- an anchor (``--anchor FILE``, heads exported by ``schoolgraph audit head`` and kept elsewhere): the same
  check at each anchored size. An owner who holds the database and rewrote entries, chain and stored
  heads is caught there, since the heads outside were not rewritten.

Entries still pending (committed, not yet sequenced) are counted; they carry no hash yet.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import GENESIS, ChainFault, ChainWalk
from audit.merkle import Frontier, leaf_hash
from audit.recorder import chain_head
from audit.sequencer import HEAD_TYPE
from audit.store import pending_count, stream_entries, tree_heads
from auth.tokens import SigningKeys
from models import AuditTreeHead, School
from tenants.context import bind
from tenants.scoping import in_school

__all__ = ["Anchor", "SchoolVerdict", "read_anchors", "schools", "signed_head_json", "verify_school"]


@dataclass(frozen=True)
class SchoolVerdict:
    school_id: uuid.UUID
    slug: str
    entries: int
    """Entries found intact (up to the fault, if any)."""
    fault: ChainFault | None
    pending: int = 0
    """Entries committed but not yet sequenced."""
    heads: int = 0
    """Signed tree heads checked (stored and anchored)."""


@dataclass(frozen=True)
class Anchor:
    """A signed tree head kept outside the database (a line of ``schoolgraph audit head``)."""

    school_id: uuid.UUID
    tree_size: int
    root_hash: bytes
    chain_hash: bytes
    signature: str


@dataclass
class _Checkpoint:
    size: int
    root: bytes
    chain_hash: bytes
    what: str
    anchored: bool


def _checkpoints(
    stored: Iterable[AuditTreeHead], anchors: Iterable[Anchor], keys: SigningKeys | None
) -> tuple[dict[int, list[_Checkpoint]], ChainFault | None]:
    """Each signed head (stored or anchored) by size, its signature checked first."""
    found: dict[int, list[_Checkpoint]] = {}
    fault: ChainFault | None = None
    heads = [(h.school_id, h.tree_size, h.root_hash, h.chain_hash, h.signature, "stored") for h in stored]
    heads += [(a.school_id, a.tree_size, a.root_hash, a.chain_hash, a.signature, "anchored") for a in anchors]
    for school_id, size, root, chain, signature, kind in heads:
        what = f"the {kind} signed tree head of size {size}"
        if keys is not None:
            payload = keys.verify_jws(signature, typ=HEAD_TYPE)
            signed = json.loads(payload) if payload is not None else None
            expected = {
                "school_id": str(school_id),
                "tree_size": size,
                "root_hash": root.hex(),
                "chain_hash": chain.hex(),
            }
            if signed is None or {k: signed.get(k) for k in expected} != expected:
                candidate = ChainFault(
                    size, f"is covered by {what}, whose signature does not verify (head forged)"
                )
                if fault is None or candidate.seq < fault.seq:
                    fault = candidate
                continue
        found.setdefault(size, []).append(_Checkpoint(size, root, chain, what, kind == "anchored"))
    return found, fault


async def verify_school(
    session: AsyncSession,
    school_id: uuid.UUID,
    slug: str,
    *,
    keys: SigningKeys | None = None,
    anchors: Sequence[Anchor] = (),
) -> SchoolVerdict:
    """Verify one school's log; binds the session's transaction to that school.

    ``keys``: the platform's keys, to check the heads' signatures (without them the heads' roots are still
    compared). Safe while the school is in use: the chain head and the stored tree heads are read before
    the entries and the chain head again after them, so entries sequenced meanwhile are accepted when
    they continue the chain, and nothing is locked.
    """
    await bind(session, [school_id])
    earlier = await chain_head(session, school_id) or (0, GENESIS)
    stored = await tree_heads(session, school_id)
    mine = [anchor for anchor in anchors if anchor.school_id in (school_id,)]  # the file holds every school's
    checkpoints, fault = _checkpoints(stored, mine, keys)
    walk = ChainWalk(remember=earlier[0])
    frontier = Frontier()
    # The last size at which a head matched: any head, and an anchored one (the stored heads may have been
    # rewritten with the rest, so a mismatch with an anchor is placed after the last anchor that held).
    last_good = {"stored": 0, "anchored": 0}
    tree_fault: ChainFault | None = None
    async for entry in stream_entries(session, school_id):
        if walk.step(entry) is not None:
            break
        frontier.append(leaf_hash(entry))
        points = checkpoints.get(entry.seq, ())
        if tree_fault is None and points:
            wrong = [p for p in points if p.root != frontier.root() or p.chain_hash != entry.hash]
            if wrong:
                first = (last_good["anchored"] if wrong[0].anchored else max(last_good.values())) + 1
                span = f"entry {entry.seq}" if first == entry.seq else f"entries {first} to {entry.seq}"
                tree_fault = ChainFault(
                    first,
                    f"was rewritten: {span} no longer match {wrong[0].what} (entries and chain recomputed)",
                )
            else:
                for point in points:
                    last_good["anchored" if point.anchored else "stored"] = entry.seq
    later = await chain_head(session, school_id) or (0, GENESIS)
    result = walk.finish(later, earlier=earlier)
    # The chain's diagnosis is the sharper one (it names what happened); the tree's stands when the chain
    # is intact (recomputed) or fails later.
    if tree_fault is not None and (result is None or tree_fault.seq < result.seq):
        result = tree_fault
    if result is None:
        beyond = [size for size in checkpoints if size > walk.last_seq]
        if beyond:
            size = max(beyond)
            what = checkpoints[size][0].what
            result = ChainFault(walk.last_seq + 1, f"is missing ({what} covers {size} entries)")
    if fault is not None and (result is None or fault.seq <= result.seq):
        result = fault
    return SchoolVerdict(
        school_id,
        slug,
        walk.last_seq,
        result,
        pending=await pending_count(session, school_id),
        heads=sum(len(v) for v in checkpoints.values()),
    )


async def schools(session: AsyncSession, slug: str | None = None) -> list[tuple[uuid.UUID, str]]:
    """(id, slug) of every school, or of the one with ``slug``, by slug.

    Leaves the session as it found it: a transaction this read began is ended here, so the caller can
    begin one per school next (schools are a global table: no binding needed).
    """
    began = not session.in_transaction()
    stmt = select(School.id, School.slug).order_by(School.slug)
    if slug is not None:
        stmt = stmt.where(School.slug == slug)
    found = [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
    if began:
        await session.commit()
    return found


async def latest_head(session: AsyncSession, school_id: uuid.UUID) -> AuditTreeHead | None:
    """The school's newest signed tree head (the session bound to the school)."""
    stmt = (
        select(AuditTreeHead)
        .where(in_school(AuditTreeHead, school_id))
        .order_by(AuditTreeHead.tree_size.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


def signed_head_json(head: AuditTreeHead, slug: str) -> dict[str, Any]:
    """A signed tree head as exported (``schoolgraph audit head``) and read back as an anchor."""
    return {
        "school_id": str(head.school_id),
        "slug": slug,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "chain_hash": head.chain_hash.hex(),
        "signed_at": head.signed_at.isoformat(),
        "signature": head.signature,
    }


def read_anchors(text: str, *, source: str) -> list[Anchor]:
    """Anchors from JSON lines (or one JSON array) of exported heads; ValueError naming the line."""
    stripped = text.strip()
    items: list[Any]
    if stripped.startswith("["):
        items = json.loads(stripped)
        numbered = list(enumerate(items, start=1))
    else:
        numbered = [
            (n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1) if line.strip()
        ]
    anchors = []
    for n, item in numbered:
        try:
            anchors.append(
                Anchor(
                    uuid.UUID(item["school_id"]),
                    int(item["tree_size"]),
                    bytes.fromhex(item["root_hash"]),
                    bytes.fromhex(item["chain_hash"]),
                    str(item["signature"]),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}, head {n}: not an exported tree head ({error})") from None
    return anchors

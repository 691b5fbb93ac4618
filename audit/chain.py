"""The hash chain: what is hashed, how, and how a chain is checked.

``hash = SHA-256(prev_hash || canonical(entry))`` where ``canonical`` is compact, key-sorted JSON of the
hashed fields only (:data:`HASHED_FIELDS`: ids, codes and times, never a name or an address). The first
entry of a school's chain has ``prev_hash`` = 32 zero bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

GENESIS = bytes(32)
HASHED_FIELDS = (
    "school_id",
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "role",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "detail",
    "request_id",
)


class Chained(Protocol):
    school_id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    role: str | None
    action: str
    target_type: str | None
    target_id: uuid.UUID | None
    outcome: str
    detail: dict[str, Any]
    request_id: str | None
    prev_hash: bytes
    hash: bytes


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


def canonical(entry: Chained) -> bytes:
    return json.dumps(
        {name: _plain(getattr(entry, name)) for name in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()


def entry_hash(prev_hash: bytes, entry: Chained) -> bytes:
    return hashlib.sha256(prev_hash + canonical(entry)).digest()


@dataclass(frozen=True)
class ChainFault:
    seq: int
    """The first sequence number at which the chain is not what was written."""
    reason: str


def verify_chain(entries: Iterable[Chained], head: tuple[int, bytes] | None = None) -> ChainFault | None:
    """Check one school's entries in ``seq`` order; None when the chain is intact.

    Finds a modified entry (its hash no longer matches), a removed one (a gap in ``seq``), an inserted or
    reordered one (``prev_hash`` not the previous entry's hash), and a truncated tail (the head names a
    later entry than the last one found).
    """
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainFault(expected_seq, f"entry {expected_seq} is missing (found {entry.seq} next)")
        if entry.prev_hash != prev:
            return ChainFault(
                entry.seq, "does not follow the previous entry (inserted, removed or reordered)"
            )
        if entry_hash(prev, entry) != entry.hash:
            return ChainFault(entry.seq, "its content no longer matches its hash (modified)")
        prev, expected_seq = entry.hash, expected_seq + 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq != expected_seq - 1 or (head_seq > 0 and head_hash != prev):
            return ChainFault(min(head_seq, expected_seq), "the chain head does not match the last entry")
    return None

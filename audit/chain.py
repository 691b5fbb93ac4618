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
    return chained_hash(prev_hash, canonical(entry))


def chained_hash(prev_hash: bytes, canonical_entry: bytes) -> bytes:
    """:func:`entry_hash` of an entry whose :func:`canonical` form is known (the sequencer computes it
    once for the chain and the tree)."""
    return hashlib.sha256(prev_hash + canonical_entry).digest()


@dataclass(frozen=True)
class ChainFault:
    seq: int
    """The first sequence number at which the chain is not what was written."""
    reason: str
    """What is wrong with that entry, to be read after "entry <seq> "."""


class ChainWalk:
    """Checks one school's entries fed in ``seq`` order, one at a time (memory does not grow with the log).

    :meth:`step` finds a modified entry (its hash no longer matches), a removed one (a gap in ``seq``), and
    an inserted or reordered one (``prev_hash`` not the previous entry's hash); :meth:`finish` compares the
    end of the walk with the chain head. The first fault sticks: later entries are not checked.
    """

    def __init__(self, *, remember: int | None = None) -> None:
        self.expected_seq, self.prev, self.before_prev = 1, GENESIS, GENESIS
        self.fault: ChainFault | None = None
        self.remember, self.remembered = remember, GENESIS if remember == 0 else None

    @property
    def last_seq(self) -> int:
        return self.expected_seq - 1

    def step(self, entry: Chained) -> ChainFault | None:
        if self.fault is not None:
            return self.fault
        seq = self.expected_seq
        if entry.seq != seq:
            self.fault = ChainFault(seq, f"is missing (entry {entry.seq} comes next)")
        elif entry.prev_hash != self.prev:
            if seq > 1 and entry.prev_hash == self.before_prev:
                # This entry continues the one before the previous: the previous one was slipped in.
                follows = f"follows entry {seq - 2}" if seq > 2 else "starts the chain"
                self.fault = ChainFault(seq - 1, f"was inserted (entry {seq} {follows})")
            else:
                self.fault = ChainFault(
                    seq, f"does not follow entry {seq - 1}: entries were inserted, removed or reordered"
                )
        elif entry_hash(self.prev, entry) != entry.hash:
            self.fault = ChainFault(seq, "no longer matches its hash (modified)")
        else:
            self.before_prev, self.prev, self.expected_seq = self.prev, entry.hash, seq + 1
            if seq == self.remember:
                self.remembered = entry.hash
        return self.fault

    def finish(
        self, head: tuple[int, bytes] | None, *, earlier: tuple[int, bytes] | None = None
    ) -> ChainFault | None:
        """The fault, if any, once every entry was fed; ``head`` is the chain head read after the entries.

        ``earlier`` is the head as read before the entries, when writers may append meanwhile (construct
        the walk with ``remember=earlier[0]``): the walk must reach it (else the tail was removed) and pass
        through it (its hash, remembered on the way, must match), and must not go beyond ``head`` (an entry
        past the head was inserted).
        """
        if self.fault is not None or head is None:
            return self.fault
        last = self.last_seq
        earlier = earlier or head
        if last < earlier[0]:
            self.fault = ChainFault(last + 1, f"is missing (the chain head is entry {earlier[0]})")
        elif last > head[0]:
            self.fault = ChainFault(head[0] + 1, f"is beyond the chain head, entry {head[0]} (inserted)")
        elif last == head[0] and head[0] > 0 and head[1] != self.prev:
            self.fault = ChainFault(last, "does not match the chain head (modified or replaced)")
        elif earlier is not head and earlier[0] > 0 and self.remembered != earlier[1]:
            self.fault = ChainFault(earlier[0], "does not match the chain head (modified or replaced)")
        return self.fault


def verify_chain(entries: Iterable[Chained], head: tuple[int, bytes] | None = None) -> ChainFault | None:
    """Check one school's entries in ``seq`` order; None when the chain is intact.

    Finds a modified entry (its hash no longer matches), a removed one (a gap in ``seq``), an inserted or
    reordered one (``prev_hash`` not the previous entry's hash), and, given the chain head, a truncated
    tail (the head names a later entry than the last one found) or an entry appended past the head.
    """
    walk = ChainWalk()
    for entry in entries:
        if walk.step(entry) is not None:
            return walk.fault
    return walk.finish(head)

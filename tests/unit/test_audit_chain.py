"""The audit hash chain detects every kind of tampering (LRS 5.1: all activity logged, tamper-evident)."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.chain import GENESIS, entry_hash, verify_chain

SCHOOL = uuid.UUID("00000000-0000-0000-0000-00000000000a")
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Entry:
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
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    prev_hash: bytes = b""
    hash: bytes = b""


def build(actions: list[tuple[str, str, int]]) -> list[Entry]:
    entries, prev = [], GENESIS
    for i, (action, outcome, n) in enumerate(actions, 1):
        entry = Entry(SCHOOL, i, START + timedelta(seconds=i), "ACCOUNT", uuid.UUID(int=n), "STAFF",
                      action, "Pupil", uuid.UUID(int=n + 1), outcome, {"n": n}, f"req-{i}", prev)  # fmt: skip
        entry.hash = prev = entry_hash(prev, entry)
        entries.append(entry)
    return entries


actions = st.lists(
    st.tuples(
        st.sampled_from(["auth.login", "mutation.createPupil", "read.pupils"]),
        st.sampled_from(["SUCCESS", "REJECTED", "DENIED", "FAILED"]),
        st.integers(0, 10**6),
    ),
    min_size=2,
    max_size=40,
)
TAMPERS = ("modify", "delete", "insert", "reorder", "truncate", "none")


@settings(max_examples=300, deadline=None)
@given(
    actions=actions, tamper=st.sampled_from(TAMPERS), where=st.integers(0, 10**6), value=st.integers(0, 10**6)
)
def test_verify_fails_exactly_when_tampered(
    actions: list[tuple[str, str, int]], tamper: str, where: int, value: int
) -> None:
    """LRS 5.1: random appends and one random tamper: verification fails exactly when the log was tampered."""
    entries = build(actions)
    head = (entries[-1].seq, entries[-1].hash)
    i = where % len(entries)
    tampered = copy.deepcopy(entries)
    changed = True
    if tamper == "modify":
        before = tampered[i].detail
        tampered[i].detail = {"n": value}
        changed = before != tampered[i].detail
    elif tamper == "delete":
        del tampered[i]
    elif tamper == "insert":
        forged = copy.deepcopy(tampered[i])
        forged.action = "forged"
        tampered.insert(i, forged)
    elif tamper == "reorder":
        j = (i + 1) % len(tampered)
        tampered[i], tampered[j] = tampered[j], tampered[i]
    elif tamper == "truncate":
        tampered = tampered[:i]
    else:
        changed = False
    fault = verify_chain(tampered, head)
    assert (fault is not None) == changed, (tamper, i, fault)


def test_verify_names_the_first_bad_sequence_number() -> None:
    """LRS 5.1: the fault names the first entry that is not as written."""
    entries = build([("a", "SUCCESS", n) for n in range(10)])
    head = (10, entries[-1].hash)
    entries[6].outcome = "DENIED"
    fault = verify_chain(entries, head)
    assert fault is not None and fault.seq == 7 and "modified" in fault.reason
    del entries[3]
    fault = verify_chain(entries, head)
    assert fault is not None and fault.seq == 4 and "missing" in fault.reason


def test_personal_values_are_outside_the_hash() -> None:
    """LRS 5.1: the hashed part holds ids, not names: an erasure may blank a username without breaking it."""
    entry = build([("auth.login", "SUCCESS", 1)])[0]
    from audit.chain import HASHED_FIELDS, canonical

    assert "actor_username" not in HASHED_FIELDS and "client_address" not in HASHED_FIELDS
    assert b"username" not in canonical(entry)


def test_a_well_formed_forged_entry_is_named() -> None:
    """LRS 5.1: an entry slipped in with a correct hash of its own is named by its seq, because the entry
    after it still continues the one before it."""
    entries = build([("a", "SUCCESS", n) for n in range(6)])
    forged = copy.deepcopy(entries[2])
    forged.seq, forged.action, forged.prev_hash = 4, "forged", entries[2].hash
    forged.hash = entry_hash(forged.prev_hash, forged)
    tampered = [*entries[:3], forged, *entries[3:]]
    for i, entry in enumerate(tampered, 1):
        entry.seq = i  # renumbered by the forger (which breaks the later entries' hashes as well)
    fault = verify_chain(tampered)
    assert fault is not None and (fault.seq, "inserted" in fault.reason) == (4, True)


def test_a_live_chain_verifies_against_the_heads_before_and_after() -> None:
    """LRS 5.1: entries appended while verifying (between the head read before and the one after) are no
    fault; the walk must still pass through the earlier head and not go past the later one."""
    from audit.chain import ChainWalk

    entries = build([("a", "SUCCESS", n) for n in range(8)])

    def walk(found: list[Entry], earlier: tuple[int, bytes], later: tuple[int, bytes]) -> Any:
        checker = ChainWalk(remember=earlier[0])
        for entry in found:
            checker.step(entry)
        return checker.finish(later, earlier=earlier)

    at = {e.seq: (e.seq, e.hash) for e in entries}
    assert walk(entries[:6], at[5], at[6]) is None
    assert walk(entries, at[5], at[8]) is None
    truncated = walk(entries[:4], at[5], at[8])
    assert truncated is not None and truncated.seq == 5
    beyond = walk(entries, at[5], at[6])
    assert beyond is not None and (beyond.seq, "beyond" in beyond.reason) == (7, True)
    replaced = walk(entries[:6], (5, bytes(32)), at[6])
    assert replaced is not None and replaced.seq == 5

"""The audit log is tamper-evident: append-only for the application; a request only inserts its entries
(writers never wait on each other); a sequencer per school numbers them into a hash chain and a Merkle tree
with signed tree heads, which ``schoolgraph audit verify`` (and ``--anchor``) checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from audit.chain import entry_hash
from audit.recorder import Actor, Event, append
from auth.tokens import SigningKeys
from common.settings import REPO_ROOT
from graph.core.relay import to_global_id
from server.database import DatabaseUrls
from tenants.context import bind
from tests.factories import clock
from tests.factories.audit import entries, sequence, tamper, verify
from tests.factories.citus import ON_CITUS
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

ACTOR = Actor("ACCOUNT", uuid.UUID(int=7), "someone", "STAFF")


async def _append(engine: AsyncEngine, school_id: uuid.UUID, *actions: str, request_id: str = "r") -> None:
    """One request's events, appended in a transaction of their own, as the edge does."""
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        await append(
            session,
            school_id,
            [
                Event(action, "SUCCESS", "Pupil", uuid.UUID(int=i), {"n": i})
                for i, action in enumerate(actions)
            ],
            actor=ACTOR,
            request_id=request_id,
            client_address="192.0.2.1",
            now=clock.now(),
        )


KEYS = SigningKeys.generate()
"""The platform key of this module's sequencer runs (the verifications below check its signatures)."""


async def _school_with_entries(factory: SchoolFactory, engine: AsyncEngine, count: int = 10) -> SchoolData:
    """A school whose log has ``count`` entries, each sequenced after its request (one signed head each,
    as a quiet school's sequencer run after every commit makes)."""
    school = await factory.school(pupils_per_group=1)
    for i in range(count):
        await _append(engine, school.id, f"test.action{i + 1}", request_id=f"req-{i + 1}")
        await sequence(engine, school.id, KEYS)
    return school


# --- append-only ---------------------------------------------------------------------------------------


async def _as_runtime(engine: AsyncEngine, school_id: uuid.UUID, sql: str) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        await session.execute(text(sql), {"s": school_id})


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET action = 'forged' WHERE school_id = :s AND seq = 1",
        "UPDATE audit_log SET outcome = 'SUCCESS', hash = prev_hash WHERE school_id = :s",
        "UPDATE audit_log SET actor_username = 'someone else' WHERE school_id = :s AND seq = 1",
        "UPDATE audit_log SET client_address = '203.0.113.9' WHERE school_id = :s AND seq = 1",
        "DELETE FROM audit_log WHERE school_id = :s AND seq = 1",
        "TRUNCATE audit_log",
    ],
    ids=["update-action", "update-hash", "replace-username", "replace-address", "delete", "truncate"],
)
async def test_the_runtime_role_cannot_change_or_remove_entries(
    factory: SchoolFactory, engine: AsyncEngine, sql: str
) -> None:
    """LRS 5.1: the application's role may only add to the log: no UPDATE (beyond blanking the two
    personal values), no DELETE, no TRUNCATE; the entry is untouched afterwards."""
    school = await _school_with_entries(factory, engine, 2)
    before = [
        (e.action, e.outcome, e.hash, e.actor_username, e.client_address)
        for e in await entries(engine, school.id)
    ]
    with pytest.raises(DBAPIError) as refused:
        await _as_runtime(engine, school.id, sql)
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    after = [
        (e.action, e.outcome, e.hash, e.actor_username, e.client_address)
        for e in await entries(engine, school.id)
    ]
    assert after == before


async def test_the_runtime_role_may_only_blank_the_personal_values(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: an erasure may blank the username at the time and the client address (outside the hash):
    allowed for the runtime role, and the chain still verifies."""
    school = await _school_with_entries(factory, engine, 3)
    await _as_runtime(
        engine,
        school.id,
        "UPDATE audit_log SET actor_username = NULL, client_address = NULL WHERE school_id = :s",
    )
    assert {(e.actor_username, e.client_address) for e in await entries(engine, school.id)} == {(None, None)}
    assert (await verify(engine, school.id, KEYS)).fault is None


async def test_even_the_owner_meets_the_trigger(
    factory: SchoolFactory, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    """LRS 5.1: the trigger refuses UPDATE, DELETE and TRUNCATE to every role, the owner included; only
    disabling it (which the verification below then exposes) gets past it."""
    school = await _school_with_entries(factory, engine, 2)
    for sql in (
        "DELETE FROM audit_log WHERE school_id = :s",
        "UPDATE audit_log SET action = 'x' WHERE school_id = :s",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with owner_engine.begin() as connection:
                await connection.execute(text(sql), {"s": school.id} if ":s" in sql else {})
    assert len(await entries(engine, school.id)) == 2


# --- verification ----------------------------------------------------------------------------------------

K = 5  # the entry tampered with, of 10


async def _modify(c: AsyncConnection, s: uuid.UUID) -> None:
    await c.execute(
        text("UPDATE audit_log SET outcome = 'DENIED' WHERE school_id = :s AND seq = :k"), {"s": s, "k": K}
    )


async def _delete(c: AsyncConnection, s: uuid.UUID) -> None:
    await c.execute(text("DELETE FROM audit_log WHERE school_id = :s AND seq = :k"), {"s": s, "k": K})


async def _delete_last(c: AsyncConnection, s: uuid.UUID) -> None:
    await c.execute(text("DELETE FROM audit_log WHERE school_id = :s AND seq = 10"), {"s": s})


async def _delete_and_renumber(c: AsyncConnection, s: uuid.UUID) -> None:
    """A careful attacker: removes entry K, closes the gap and moves the head back by one."""
    await _delete(c, s)
    await c.execute(
        text("UPDATE audit_log SET seq = seq - 1 WHERE school_id = :s AND seq > :k"), {"s": s, "k": K}
    )
    last = (
        await c.execute(text("SELECT hash FROM audit_log WHERE school_id = :s AND seq = 9"), {"s": s})
    ).scalar_one()
    await c.execute(
        text("UPDATE audit_heads SET seq = 9, hash = :h WHERE school_id = :s"), {"s": s, "h": last}
    )


async def _shift_up_from(c: AsyncConnection, s: uuid.UUID, k: int) -> None:
    # In two steps: a unique key is checked row by row, so seq + 1 in one step would collide.
    await c.execute(
        text("UPDATE audit_log SET seq = seq + 1000000 WHERE school_id = :s AND seq >= :k"), {"s": s, "k": k}
    )
    await c.execute(
        text("UPDATE audit_log SET seq = seq - 999999 WHERE school_id = :s AND seq > 1000000"), {"s": s}
    )


async def _insert(c: AsyncConnection, s: uuid.UUID) -> None:
    """A forged entry slipped in at K, well formed: it continues entry K-1 with a correct hash."""
    await _shift_up_from(c, s, K)
    row = (
        (
            await c.execute(
                text("SELECT * FROM audit_log WHERE school_id = :s AND seq = :k"), {"s": s, "k": K - 1}
            )
        )
        .mappings()
        .one()
    )
    forged = dict(row) | {"seq": K, "action": "forged", "prev_hash": row["hash"], "request_id": "forged"}
    del forged["id"]
    forged["hash"] = entry_hash(row["hash"], _Row(forged))
    columns = ", ".join(forged)
    await c.execute(
        text(f"INSERT INTO audit_log ({columns}) VALUES ({', '.join(':' + k for k in forged)})"),
        {**forged, "detail": "{}"},
    )


async def _append_past_head(c: AsyncConnection, s: uuid.UUID) -> None:
    row = (
        (await c.execute(text("SELECT * FROM audit_log WHERE school_id = :s AND seq = 10"), {"s": s}))
        .mappings()
        .one()
    )
    forged = dict(row) | {"seq": 11, "action": "forged", "prev_hash": row["hash"]}
    del forged["id"]
    forged["hash"] = entry_hash(row["hash"], _Row(forged))
    columns = ", ".join(forged)
    await c.execute(
        text(f"INSERT INTO audit_log ({columns}) VALUES ({', '.join(':' + k for k in forged)})"),
        {**forged, "detail": "{}"},
    )


async def _reorder(c: AsyncConnection, s: uuid.UUID) -> None:
    """Entries K and K+1 swap places."""
    swap = "UPDATE audit_log SET seq = :to WHERE school_id = :s AND seq = :at"
    await c.execute(text(swap), {"s": s, "at": K, "to": 1000})
    await c.execute(text(swap), {"s": s, "at": K + 1, "to": K})
    await c.execute(text(swap), {"s": s, "at": 1000, "to": K + 1})


async def _rechain_from(c: AsyncConnection, s: uuid.UUID, k: int) -> None:
    """Recompute the chain from entry ``k`` to the end and move ``audit_heads`` to match: what an owner
    who knows the hashing does after changing entry ``k``."""
    rows = (
        (
            await c.execute(
                text("SELECT * FROM audit_log WHERE school_id = :s AND seq >= :k ORDER BY seq"),
                {"s": s, "k": k},
            )
        )
        .mappings()
        .all()
    )
    prev = (
        await c.execute(
            text("SELECT hash FROM audit_log WHERE school_id = :s AND seq = :k"), {"s": s, "k": k - 1}
        )
    ).scalar_one()
    for row in rows:
        digest = entry_hash(prev, SimpleNamespace(**row))
        await c.execute(
            text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE school_id = :s AND seq = :q"),
            {"p": prev, "h": digest, "s": s, "q": row["seq"]},
        )
        prev = digest
    await c.execute(text("UPDATE audit_heads SET hash = :h WHERE school_id = :s"), {"s": s, "h": prev})


async def _rewrite_and_rechain(c: AsyncConnection, s: uuid.UUID) -> None:
    """A careful attacker: changes entry K and recomputes the chain after it, and its head."""
    await _modify(c, s)
    await _rechain_from(c, s, K)


async def _forge_head(c: AsyncConnection, s: uuid.UUID) -> None:
    """A stored signed tree head's root replaced (the attacker cannot sign it)."""
    await c.execute(
        text(
            "UPDATE audit_tree_heads SET root_hash = sha256(root_hash) WHERE school_id = :s AND tree_size = 7"
        ),
        {"s": s},
    )


async def _drop_tail_and_move_head(c: AsyncConnection, s: uuid.UUID) -> None:
    """The last entry removed and the chain head moved back to the one before: the chain alone agrees."""
    await _delete_last(c, s)
    await c.execute(
        text(
            "UPDATE audit_heads SET seq = 9, frontier = NULL, "
            "hash = (SELECT hash FROM audit_log WHERE school_id = :s AND seq = 9) WHERE school_id = :s"
        ),
        {"s": s},
    )


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.detail: dict[str, Any] = {}


TAMPERS: dict[str, tuple[Callable[[AsyncConnection, uuid.UUID], Any], int, str]] = {
    "modified": (_modify, K, "modified"),
    "deleted": (_delete, K, "missing"),
    "deleted-last": (_delete_last, 10, "missing"),
    "deleted-renumbered": (_delete_and_renumber, K, "does not follow"),
    "inserted": (_insert, K, "inserted"),
    "inserted-past-head": (_append_past_head, 11, "beyond the chain head"),
    "reordered": (_reorder, K, "does not follow"),
    "rewritten-and-rechained": (_rewrite_and_rechain, K, "was rewritten"),
    "head-forged": (_forge_head, 7, "signature does not verify"),
    "tail-and-chain-head-removed": (_drop_tail_and_move_head, 10, "signed tree head of size 10"),
}


@pytest.mark.parametrize("kind", list(TAMPERS))
async def test_verify_names_the_first_bad_entry(
    factory: SchoolFactory, engine: AsyncEngine, owner_engine: AsyncEngine, kind: str
) -> None:
    """LRS 5.1: an owner who disables the triggers and modifies, deletes, inserts or reorders entries,
    recomputes the chain after a change, cuts the tail and moves the chain head back, or forges a stored
    tree head is found out: verification names the first bad sequence number. An intact log verifies."""
    school = await _school_with_entries(factory, engine, 10)
    intact = await verify(engine, school.id, KEYS)
    assert (intact.fault, intact.entries, intact.heads, intact.pending) == (None, 10, 10, 0)
    change, seq, words = TAMPERS[kind]
    await tamper(owner_engine, school.id, lambda c: change(c, school.id))
    verdict = await verify(engine, school.id, KEYS)
    assert verdict.fault is not None, kind
    assert (verdict.fault.seq, words in verdict.fault.reason) == (seq, True), verdict.fault


async def test_verify_tolerates_appends_while_it_runs(
    factory: SchoolFactory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LRS 5.1: verifying a school in use is no false alarm: entries committed after the head was read
    continue the chain and are accepted (nothing is locked while verifying)."""
    import audit.verify as verify_module
    from audit.store import stream_entries

    school = await _school_with_entries(factory, engine, 3)
    original = stream_entries

    async def append_then_read(session: AsyncSession, school_id: uuid.UUID) -> AsyncIterator[Any]:
        await _append(engine, school.id, "meanwhile.1", "meanwhile.2", request_id="meanwhile")
        await sequence(engine, school.id, KEYS)
        async for row in original(session, school_id):
            yield row

    monkeypatch.setattr(verify_module, "stream_entries", append_then_read)
    async with AsyncSession(engine) as session, session.begin():
        verdict = await verify_module.verify_school(session, school.id, school.slug, keys=KEYS)
    assert (verdict.fault, verdict.entries) == (None, 5)


def _cli_env(database_urls: DatabaseUrls, data_dir: Path) -> dict[str, str]:
    """The environment of a `schoolgraph` command run on the suite's database with this module's key."""
    return {
        **os.environ,
        "DATABASE_URL": database_urls.owner.render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        "SCHOOLGRAPH_SIGNING_KEYS": KEYS.to_json(),
    }


async def test_cli_verify_reports_the_first_bad_entry(
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    database_urls: DatabaseUrls,
    tmp_path: Path,
) -> None:
    """LRS 5.1: `schoolgraph audit verify --school SLUG` passes on an intact chain and, after the
    owner modified an entry, exits 1 naming the school and the first bad sequence number."""
    school = await _school_with_entries(factory, engine, 6)
    env = _cli_env(database_urls, tmp_path)
    command = [sys.executable, "-m", "server.cli", "audit", "verify", "--school", school.slug]
    ok = await anyio.run_process(command, cwd=REPO_ROOT, env=env, check=False, stderr=subprocess.STDOUT)
    assert ok.returncode == 0, ok.stdout.decode()
    assert f"{school.slug}: 6 entries, 6 signed heads, intact" in ok.stdout.decode()

    await tamper(owner_engine, school.id, lambda c: _modify(c, school.id))
    bad = await anyio.run_process(command, cwd=REPO_ROOT, env=env, check=False, stderr=subprocess.STDOUT)
    output = bad.stdout.decode()
    assert bad.returncode == 1, output
    assert f"{school.slug}: entry {K} no longer matches its hash (modified)" in output


# --- concurrency and the sequencer ------------------------------------------------------------------------


async def test_twenty_concurrent_requests_leave_one_valid_log(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: 20 mutations of one school at once: every one is recorded (pending until sequenced), then
    one sequencer run numbers them 1..N without gaps and the log verifies under a signed head."""
    school = await factory.school(pupils_per_group=1)
    token = await login(client, school.slug, "admin")
    group = to_global_id("Group", school.groups["A"].id)
    mutation = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"
    results = await asyncio.gather(
        *(
            gql(client, school.slug, mutation, {"i": {"groupId": group, "name": f"Class {n}"}}, token=token)
            for n in range(20)
        )
    )
    assert all(r["data"]["updateGroup"]["errors"] == [] for r in results)
    found = await entries(engine, school.id)
    assert sum(e.action == "mutation.updateGroup" and e.outcome == "SUCCESS" for e in found) == 20
    assert all(e.seq is None and e.hash is None for e in found)  # the requests only inserted
    done = await sequence(engine, school.id, KEYS)
    assert (done.entries, done.tree_size) == (len(found), len(found))
    found = await entries(engine, school.id)
    assert [e.seq for e in found] == list(range(1, len(found) + 1))
    verdict = await verify(engine, school.id, KEYS)
    assert (verdict.fault, verdict.entries, verdict.pending, verdict.heads) == (None, len(found), 0, 1)


async def test_writers_at_one_school_never_wait_for_each_other(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Issue 15: a request's transaction only inserts its entries. While one writer of a school holds its
    transaction open after recording, twenty others record and commit with a lock timeout of 50 ms (any
    wait for a lock would fail them), and the first commits last: every entry is there, then in the chain."""
    school = await _school_with_entries(factory, engine, 2)

    async def record(session: AsyncSession, n: int) -> None:
        await bind(session, [school.id])
        await session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        await append(
            session,
            school.id,
            [Event(f"concurrent.{n}.{i}", "SUCCESS") for i in range(3)],
            actor=ACTOR,
            request_id=f"writer-{n}",
            client_address=None,
            now=clock.now() + timedelta(microseconds=n),
        )

    async with AsyncSession(engine) as first, first.begin():
        await record(first, 0)

        async def other(n: int) -> None:
            async with AsyncSession(engine) as session, session.begin():
                await record(session, n)

        await asyncio.gather(*(other(n) for n in range(1, 21)))
        # The others committed while the first is still open: their entries are there, pending.
        assert len(await entries(engine, school.id)) == 2 + 60
    assert (await sequence(engine, school.id, KEYS)).entries == 63
    found = await entries(engine, school.id)
    assert [e.seq for e in found] == list(range(1, 66))
    assert len({e.request_id for e in found}) == 2 + 21
    assert sum(e.request_id == "writer-0" for e in found) == 3  # committed last, sequenced all the same
    verdict = await verify(engine, school.id, KEYS)
    assert (verdict.fault, verdict.entries) == (None, 65)


async def test_one_sequencer_at_a_time_per_school(factory: SchoolFactory, engine: AsyncEngine) -> None:
    """Issue 15: while another sequencer (another instance, the jobs runner) holds a school, a run leaves
    the school to it and changes nothing; afterwards the next run sequences everything."""
    school = await _school_with_entries(factory, engine, 1)
    await _append(engine, school.id, "later.1", "later.2")
    async with AsyncSession(engine) as holder, holder.begin():
        await bind(holder, [school.id])
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"audit:{school.id}"}
        )
        busy = await sequence(engine, school.id, KEYS)
        assert (busy.busy, busy.entries) == (True, 0)
        assert [e.seq for e in await entries(engine, school.id)] == [1, None, None]
    done = await sequence(engine, school.id, KEYS)
    assert (done.busy, done.entries, done.tree_size) == (False, 2, 3)


# --- many schools in one run ------------------------------------------------------------------------------


@contextlib.contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements ``engine``'s connections send meanwhile (BEGIN and COMMIT are not among them)."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def _pending_in(factory: SchoolFactory, engine: AsyncEngine, counts: list[int]) -> list[SchoolData]:
    """Schools whose logs have one sequenced entry, then ``counts[i]`` pending ones."""
    schools = [await _school_with_entries(factory, engine, 1) for _ in counts]
    for school, count in zip(schools, counts, strict=True):
        await _append(
            engine, school.id, *(f"later.{i}" for i in range(count)), request_id=f"later-{school.slug}"
        )
    return schools


async def _head_ahead_of_its_entries(owner_engine: AsyncEngine, school_id: uuid.UUID, by: int) -> None:
    """The school's head moved ``by`` entries past its last one, its frontier gone: a state the sequencer must
    refuse to build on (it rebuilds the frontier from the entries and finds too few)."""

    async def change(c: AsyncConnection) -> None:
        await c.execute(
            text("UPDATE audit_heads SET seq = seq + :by, frontier = NULL WHERE school_id = :s"),
            {"s": school_id, "by": by},
        )

    await tamper(owner_engine, school_id, change)


async def test_a_run_over_many_schools_costs_the_statements_of_one(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1 at scale: the server's sequencer, woken for every school that recorded something, sequences
    them together: one transaction of five statements (binding, locks, pending entries, heads, the write)
    for two schools as for six (on Citus, a transaction per school), and every school's chain and tree then
    verify under its own signed head."""
    from audit.sequencer import sequence_schools

    few = await _pending_in(factory, engine, [2, 3])
    many = await _pending_in(factory, engine, [1, 2, 3, 4, 5, 6])
    with _statements(engine) as sent_for_few:
        ran_few = await sequence_schools(engine, [s.id for s in few], KEYS, now=clock.now())
    with _statements(engine) as sent_for_many:
        ran_many = await sequence_schools(engine, [s.id for s in many], KEYS, now=clock.now())
    if ON_CITUS:  # a transaction per school, on its shards alone: the same statements for each
        assert len(sent_for_many) == 3 * len(sent_for_few)
    else:
        assert len(sent_for_few) == len(sent_for_many) == 5
    assert ran_few.failed == ran_many.failed == {}
    for outcome, schools, counts in ((ran_few, few, [2, 3]), (ran_many, many, [1, 2, 3, 4, 5, 6])):
        by_school = {done.school_id: done for done in outcome.done}
        for school, count in zip(schools, counts, strict=True):
            done = by_school[school.id]
            assert (done.busy, done.entries, done.tree_size) == (False, count, 1 + count)
            found = await entries(engine, school.id)
            assert [e.seq for e in found] == list(range(1, count + 2))
            assert {e.request_id for e in found[1:]} == {f"later-{school.slug}"}
            verdict = await verify(engine, school.id, KEYS)
            assert (verdict.fault, verdict.pending, verdict.entries) == (None, 0, 1 + count)


async def test_a_run_whose_batch_ends_inside_a_school_finishes_every_school(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: a run reads at most a batch of pending entries in each transaction, in school and insertion
    order; the school the batch ends in, and those after it, are taken up by the next transaction, each
    entry sequenced once, in order."""
    from audit.sequencer import sequence_schools

    schools = await _pending_in(factory, engine, [2, 4, 1])
    outcome = await sequence_schools(engine, [s.id for s in schools], KEYS, now=clock.now(), batch=3)
    assert outcome.failed == {}
    assert sorted((d.entries, d.tree_size) for d in outcome.done) == [(1, 2), (2, 3), (4, 5)]
    for school in schools:
        found = await entries(engine, school.id)
        assert [e.seq for e in found] == list(range(1, len(found) + 1))
        assert [e.action for e in found[1:]] == [f"later.{i}" for i in range(len(found) - 1)]
        verdict = await verify(engine, school.id, KEYS)
        assert (verdict.fault, verdict.pending) == (None, 0)


async def test_a_run_leaves_a_held_school_and_a_broken_one_and_sequences_the_rest(
    factory: SchoolFactory, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    """LRS 5.1: in a run over several schools, a school another sequencer holds is left to it (busy) and a
    school whose head does not match its entries is named with why, its entries left pending; neither holds
    back the others, which are sequenced and verify."""
    from audit.sequencer import sequence_schools

    held, broken, fine, also_fine = await _pending_in(factory, engine, [1, 2, 3, 1])

    await _head_ahead_of_its_entries(owner_engine, broken.id, 5)
    schools = [s.id for s in (held, broken, fine, also_fine)]
    async with AsyncSession(engine) as holder, holder.begin():
        await bind(holder, [held.id])
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"audit:{held.id}"}
        )
        outcome = await sequence_schools(engine, schools, KEYS, now=clock.now())
    assert list(outcome.failed) == [broken.id]
    assert "1 entries up to head 6" in str(outcome.failed[broken.id])
    by_school = {done.school_id: done for done in outcome.done}
    assert set(by_school) == {held.id, fine.id, also_fine.id}
    assert (by_school[held.id].busy, by_school[held.id].entries) == (True, 0)
    assert (by_school[fine.id].entries, by_school[also_fine.id].entries) == (3, 1)
    assert [e.seq for e in await entries(engine, broken.id)] == [1, None, None]
    assert [e.seq for e in await entries(engine, held.id)] == [1, None]
    for school in (fine, also_fine):
        verdict = await verify(engine, school.id, KEYS)
        assert (verdict.fault, verdict.pending) == (None, 0)
    again = await sequence_schools(engine, [held.id], KEYS, now=clock.now())
    assert [(d.busy, d.entries, d.tree_size) for d in again.done] == [(False, 1, 2)]


async def test_cli_sequence_names_a_school_it_could_not_sequence(
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    database_urls: DatabaseUrls,
    tmp_path: Path,
) -> None:
    """LRS 5.1: `schoolgraph audit sequence` sequences every school's pending entries; a school whose head
    does not match its entries is named with why, its entries left pending, and the command exits 1."""
    broken, fine = await _pending_in(factory, engine, [2, 3])

    await _head_ahead_of_its_entries(owner_engine, broken.id, 2)
    env = _cli_env(database_urls, tmp_path)
    command = [sys.executable, "-m", "server.cli", "audit", "sequence"]
    ran = await anyio.run_process(command, cwd=REPO_ROOT, env=env, check=False, stderr=subprocess.STDOUT)
    output = ran.stdout.decode()
    assert ran.returncode == 1, output
    assert f"{fine.id}: 3 sequenced, tree size 4" in output
    assert (
        f"{broken.id}: not sequenced, its entries left pending: audit log of school {broken.id}: 1" in output
    )
    assert [e.seq for e in await entries(engine, broken.id)] == [1, None, None]
    verdict = await verify(engine, fine.id, KEYS)
    assert (verdict.fault, verdict.pending, verdict.entries) == (None, 0, 4)


async def test_a_crash_between_commit_and_sequencing_loses_no_event(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Issue 15: requests commit while no sequencer runs (the server stopped right after the commits):
    their entries are committed, readable and verifiable as pending, and `jobs run`'s audit step
    sequences every one of them afterwards."""
    from server.jobs import run_jobs
    from subscriptions.outbox import MailSettings

    school = await factory.school(pupils_per_group=1)
    token = await login(client, school.slug, "admin")
    group = to_global_id("Group", school.groups["A"].id)
    mutation = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"
    for n in range(3):
        await gql(client, school.slug, mutation, {"i": {"groupId": group, "name": f"Crash {n}"}}, token=token)
    pending = await verify(engine, school.id, KEYS)
    assert (pending.fault, pending.entries, pending.pending) == (
        None,
        0,
        len(await entries(engine, school.id)),
    )
    report = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=tmp_path,
        mail=MailSettings(),
        now=clock.now(),
        steps=["audit"],
        keys=KEYS,
    )
    assert any(line.startswith(f"{school.id}:") for line in report.step("audit").applied)
    found = await entries(engine, school.id)
    assert sum(e.action == "mutation.updateGroup" for e in found) == 3
    assert [e.seq for e in found] == list(range(1, len(found) + 1))
    verdict = await verify(engine, school.id, KEYS)
    assert (verdict.fault, verdict.entries, verdict.pending) == (None, len(found), 0)


async def test_the_server_sequencer_runs_after_commits(
    factory: SchoolFactory, engine: AsyncEngine, runtime: Any
) -> None:
    """Issue 15: in a server whose sequencer runs (started as the app's lifespan starts it), the commit of
    a request that recorded something wakes it, and it sequences the school's entries under a head signed
    with the platform's key, with no interval sweep (30 s) involved."""
    from audit.sequencer import AuditSequencer
    from server.runtime import build_runtime
    from tests.factories.apps import app_client

    school = await factory.school(pupils_per_group=1)
    serving = build_runtime(runtime.settings, engine, runtime.auth.keys, clock=runtime.clock)
    sequencer = serving.audit_sequencer
    assert isinstance(sequencer, AuditSequencer)
    sequencer.interval, sequencer.settle = 30, 0
    sequencer.start()
    try:
        async with app_client(serving) as client:
            token = await login(client, school.slug, "admin")
            await gql(client, school.slug, "{ pupils { edges { node { id } } } }", token=token)
        for _ in range(250):
            found = await entries(engine, school.id)
            if len(found) >= 2 and all(e.seq is not None for e in found):
                break
            await asyncio.sleep(0.02)
    finally:
        await sequencer.stop()
    assert {"auth.login", "read.pupils"} <= {e.action for e in found}
    assert [e.seq for e in found] == list(range(1, len(found) + 1))
    verdict = await verify(engine, school.id, runtime.auth.keys)
    assert (verdict.fault, verdict.pending, verdict.entries) == (None, 0, len(found))


# --- heads kept outside the database ----------------------------------------------------------------------


async def _rewrite_log_and_heads(c: AsyncConnection, s: uuid.UUID, keys: SigningKeys = KEYS) -> None:
    """The owner who holds the database and the platform key: changes entry 3, recomputes the chain, the
    tree, ``audit_heads`` and every stored signed tree head (signed again). Nothing inside the database
    shows it."""
    from audit.merkle import Frontier, head_payload, leaf_hash
    from audit.sequencer import HEAD_TYPE

    await c.execute(
        text("UPDATE audit_log SET outcome = 'DENIED' WHERE school_id = :s AND seq = 3"), {"s": s}
    )
    await _rechain_from(c, s, 3)
    heads = (
        (await c.execute(text("SELECT * FROM audit_tree_heads WHERE school_id = :s"), {"s": s}))
        .mappings()
        .all()
    )
    await c.execute(text("DELETE FROM audit_tree_heads WHERE school_id = :s"), {"s": s})
    rows = (
        await c.execute(text("SELECT * FROM audit_log WHERE school_id = :s ORDER BY seq"), {"s": s})
    ).mappings()
    frontier = Frontier()
    sizes = {h["tree_size"]: h["signed_at"] for h in heads}
    for row in rows:
        frontier.append(leaf_hash(SimpleNamespace(**row)))
        if row["seq"] in sizes:
            root, at = frontier.root(), sizes[row["seq"]]
            payload = head_payload(
                school_id=s, tree_size=row["seq"], root_hash=root, chain_hash=row["hash"], signed_at=at
            )
            await c.execute(
                text(
                    "INSERT INTO audit_tree_heads (school_id, tree_size, root_hash, chain_hash, signed_at, signature) "
                    "VALUES (:s, :n, :r, :h, :at, :sig)"
                ),
                {
                    "s": s,
                    "n": row["seq"],
                    "r": root,
                    "h": row["hash"],
                    "at": at,
                    "sig": keys.sign_jws(payload, typ=HEAD_TYPE),
                },
            )
    await c.execute(
        text("UPDATE audit_heads SET frontier = :f WHERE school_id = :s"), {"s": s, "f": frontier.hashes}
    )


async def test_an_owner_who_rewrites_entries_and_heads_is_caught_by_the_anchor(
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    database_urls: DatabaseUrls,
    tmp_path: Path,
) -> None:
    """LRS 5.1, issue 15: `schoolgraph audit head` exports each school's latest signed tree head as JSON;
    kept outside the database (here: a file the heads were appended to after entries 2, 4 and 6), they
    catch an owner who rewrote entry 3 and then every hash and signed head in the database: `audit verify`
    alone passes, `audit verify --anchor FILE` exits 1 naming entry 3 (the first entry after the last
    anchored head that still holds) and the anchored head it contradicts."""
    school = await factory.school(pupils_per_group=1)
    env = _cli_env(database_urls, tmp_path)
    cli = [sys.executable, "-m", "server.cli", "audit"]
    anchor = tmp_path / "anchored-heads.jsonl"
    for i in range(6):
        await _append(engine, school.id, f"test.action{i + 1}", request_id=f"req-{i + 1}")
        await sequence(engine, school.id, KEYS)
        if i % 2 == 1:
            head = await anyio.run_process([*cli, "head", "--school", school.slug], cwd=REPO_ROOT, env=env)
            exported = json.loads(head.stdout)
            assert (exported["slug"], exported["tree_size"], exported["school_id"]) == (
                school.slug,
                i + 1,
                str(school.id),
            )
            with anchor.open("a") as kept:
                kept.write(head.stdout.decode())
    verify_cli = [*cli, "verify", "--school", school.slug]
    ok = await anyio.run_process([*verify_cli, "--anchor", str(anchor)], cwd=REPO_ROOT, env=env, check=False)
    assert ok.returncode == 0 and f"{school.slug}: 6 entries, 9 signed heads, intact" in ok.stdout.decode()

    await tamper(owner_engine, school.id, lambda c: _rewrite_log_and_heads(c, school.id))
    fooled = await anyio.run_process(verify_cli, cwd=REPO_ROOT, env=env, check=False)
    assert fooled.returncode == 0, fooled.stdout.decode()  # inside the database, everything agrees
    caught = await anyio.run_process(
        [*verify_cli, "--anchor", str(anchor)], cwd=REPO_ROOT, env=env, check=False, stderr=subprocess.STDOUT
    )
    output = caught.stdout.decode()
    assert caught.returncode == 1, output
    assert (
        f"{school.slug}: entry 3 was rewritten: entries 3 to 4 no longer match the anchored signed tree head of size 4"
        in output
    )


async def test_the_sequencer_reports_how_long_the_oldest_entry_waited(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1 in operation: at each sweep the server's sequencer reports the age of the oldest entry not
    yet sequenced (the ``schoolgraph_audit_sequencing_lag_seconds`` gauge), then sequences it."""
    from audit.sequencer import AuditSequencer, pending

    school = await factory.school(pupils_per_group=1)
    token = await login(client, school.slug, "admin")
    group = to_global_id("Group", school.groups["A"].id)
    mutation = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"
    body = await gql(client, school.slug, mutation, {"i": {"groupId": group, "name": "Class Z"}}, token=token)
    assert body["data"]["updateGroup"]["errors"] == []
    waiting, oldest = await pending(engine)
    assert school.id in waiting and oldest is not None and oldest <= clock.now()
    clock.CLOCK.advance(timedelta(seconds=90))
    lags: list[float] = []
    sequencer = AuditSequencer(engine, KEYS, clock.CLOCK, interval=0.01, settle=0, on_lag=lags.append)
    sequencer.start()
    try:
        with anyio.fail_after(60):
            while not lags or school.id in (await pending(engine))[0]:  # noqa: ASYNC110 - the database signals nothing
                await asyncio.sleep(0.05)
    finally:
        await sequencer.stop()
    assert lags[0] >= 90
    assert all(e.seq is not None for e in await entries(engine, school.id))

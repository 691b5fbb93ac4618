"""A request's audit entries travel with its COMMIT: one message to the server (common/commit.py, ADR 6).

On plain PostgreSQL the trail's insert (``app_audit_append``, migration 0027) and the COMMIT are sent as
one simple-protocol message; the entries' values are written into the statement's text, so what a caller can put in them (names, titles,
paths) must not be able to end the constant that carries them. On Citus the trail is inserted, then
committed (audit/recorder.py: append_and_commit), as before.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.recorder import _INSERTED, Actor, Event, append, append_and_commit
from common.clock import FixedClock
from graph.core.relay import to_global_id
from server.runtime import Runtime
from tenants.context import bind
from tests.factories.apps import app_client
from tests.factories.audit import entries, sequence, verify
from tests.factories.messages import APPEND, BEGIN_BOUND, ENTER, kind
from tests.factories.schools import SchoolFactory, gql, login
from tests.test_audit_spool import _runtime

pytestmark = pytest.mark.plain_only(reason="on Citus the trail is inserted, then committed: two messages")

RENAME = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"
SYSTEM = Actor("SYSTEM")


async def test_a_request_s_entries_and_its_commit_are_one_message(
    recording: tuple[AsyncEngine, list[str]], runtime: Runtime, factory: SchoolFactory, tmp_path: Any
) -> None:
    """LRS 5.1: a mutation's entry is committed with the mutation, in the same message as its COMMIT (no
    COMMIT of its own follows), and the connection's next request begins a transaction of its own. The
    request's first statement runs alone; its transaction begins, bound to the school, when the mutation
    reads: four round trips, as when BEGIN came first."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    group = to_global_id("Group", school.groups["A"].id)
    async with app_client(_runtime(runtime, tmp_path, engine)) as client:
        token = await login(client, school.slug, "admin")
        sent.clear()
        for name in ("Kestrels", "Merlins"):
            answer = await gql(
                client, school.slug, RENAME, {"i": {"groupId": group, "name": name}}, token=token
            )
            assert answer["data"]["updateGroup"]["errors"] == []
    assert [kind(m, school.id) for m in sent] == [ENTER, BEGIN_BOUND, APPEND] * 2, sent
    found = await entries(runtime.engine, school.id, "mutation.updateGroup")
    assert [(e.outcome, e.target_id, e.request_id is not None) for e in found] == [
        ("SUCCESS", school.groups["A"].id, True)
    ] * 2
    async with AsyncSession(runtime.engine) as session, session.begin():
        await bind(session, [school.id])
        renamed = await session.execute(
            text("SELECT name FROM groups WHERE id = :g"), {"g": school.groups["A"].id}
        )
        assert renamed.scalar_one() == "Merlins"


async def test_a_request_that_reads_nothing_more_is_its_first_statement_alone(
    recording: tuple[AsyncEngine, list[str]], runtime: Runtime, factory: SchoolFactory, tmp_path: Any
) -> None:
    """A query that reads nothing after the school and caller and records no entry (``{ viewer }``) is one
    round trip: its first statement, in a transaction of its own, with no BEGIN before it and no COMMIT
    after it (common/driver.py); a mutation after two of them on the same connection begins its own
    transaction, bound to the school, and is committed with its entry, in one message."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    group = to_global_id("Group", school.groups["A"].id)
    async with app_client(_runtime(runtime, tmp_path, engine)) as client:
        token = await login(client, school.slug, "admin")
        sent.clear()
        for _ in range(2):
            viewer = await gql(client, school.slug, "{ viewer { username } }", token=token)
            assert viewer["data"]["viewer"] == {"username": "admin"}, viewer
        answer = await gql(
            client, school.slug, RENAME, {"i": {"groupId": group, "name": "Kites"}}, token=token
        )
        assert answer["data"]["updateGroup"]["errors"] == []
    assert [kind(m, school.id) for m in sent] == [ENTER, ENTER, ENTER, BEGIN_BOUND, APPEND], sent
    assert [e.outcome for e in await entries(runtime.engine, school.id, "mutation.updateGroup")] == [
        "SUCCESS"
    ]


TRICKY = [
    "$v$",
    "$v$); DROP TABLE pupils; --",
    "$$",
    "it's",
    "back\\slash \\u0024",
    'a "quoted" word',
    "Zoë, Łukasz and 王芳\nnew line\ttab",
    "$",
]


async def test_entries_that_could_end_their_quote_are_stored_as_given(
    factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 5.1: whatever text an entry carries (dollar quotes, quotes, backslashes, escapes, non-ASCII) is
    stored exactly, nothing of it runs as SQL, and the entries chain and verify as any others."""
    school = await factory.school(pupils_per_group=1)
    async with AsyncSession(engine) as session:
        transaction = await session.begin()
        await bind(session, [school.id])
        events = [Event("test.text", "SUCCESS", None, None, {"text": t, "$v$": [t]}, None) for t in TRICKY]
        await append_and_commit(
            session,
            transaction,
            school.id,
            events,
            actor=SYSTEM,
            request_id="tricky",
            client_address="198.51.100.7",
            now=runtime.clock.now(),
        )
    stored = await entries(engine, school.id, "test.text")
    assert [e.detail for e in stored] == [{"text": t, "$v$": [t]} for t in TRICKY]
    assert {(e.request_id, e.client_address, e.actor_type) for e in stored} == {
        ("tricky", "198.51.100.7", "SYSTEM")
    }
    assert {e.occurred_at for e in stored} == {runtime.clock.now()}
    await sequence(engine, school.id, runtime.auth.keys)
    verdict = await verify(engine, school.id, runtime.auth.keys)
    assert (verdict.fault, verdict.pending) == (None, 0)


async def test_a_failed_statement_commits_nothing_and_the_connection_goes_on(
    factory: SchoolFactory, recording: tuple[AsyncEngine, list[str]], clock: FixedClock
) -> None:
    """When the statement sent with the COMMIT fails, the COMMIT does not run: nothing of the transaction
    is kept (an entry appended earlier in it included), the owner's rollback ends it, and the connection's
    next transaction is a top-level one of its own."""
    engine, sent = recording
    school, other = await factory.school(pupils_per_group=1), await factory.school(pupils_per_group=1)
    written = {"actor": SYSTEM, "request_id": None, "client_address": None, "now": clock.now()}
    async with AsyncSession(engine) as session:
        transaction = await session.begin()
        await bind(session, [school.id])
        await append(session, school.id, [Event("test.kept", "SUCCESS")], **written)
        # Another school's entry: row-level security refuses it (the transaction is bound to one school).
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await append_and_commit(
                session, transaction, other.id, [Event("test.refused", "SUCCESS")], **written
            )
        await transaction.rollback()
    assert [kind(m) for m in sent[-2:]] == [APPEND, "ROLLBACK"], sent
    assert await entries(engine, school.id, "test.kept") == []
    assert await entries(engine, other.id, "test.refused") == []
    sent.clear()
    async with AsyncSession(engine) as session:
        transaction = await session.begin()
        await bind(session, [school.id])
        await append_and_commit(session, transaction, school.id, [Event("test.after", "SUCCESS")], **written)
    assert [kind(m) for m in sent] == ["BEGIN", APPEND], sent  # BEGIN, not a SAVEPOINT
    assert [e.action for e in await entries(engine, school.id, "test.after")] == ["test.after"]


async def test_the_function_inserts_every_column_a_request_writes(engine: AsyncEngine) -> None:
    """When the log gains a column, this fails: write a migration that replaces app_audit_append with the
    new column list (as 0027 wrote it), and add the column to what audit.recorder writes."""
    async with engine.connect() as connection:
        source = (
            await connection.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'app_audit_append'"))
        ).scalar_one()
        columns = (
            await connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_log' "
                    "AND column_name NOT IN ('id', 'seq', 'prev_hash', 'hash') ORDER BY ordinal_position"
                )
            )
        ).scalars()
    written = ", ".join(columns)
    assert f"INSERT INTO audit_log ({written})" in source
    assert f"SELECT {written} FROM jsonb_populate_recordset(NULL::audit_log, entries)" in source
    assert set(written.split(", ")) == set(_INSERTED)

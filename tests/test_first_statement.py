"""A request's first statement runs in a transaction of its own; what follows begins one, bound to the
school (common/driver.py, ADR 13, seventh pass).

``app_enter_school`` binds the school for row-level security with ``set_config(..., true)``, local to its
transaction. Sent outside a transaction block, it runs in an implicit one, so the binding ends with it; the
connection keeps the binding as a statement and sends it with BEGIN if the request sends anything else.
These tests hold what must not go wrong: what follows is bound to the request's school, a refusal's entry
still reaches the school's log, and the binding kept reaches nothing after the request on its connection.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.principal import _binding_of
from common.driver import fetch_first_row
from graph.core.relay import to_global_id
from server.runtime import Runtime
from tenants.context import binding_statement
from tests.factories.apps import app_client
from tests.factories.audit import entries
from tests.factories.messages import APPEND, BEGIN_BOUND, ENTER, kind
from tests.factories.schools import SchoolFactory, gql, login
from tests.test_audit_spool import _runtime

pytestmark = pytest.mark.plain_only(reason="on Citus the school is bound with SET LOCAL in the transaction")


PUPILS = "{ pupils(first: 50) { edges { node { id } } } }"


def _pupil_ids(answer: dict[str, Any]) -> set[str]:
    return {edge["node"]["id"] for edge in answer["data"]["pupils"]["edges"]}


async def test_what_a_request_reads_after_its_first_statement_is_bound_to_its_school(
    recording: tuple[AsyncEngine, list[str]], runtime: Runtime, factory: SchoolFactory, tmp_path: Any
) -> None:
    """Two schools' admins take turns on one connection: each request's reads begin a transaction bound to
    its own school (BEGIN and the binding in one message), and each sees exactly its school's pupils."""
    engine, sent = recording
    first, second = await factory.school(pupils_per_group=2), await factory.school(pupils_per_group=2)
    async with app_client(_runtime(runtime, tmp_path, engine)) as client:
        tokens = {s.id: await login(client, s.slug, "admin") for s in (first, second)}
        seen: dict[uuid.UUID, list[set[str]]] = {first.id: [], second.id: []}
        for school in (first, second, first, second):
            sent.clear()
            answer = await gql(client, school.slug, PUPILS, token=tokens[school.id])
            seen[school.id].append(_pupil_ids(answer))
            assert [kind(m, school.id) for m in sent] == [ENTER, BEGIN_BOUND, APPEND], sent
    for school in (first, second):
        own = {str(to_global_id("Pupil", pupil.id)) for pupil in school.pupils.values()}
        assert len(own) == 4 and seen[school.id] == [own, own]
    assert not seen[first.id][0] & seen[second.id][0]


async def test_a_refused_read_s_entry_goes_with_its_begin_and_binding_in_one_message(
    recording: tuple[AsyncEngine, list[str]], runtime: Runtime, factory: SchoolFactory, tmp_path: Any
) -> None:
    """LRS 5.1: an anonymous caller's read of the pupils is refused and recorded in the school's log. The
    request sends two messages: its first statement, then BEGIN, the binding, the entry and COMMIT."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    async with app_client(_runtime(runtime, tmp_path, engine)) as client:
        await gql(client, school.slug, "{ viewer { username } }")  # the engine's first connection set up
        sent.clear()
        answer = await gql(client, school.slug, PUPILS)
    assert answer["data"] is None or answer["data"].get("pupils") is None, answer
    assert [kind(m, school.id) for m in sent] == [ENTER, f"{BEGIN_BOUND};{APPEND}"], sent
    denied = await entries(runtime.engine, school.id, "permission.denied")
    assert [(e.outcome, e.actor_type, e.detail["path"]) for e in denied] == [
        ("DENIED", "ANONYMOUS", "pupils")
    ]


@pytest.mark.parametrize("ending", ["commit", "rollback"])
async def test_the_binding_kept_reaches_nothing_after_the_request(
    recording: tuple[AsyncEngine, list[str]],
    runtime: Runtime,
    factory: SchoolFactory,
    tmp_path: Any,
    ending: str,
) -> None:
    """After a request whose first statement ran alone (the binding kept, never sent), the same pooled
    connection's next user, a session that binds nothing (a job, the platform endpoint), begins an unbound
    transaction: no school is bound and row-level security shows it no pupil. The request ends either
    way: a ``{ viewer }`` commits; a mutation sent over GET is refused (405) after the school and caller
    were read, and rolls back (its refusal is then recorded on the same connection, which must begin
    unbound too)."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=2)
    async with app_client(_runtime(runtime, tmp_path, engine)) as client:
        token = await login(client, school.slug, "admin")
        sent.clear()
        if ending == "commit":
            viewer = await gql(client, school.slug, "{ viewer { username } }", token=token)
            assert viewer["data"]["viewer"] == {"username": "admin"}
            assert [kind(m, school.id) for m in sent] == [ENTER], sent
        else:
            refused = await client.get(
                f"/schools/{school.slug}/graphql",
                params={"query": "mutation { logout }"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert (refused.status_code, refused.json()["errors"][0]["extensions"]["code"]) == (
                405,
                "METHOD_NOT_ALLOWED",
            )
            # The refusal is recorded in a transaction of its own, on the connection given back: it begins
            # unbound (a plain BEGIN) and binds itself, as every transaction but a request's does.
            assert [kind(m, school.id) for m in sent] == [ENTER, "BEGIN", "COMMIT"], sent
    sent.clear()
    async with AsyncSession(engine) as session, session.begin():
        bound = await session.execute(text("SELECT coalesce(current_setting('app.school_ids', true), '')"))
        pupils = await session.execute(text("SELECT count(*) FROM pupils"))
        assert (bound.scalar_one(), pupils.scalar_one()) == ("", 0)
    assert [kind(m) for m in sent] == ["BEGIN", "COMMIT"], sent


async def test_a_transaction_asked_with_its_own_isolation_keeps_its_first_statement_inside_it(
    recording: tuple[AsyncEngine, list[str]], factory: SchoolFactory
) -> None:
    """A caller that asks its transaction to be REPEATABLE READ gets its first statement in that
    transaction's snapshot (BEGIN sent first, as asyncpg sends it), not in a transaction of its own; a
    plain one gets it alone, and BEGIN with the binding after it."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    statement = "SELECT $1::uuid AS school_id"
    shows = text(
        "SELECT current_setting('transaction_isolation'), "
        "coalesce(current_setting('app.school_ids', true), ''), "
        "(SELECT count(*) FROM pupils)"
    )
    seen = []
    for options in ({"isolation_level": "REPEATABLE READ"}, {}):
        async with AsyncSession(engine) as session, session.begin():
            connection = await session.connection(execution_options=options)
            sent.clear()
            row = await fetch_first_row(connection, statement, [school.id], _binding_of)
            assert row is not None and row[0] == school.id
            seen.append(((await session.execute(shows)).one(), [kind(m, school.id) for m in sent]))
    assert seen == [
        (("repeatable read", "", 0), ["BEGIN", "SELECT"]),
        (("read committed", str(school.id), 2), ["SELECT", BEGIN_BOUND]),
    ], seen


def test_the_binding_statement_splices_only_a_canonical_uuid() -> None:
    """The binding sent with BEGIN carries its school in its text: only a UUID's canonical form gets
    there; anything else is refused before it is sent."""
    school = uuid.UUID("6f1c2b0e-8d1f-4b7a-9c55-0e6a8c1d2f3a")
    assert binding_statement(school) == (
        "SELECT set_config('app.school_ids', '6f1c2b0e-8d1f-4b7a-9c55-0e6a8c1d2f3a', true), "
        "set_config('app.trust_ids', '', true)"
    )
    with pytest.raises(ValueError, match="badly formed"):
        binding_statement("6f1c2b0e', true); DROP TABLE pupils; --")

"""Principals kept between requests (auth/kept.py, migration 0033; ADR 13, twelfth pass).

A server keeps each caller's principal with the versions it was read at, and the database confirms them in
the request's one round trip. What must hold: a write through *another* server (or by hand) reaches this
server's very next request, whatever it changed (a teacher's classes, a leaver, a sign-out, a document to
accept); a document coming into force reaches it with no write at all; and every table the principal is
read from raises the epoch. tests/test_enter_school_function.py holds the kept answer to the separate
statements' after each kind of write, for every role.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.util import find_tables

from auth.principal import _principal_stmt
from common.settings import Settings
from server.app import create_app
from server.runtime import Runtime, build_runtime
from tests.factories import clock as suite_clock
from tests.factories.people import gid
from tests.factories.schools import SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login

pytestmark = pytest.mark.plain_only("Citus keeps no principals: the request reads its principal (ADR 19)")

VERSIONED_ROWS = {"accounts", "auth_sessions"}
"""The tables whose one row a principal reads is versioned by itself (``xmin``), not by the epoch."""

TEACHER = "{ viewer { username } groups(first: 10) { edges { node { name } } } }"
REMOVE_TEACHER = """
mutation($g: ID!, $s: ID!) { removeGroupTeacher(input: {groupId: $g, staffId: $s}) { errors { code } } }
"""
DEACTIVATE = "mutation($s: ID!) { deactivateStaff(input: {staffId: $s}) { errors { code } } }"
LOGOUT = "mutation { logout { ok } }"
PUBLISH = """
mutation($i: PublishDocumentInput!) { publishDocument(input: $i) { document { id } errors { code } } }
"""


@pytest.fixture
async def other_server(
    settings: Settings, engine: AsyncEngine, runtime: Runtime
) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database, with principals of its own (as another instance would be)."""
    second = build_runtime(settings, engine, runtime.auth.keys, clock=runtime.clock)
    transport = httpx.ASGITransport(app=create_app(second), client=("other-server", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def _documents_removed(owner_engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with owner_engine.begin() as connection:
        await connection.execute(text("DELETE FROM document_acceptances"))
        await connection.execute(text("DELETE FROM outbox WHERE kind = 'DOCUMENT_PUBLISHED'"))
        await connection.execute(text("DELETE FROM policy_documents"))


async def _principals_scraped(client: httpx.AsyncClient) -> dict[str, float]:
    """``schoolgraph_principals_total`` by outcome, as this server's ``/metrics`` shows it."""
    text_ = (await client.get("/metrics")).text
    found = re.findall(r'^schoolgraph_principals_total\{outcome="([a-z]+)"\} ([0-9.e+]+)$', text_, re.M)
    return {outcome: float(value) for outcome, value in found}


def _groups(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in body["data"]["groups"]["edges"]]


async def test_every_table_the_principal_reads_raises_the_epoch(owner_engine: AsyncEngine) -> None:
    """The principal's statement (every role's) reads these tables; each but the account's and the
    session's carries the triggers that raise the epoch on an insert, update, delete and truncate. A table
    added to the statement without them fails here: a write to it would leave principals kept stale."""
    read = {table.name for table in find_tables(_principal_stmt(), include_crud=True)}
    assert read > VERSIONED_ROWS
    async with owner_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    """
                    SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                    JOIN pg_proc p ON p.oid = t.tgfoid
                    WHERE p.proname = 'note_principal_epoch' AND NOT t.tgisinternal
                    """
                )
            )
        ).all()
    events: dict[str, set[str]] = {}
    for table, kind in rows:
        assert not kind & 1, f"{table}: the epoch is raised once per statement, not per row"
        # pg_trigger.tgtype: 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE.
        fired = {
            name
            for bit, name in ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE"))
            if kind & bit
        }
        events.setdefault(table, set()).update(fired)
    assert set(events) == read - VERSIONED_ROWS
    assert all(fired == {"INSERT", "UPDATE", "DELETE", "TRUNCATE"} for fired in events.values()), events


async def test_a_writer_left_open_does_not_hold_up_another_writer_of_the_school(
    owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """The epoch is raised as each writer commits, not when it writes: a writer of the school's roster whose
    transaction stays open does not make another writer of the same school wait for it (migration 0015's
    rule for the change feed), and each commit raises the epoch once."""
    school = await factory.school()
    epoch = text("SELECT principal_epoch FROM schools WHERE id = :s")
    async with owner_engine.connect() as reader:
        before = (await reader.execute(epoch, {"s": school.id})).scalar_one()
    async with owner_engine.connect() as first:
        open_writer = await first.begin()
        await first.execute(text("UPDATE groups SET name = name WHERE school_id = :s"), {"s": school.id})
        async with owner_engine.begin() as second:
            await second.execute(text("SET LOCAL lock_timeout = '2s'"))  # an error, not a hang, if it queued
            await second.execute(
                text("UPDATE pupils SET forename = forename WHERE school_id = :s"), {"s": school.id}
            )
        async with owner_engine.connect() as reader:
            assert (await reader.execute(epoch, {"s": school.id})).scalar_one() == before + 1
        await open_writer.commit()
    async with owner_engine.connect() as reader:
        assert (await reader.execute(epoch, {"s": school.id})).scalar_one() == before + 2


async def test_a_write_through_another_server_reaches_the_very_next_request(
    client: httpx.AsyncClient,
    other_server: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    owner_engine: AsyncEngine,
) -> None:
    """teacher1's requests are served by this server, which keeps their principal; the school's admin works
    through another. Each change the admin makes (a class taken away, the teacher made a leaver) and a
    sign-out through the other server show on this server's next request (LL 11.1: a leaver reaches
    nothing)."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    admin = await login(other_server, school.slug, "admin")
    before = await _principals_scraped(client)
    first = await gql(client, school.slug, TEACHER, token=teacher)
    assert _groups(first) == [school.groups["A"].name]
    outcomes = runtime.kept_principals.outcomes
    hits = outcomes["kept"]
    assert await gql(client, school.slug, TEACHER, token=teacher) == first
    assert outcomes["kept"] == hits + 1  # the principal kept was confirmed, not read again

    taken = await gql(
        other_server,
        school.slug,
        REMOVE_TEACHER,
        {"g": gid("Group", school.groups["A"]), "s": gid("Staff", school.staff["teacher1"])},
        token=admin,
    )
    assert taken["data"]["removeGroupTeacher"]["errors"] == [], taken
    after = await gql(client, school.slug, TEACHER, token=teacher)
    assert after["data"]["viewer"] == {"username": "teacher1"} and _groups(after) == []
    # /metrics counts this server's principals by how it had them: read first, kept, then read again.
    scraped = await _principals_scraped(client)
    assert {outcome: scraped[outcome] - before[outcome] for outcome in scraped} == {
        "read": 1,
        "kept": 1,
        "changed": 1,
    }

    left = await gql(
        other_server, school.slug, DEACTIVATE, {"s": gid("Staff", school.staff["teacher1"])}, token=admin
    )
    assert left["data"]["deactivateStaff"]["errors"] == [], left
    gone = await gql(client, school.slug, "{ viewer { username } }", token=teacher)
    assert gone["data"]["viewer"] is None

    # A sign-out through the other server: the token, still unexpired, is refused here at once.
    senco = await login(client, school.slug, "senco")
    assert (await gql(client, school.slug, "{ viewer { username } }", token=senco))["data"]["viewer"]
    assert (await gql(other_server, school.slug, LOGOUT, token=senco))["data"]["logout"]["ok"] is True
    assert (await gql(client, school.slug, "{ viewer { username } }", token=senco))["data"]["viewer"] is None
    async with owner_engine.connect() as connection:  # each note was removed by the commit that raised it
        notes = await connection.execute(text("SELECT count(*) FROM principal_epoch_raises"))
        assert notes.scalar() == 0


@pytest.mark.usefixtures("_documents_removed")
async def test_a_document_owed_reaches_a_kept_principal_when_published_and_when_in_force(
    client: httpx.AsyncClient,
    other_server: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    trusts: TrustFactory,
) -> None:
    """LL 3.1: a user policy published through another server is owed from the next request; one published
    at 23:55 to come into force at midnight is owed from midnight, with no write in between and the same
    access token: a principal is kept no longer than the next document's ``effective_from``."""
    school = await factory.school()
    clock = suite_clock.CLOCK
    clock.set(datetime.combine(suite_clock.platform_day(), time(23, 55), tzinfo=UTC))
    operator = await platform_login(other_server, (await trusts.operator()).username)
    teacher = await login(client, school.slug, "teacher1")
    ladders = "{ ladders(first: 1) { edges { cursor } } }"

    async def refused(token: str) -> str | None:
        body = await gql(client, school.slug, ladders, token=token)
        errors = body.get("errors") or []
        return errors[0]["extensions"].get("reason") if errors else None

    assert await refused(teacher) is None and await refused(teacher) is None

    def draft(kind: str, days: int) -> dict[str, str]:
        return {
            "kind": kind,
            "version": f"v{days}",
            "title": kind.title(),
            "body": f"The text of {kind}.",
            "summaryOfChanges": "New.",
            "effectiveOn": str(suite_clock.platform_day() + timedelta(days=days)),
        }

    tomorrow = await platform_gql(other_server, PUBLISH, {"i": draft("ACCEPTABLE_USE", 1)}, token=operator)
    assert tomorrow["data"]["publishDocument"]["errors"] == [], tomorrow
    hits = runtime.kept_principals.outcomes["kept"]
    assert await refused(teacher) is None and await refused(teacher) is None  # not in force yet
    assert runtime.kept_principals.outcomes["kept"] == hits + 1
    clock.advance(timedelta(minutes=7))  # 00:02: the same token and session, the document in force
    assert await refused(teacher) == "POLICIES_NOT_ACCEPTED"

    senco = await login(client, school.slug, "senco")
    assert await refused(senco) == "POLICIES_NOT_ACCEPTED"
    accepted = await gql(
        other_server,
        school.slug,
        "mutation($d: [ID!]!) { acceptDocuments(input: {documentIds: $d}) { errors { code } } }",
        {"d": [tomorrow["data"]["publishDocument"]["document"]["id"]]},
        token=await login(other_server, school.slug, "senco"),
    )
    assert accepted["data"]["acceptDocuments"]["errors"] == [], accepted
    assert await refused(senco) is None  # accepted through the other server: nothing owed here at once

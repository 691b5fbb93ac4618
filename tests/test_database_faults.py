"""Dropped database connections (issue 15): the first request after a drop succeeds, a read whose
connection drops under it is retried once, a write answers 503 in the GraphQL error shape and is recorded
as FAILED; never a 200 with an internal error, never a 500. Connections are really dropped: the backend
is terminated (pg_terminate_backend) before the statement the test picks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from tests.factories.audit import entries
from tests.factories.schools import SchoolFactory, gql, login

GROUPS = "{ groups { edges { node { name } } } }"
RENAME = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"


@contextlib.contextmanager
def dropped_before(
    engine: AsyncEngine, matches: Callable[[str], bool], times: int = 1
) -> Iterator[list[str]]:
    """Terminate the backend of the connection about to run a statement that ``matches`` (``times`` times):
    the statement then meets a connection the server closed, as in a failover."""
    dropped: list[str] = []

    def kill(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if len(dropped) < times and matches(statement):
            dropped.append(statement)
            raw = conn.connection.dbapi_connection
            with contextlib.suppress(Exception):
                raw.run_async(lambda c: c.execute("SELECT pg_terminate_backend(pg_backend_pid())"))

    event.listen(engine.sync_engine, "before_cursor_execute", kill)
    try:
        yield dropped
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", kill)


async def test_the_first_request_after_every_connection_dropped_succeeds(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After the database dropped every idle connection of the application, the next request is answered
    normally: a dropped connection is not lent when the pool has read the server's goodbye or its ping
    fails (tests/test_pool_liveness.py), and otherwise (given back under a second ago, not pinged) the
    request's first statement fails on it and the request is run once more on a fresh connection."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    assert "errors" not in await gql(client, school.slug, GROUPS, token=admin)
    async with owner_engine.begin() as connection:
        killed = await connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND usename <> current_user AND pid <> pg_backend_pid()"
            )
        )
        assert killed.scalar_one() >= 1
    with caplog.at_level(logging.WARNING, logger="schoolgraph.http"):
        body = await gql(client, school.slug, GROUPS, token=admin)
    assert "errors" not in body and body["data"]["groups"]["edges"]
    assert len([r for r in caplog.records if "connection failed" in r.getMessage()]) <= 1


async def test_a_read_whose_connection_drops_is_retried_once(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A query's connection dropped while it ran: it is run again on a fresh connection and answered
    (200, the data), and the read is recorded once."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    before = len(await entries(engine, school.id, "read.pupils"))
    with dropped_before(engine, lambda sql: "FROM pupils" in sql) as dropped:
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": "{ pupils { edges { node { id } } } }"},
            headers={"authorization": f"Bearer {admin}"},
        )
    assert dropped, "the fault was not injected"
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body and len(body["data"]["pupils"]["edges"]) == len(school.pupils)
    assert len(await entries(engine, school.id, "read.pupils")) == before + 1


async def test_a_read_whose_connection_drops_twice_is_a_503_recorded_as_failed(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: a query whose connection drops at its read and again at the retry answers 503 and is still
    recorded, once, in the school's log: its trail held no event yet (the read event comes with the rows),
    so the attempt is ``request.failed`` with the code, status and path, by the caller; nothing is read."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    reads = len(await entries(engine, school.id, "read.pupils"))

    def listing(sql: str) -> bool:
        """The list's own statement (on Citus the caller's statement, run on its own, reads pupils too)."""
        return "FROM pupils" in sql and "FROM accounts" not in sql

    with dropped_before(engine, listing, times=2) as dropped:
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": "{ pupils { edges { node { id } } } }"},
            headers={"authorization": f"Bearer {admin}", "x-request-id": "read-dropped-twice"},
        )
    assert len(dropped) == 2, "the faults were not injected"
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    recorded = [e for e in await entries(engine, school.id) if e.request_id == "read-dropped-twice"]
    assert [(e.action, e.outcome, e.actor_username) for e in recorded] == [
        ("request.failed", "FAILED", "admin")
    ]
    assert recorded[0].detail == {
        "code": "SERVICE_UNAVAILABLE",
        "status": 503,
        "path": f"/schools/{school.slug}/graphql",
    }
    assert len(await entries(engine, school.id, "read.pupils")) == reads


async def test_a_write_whose_connection_drops_is_a_503_recorded_as_failed(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A mutation's connection dropped at its write: 503 SERVICE_UNAVAILABLE in the GraphQL error shape
    with Retry-After (not retried: it ran), nothing written, and the attempt recorded as FAILED."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    group = to_global_id("Group", school.groups["A"].id)
    with dropped_before(engine, lambda sql: sql.lstrip().upper().startswith("UPDATE GROUPS")) as dropped:
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": RENAME, "variables": {"i": {"groupId": group, "name": "Renamed"}}},
            headers={"authorization": f"Bearer {admin}"},
        )
    assert dropped, "the fault was not injected"
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and "Traceback" not in response.text
    names = await gql(client, school.slug, GROUPS, token=admin)
    assert "Renamed" not in {e["node"]["name"] for e in names["data"]["groups"]["edges"]}
    assert [e.outcome for e in await entries(engine, school.id, "mutation.updateGroup")] == ["FAILED"]


async def test_a_mutation_whose_connection_drops_before_it_runs_is_retried(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The connection dropped while the request was still being prepared (the tenant, the token): nothing
    ran, so the mutation is run once more on a fresh connection and succeeds, recorded once."""
    school = await factory.school(pupils_per_group=1)
    admin = await login(client, school.slug, "admin")
    group = to_global_id("Group", school.groups["A"].id)
    # The school's statement: app_enter_school on plain PostgreSQL, the tenant's own on Citus.
    with dropped_before(engine, lambda sql: "app_enter_school" in sql or "FROM schools" in sql) as dropped:
        body = await gql(
            client, school.slug, RENAME, {"i": {"groupId": group, "name": "Renamed"}}, token=admin
        )
    assert dropped, "the fault was not injected"
    assert body == {"data": {"updateGroup": {"errors": []}}}
    assert [e.outcome for e in await entries(engine, school.id, "mutation.updateGroup")] == ["SUCCESS"]

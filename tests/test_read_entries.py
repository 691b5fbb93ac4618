"""Queries' audit entries committed together (audit/reads.py, migration 0034; ADR 6).

A GraphQL query at the school endpoint runs in a read-only transaction, ends it, and its entries go with
those of the other queries of the moment in one statement and one commit; it answers only once they are
written (LRS 5.1). What must hold: every query's entry is in its own school's log, naming what it read, and
the log verifies; a query's transaction cannot write; one request's bad entry fails that request alone; and
a query whose entry cannot be written answers no data, its attempt recorded as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.reads import ReadEntries
from audit.recorder import Actor, AuditTrail
from auth.principal import enter_school_as
from common.driver import begin_session, read_only_next
from common.faults import database_unavailable
from common.settings import Settings
from graph.core.relay import to_global_id
from server.database import DatabaseUrls, create_engine
from server.runtime import Runtime
from tests.factories import clock
from tests.factories.apps import app_client
from tests.factories.audit import entries, sequence, verify
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_audit_spool import _runtime, unreachable_database

pytestmark = pytest.mark.plain_only(reason="on Citus each query commits its own entries (audit/reads.py)")

GROUP_PUPILS = "query($g: ID!) { group(id: $g) { pupils { id forename } } }"


def _in_group_a(school: SchoolData) -> set[uuid.UUID]:
    """The pupils of the factory's group A (pupil1, pupil2, ...; group B's keys name it)."""
    return {p.id for key, p in school.pupils.items() if "B" not in key}


async def test_queries_of_the_same_moment_share_a_commit_and_each_is_recorded(
    runtime: Runtime, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """LRS 5.1, LRS 7.3: ten teachers' reads at each of two schools, sent at once. Each answer names its
    class's pupils; each school's log holds exactly its ten reads, as the teacher who read, naming those
    pupils; fewer batches were written than entries (they were committed together); and each school's log,
    once sequenced, verifies."""
    schools = [await factory.school(pupils_per_group=3), await factory.school(pupils_per_group=3)]
    serving = _runtime(runtime, tmp_path)
    assert serving.read_entries is not None
    async with app_client(serving) as client:
        tokens = {s.id: await login(client, s.slug, "teacher1") for s in schools}
        requests = [
            gql(
                client,
                s.slug,
                GROUP_PUPILS,
                {"g": to_global_id("Group", s.groups["A"].id)},
                token=tokens[s.id],
            )
            for _ in range(10)
            for s in schools
        ]
        answers = await asyncio.gather(*requests)
    for answer, school in zip(answers, [s for _ in range(10) for s in schools], strict=True):
        assert {p["id"] for p in answer["data"]["group"]["pupils"]} == {
            to_global_id("Pupil", p) for p in _in_group_a(school)
        }
    reads = serving.read_entries
    assert reads.entries == 20
    assert 1 <= reads.batches < 20
    for school in schools:
        read = await entries(engine, school.id, "read.pupils")
        teacher = school.accounts["teacher1"]
        assert [(e.actor_id, e.actor_username, e.outcome) for e in read] == [
            (teacher.id, "teacher1", "SUCCESS")
        ] * 10
        assert all(set(e.detail["pupil_ids"]) == {str(p) for p in _in_group_a(school)} for e in read)
        await sequence(engine, school.id, runtime.auth.keys)
        verdict = await verify(engine, school.id, runtime.auth.keys)
        assert (verdict.fault, verdict.pending) == (None, 0) and verdict.entries >= 10, verdict


async def test_a_query_s_transaction_cannot_write(factory: SchoolFactory, engine: AsyncEngine) -> None:
    """The request path of a query: the school read alone (``app_enter_school``), then the transaction made
    read-only before it begins. It reads the school's rows, bound to it; a write is refused by PostgreSQL
    (read-only transaction), so nothing a query runs can commit ahead of its entry. Where the transaction
    has begun already, it is not made read-only (that request commits its own entries)."""
    school = await factory.school(pupils_per_group=2)
    async with AsyncSession(engine) as session:
        begin_session(session)
        tenant, _ = await enter_school_as(session, school.slug, None, clock.now(), None)
        assert tenant is not None and tenant.id == school.id
        assert await read_only_next(session)
        assert (await session.execute(text("SELECT count(*) FROM pupils"))).scalar_one() == len(school.pupils)
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(text("UPDATE groups SET name = name"))
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(text("SELECT 1"))
        assert not await read_only_next(session)


def _trail(school_id: uuid.UUID, outcome: str) -> AuditTrail:
    trail = AuditTrail(
        actor=Actor("SYSTEM"), request_id=uuid.uuid4().hex, client_address=None, school_id=school_id
    )
    trail.record("test.read", outcome)
    return trail


async def test_one_request_s_bad_entry_fails_that_request_alone(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Three requests' entries in one batch, one of them refused by the log (an outcome its constraint
    does not know): that request's write raises; the other two are written, each on its own once the
    batch failed, and nothing of the refused one is."""
    school = await factory.school(pupils_per_group=1)
    reads = ReadEntries(engine)
    good, bad, other = _trail(school.id, "SUCCESS"), _trail(school.id, "MAYBE"), _trail(school.id, "DENIED")
    results = await asyncio.gather(
        *(reads.write(trail, clock.now()) for trail in (good, bad, other)), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], DBAPIError) and "ck_audit_log_outcome" in str(results[1])
    written = await entries(engine, school.id, "test.read")
    assert [(e.request_id, e.outcome) for e in written] == [
        (good.request_id, "SUCCESS"),
        (other.request_id, "DENIED"),
    ]
    assert (reads.batches, reads.entries) == (2, 2)


async def test_a_batch_whose_connection_fails_fails_each_of_its_requests(runtime: Runtime) -> None:
    """Two requests' entries waiting while the database refuses every connection: both writes raise a
    fault of the connection (which each request answers as a failed commit: a query is tried once more,
    then 503), the batch is not split request by request as a refused entry's is, and nothing counts as
    written."""
    async with unreachable_database(runtime) as gone:
        reads = ReadEntries(gone)
        trails = [_trail(uuid.uuid4(), "SUCCESS"), _trail(uuid.uuid4(), "SUCCESS")]
        results = await asyncio.gather(
            *(reads.write(trail, clock.now()) for trail in trails), return_exceptions=True
        )
    assert all(isinstance(result, Exception) and database_unavailable(result) for result in results), results
    assert (reads.batches, reads.entries) == (0, 0)


def _dropping(dropped: list[str]) -> type[asyncpg.Connection]:
    """A connection that, before sending a query's entries after its COMMIT (twice at most), has the server
    end it (``pg_terminate_backend`` of its own backend), as a failover would."""

    class Dropping(asyncpg.Connection):  # type: ignore[misc]
        async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109 - asyncpg's own signature
            if not args and query.startswith("COMMIT;SELECT app_audit_append(") and len(dropped) < 2:
                dropped.append(query)
                with contextlib.suppress(Exception):
                    await super().execute("SELECT pg_terminate_backend(pg_backend_pid())")
            status: str = await super().execute(query, *args, timeout=timeout)
            return status

    return Dropping


async def test_a_query_whose_entry_cannot_be_written_answers_no_data(
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    database_urls: DatabaseUrls,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """LRS 5.1: a teacher's read whose connection is dropped as its entry goes after its COMMIT is tried
    once more, dropped again, and answered 503 SERVICE_UNAVAILABLE with no pupil in it; the attempt is in
    the school's log as a failed read naming the pupils it would have returned."""
    school = await factory.school(pupils_per_group=2)
    dropped: list[str] = []
    dropping = create_engine(database_urls.runtime, settings, pool_size=2)

    @event.listens_for(dropping.sync_engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["connection_class"] = _dropping(dropped)

    try:
        async with app_client(_runtime(runtime, tmp_path, dropping)) as client:
            token = await login(client, school.slug, "teacher1")
            response = await client.post(
                f"/schools/{school.slug}/graphql",
                json={
                    "query": GROUP_PUPILS,
                    "variables": {"g": to_global_id("Group", school.groups["A"].id)},
                },
                headers={"authorization": f"Bearer {token}"},
            )
    finally:
        await dropping.dispose()
    assert len(dropped) == 2
    assert response.status_code == 503
    body = response.json()
    assert body.get("data") is None and body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "Pat" not in response.text
    read = await entries(engine, school.id, "read.pupils")
    assert [(e.actor_username, e.outcome) for e in read] == [("teacher1", "FAILED")]
    assert set(read[0].detail["pupil_ids"]) == {str(p) for p in _in_group_a(school)}

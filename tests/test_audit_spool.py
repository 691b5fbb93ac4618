"""A request failed by the database is recorded even when the database cannot take its record (issue 15,
LRS 5.1: all activity): the failed request's entries go to the audit spool under the data directory, and
the sequencer (the server's, and ``jobs run``'s) replays them into the school's log, or the platform log
when no school was known, exactly once, and removes the file.

Real faults: a connection really terminated (``pg_terminate_backend``) before the statements the test
picks, and a database that is really unreachable (an engine whose server refuses every connection)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.sequencer import AuditSequencer
from audit.spool import AuditSpool, spool_directory
from auth.tokens import SigningKeys
from common.faults import database_unavailable
from graph.core.relay import to_global_id
from models.platform import PlatformAuditEntry
from server.database import create_engine
from server.jobs import run_jobs
from server.runtime import Runtime, build_runtime
from subscriptions.outbox import MailSettings
from tests.factories.apps import app_client
from tests.factories.audit import entries
from tests.factories.schools import SchoolFactory, login
from tests.test_database_faults import dropped_before

RENAME = "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }"


def _runtime(runtime: Runtime, data_dir: Path, engine: AsyncEngine | None = None) -> Runtime:
    """A runtime like the suite's whose data directory (and so its audit spool) is the test's own, on
    ``engine`` when given."""
    settings = dataclasses.replace(runtime.settings, data_dir=data_dir)
    return build_runtime(settings, engine or runtime.engine, runtime.auth.keys, clock=runtime.clock)


@asynccontextmanager
async def unreachable_database(runtime: Runtime) -> AsyncIterator[AsyncEngine]:
    """An engine whose database refuses every connection: a port of 127.0.0.1 nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = create_engine(make_url(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/gone"), runtime.settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def _spooled(data_dir: Path) -> list[dict[str, object]]:
    directory = spool_directory(data_dir)
    return [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _left(data_dir: Path) -> list[str]:
    directory = spool_directory(data_dir)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def _platform_entries(engine: AsyncEngine, request_id: str) -> list[PlatformAuditEntry]:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        stmt = select(PlatformAuditEntry).where(PlatformAuditEntry.request_id == request_id)
        return list((await session.execute(stmt.order_by(PlatformAuditEntry.id))).scalars())


async def _sequenced(engine: AsyncEngine, school_id: uuid.UUID) -> bool:
    found = await entries(engine, school_id, "mutation.updateGroup")
    return bool(found) and found[0].seq is not None


async def _jobs_audit(engine: AsyncEngine, data_dir: Path, keys: SigningKeys, runtime: Runtime) -> None:
    """``schoolgraph jobs run``'s audit step over the data directory."""
    await run_jobs(
        engine,
        owner_engine=None,
        data_dir=data_dir,
        mail=MailSettings(),
        now=runtime.clock.now(),
        steps=["audit"],
        keys=keys,
    )


async def _fail_unreachable(runtime: Runtime, data_dir: Path, slug: str, request_id: str) -> httpx.Response:
    """A request to ``slug`` while the database is unreachable from its very first statement."""
    async with unreachable_database(runtime) as gone, app_client(_runtime(runtime, data_dir, gone)) as client:
        return await client.post(
            f"/schools/{slug}/graphql",
            json={"query": "{ groups { edges { node { name } } } }"},
            headers={"x-request-id": request_id},
        )


async def test_a_write_failed_by_a_dropped_connection_is_spooled_and_replayed_by_the_servers_sequencer(
    factory: SchoolFactory, runtime: Runtime, engine: AsyncEngine, keys: SigningKeys, tmp_path: Path
) -> None:
    """LRS 5.1: a mutation's connection dropped at its write, and the fresh transaction recording the
    attempt dropped too: 503, nothing in the log yet, the FAILED entry durably in the spool (the trail's
    own fields, nothing more). The server's sequencer replays it into the school's log, sequences it, and
    leaves the spool directory empty."""
    school = await factory.school(pupils_per_group=1)
    local = _runtime(runtime, tmp_path)
    group = to_global_id("Group", school.groups["A"].id)
    request_id = f"spool-write-{uuid.uuid4().hex[:8]}"
    async with app_client(local) as client:
        admin = await login(client, school.slug, "admin")
        faults = ("UPDATE GROUPS", "INSERT INTO AUDIT_LOG")
        with dropped_before(engine, lambda sql: sql.lstrip().upper().startswith(faults), times=2) as dropped:
            response = await client.post(
                f"/schools/{school.slug}/graphql",
                json={"query": RENAME, "variables": {"i": {"groupId": group, "name": "Renamed"}}},
                headers={"authorization": f"Bearer {admin}", "x-request-id": request_id},
            )
    assert len(dropped) == 2, dropped
    assert response.status_code == 503, response.text
    assert await entries(engine, school.id, "mutation.updateGroup") == []
    (record,) = _spooled(tmp_path)
    assert set(record) == {
        "v",
        "id",
        "occurred_at",
        "request_id",
        "client_address",
        "actor",
        "school_id",
        "events",
    }
    assert record["school_id"] == str(school.id) and record["request_id"] == request_id
    assert [(e["action"], e["outcome"]) for e in record["events"]] == [("mutation.updateGroup", "FAILED")]  # type: ignore[attr-defined]

    sequencer = AuditSequencer(
        engine, keys, runtime.clock, interval=0.05, settle=0.01, spool=local.audit_spool
    )
    sequencer.start()
    try:
        async with asyncio.timeout(20):
            # The database signals nothing: look until the replayed entry is in and sequenced.
            while not await _sequenced(engine, school.id):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await sequencer.stop()
    (entry,) = await entries(engine, school.id, "mutation.updateGroup")
    assert entry.outcome == "FAILED" and entry.request_id == request_id
    assert entry.actor_type == "ACCOUNT" and entry.detail["spool"] == record["id"]
    assert entry.occurred_at == runtime.clock.now()  # the time of the request, not of the replay
    assert _left(tmp_path) == []


async def test_a_request_the_unreachable_database_failed_before_its_school_was_known_reaches_the_platform_log(
    factory: SchoolFactory, runtime: Runtime, engine: AsyncEngine, keys: SigningKeys, tmp_path: Path
) -> None:
    """LRS 5.1: the database refuses connections from the first statement (finding the school): the
    request is tried twice, answered 503 SERVICE_UNAVAILABLE, and, no school being known, spooled for the
    platform log as ``request.failed``; ``jobs run`` replays it there and empties the spool."""
    school = await factory.school(pupils_per_group=1)
    request_id = f"spool-unreachable-{uuid.uuid4().hex[:8]}"
    response = await _fail_unreachable(runtime, tmp_path, school.slug, request_id)
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    (record,) = _spooled(tmp_path)
    assert record["request_id"] == request_id and "platform" in record
    assert await _platform_entries(engine, request_id) == []

    await _jobs_audit(engine, tmp_path, keys, runtime)
    (entry,) = await _platform_entries(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "ANONYMOUS")
    assert entry.detail["code"] == "SERVICE_UNAVAILABLE" and entry.detail["status"] == 503
    assert entry.detail["path"] == f"/schools/{school.slug}/graphql"
    assert entry.occurred_at == runtime.clock.now()
    assert _left(tmp_path) == []


async def test_a_replay_cut_short_or_repeated_records_each_failed_request_once(
    factory: SchoolFactory, runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Exactly once: a replay whose connection drops after its first record committed keeps the file;
    the next replay writes only the second; the file put back (a crash between the last commit and the
    removal) is replayed again and writes nothing. Each request has one entry, and the spool is empty."""
    school = await factory.school(pupils_per_group=1)
    ids = [f"spool-twice-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
    for request_id in ids:
        assert (await _fail_unreachable(runtime, tmp_path, school.slug, request_id)).status_code == 503
    (spooled,) = spool_directory(tmp_path).glob("*.jsonl")
    kept = spooled.read_bytes()
    spool = AuditSpool(spool_directory(tmp_path))

    inserts: list[str] = []

    def second_insert(sql: str) -> bool:
        if "INSERT INTO platform_audit" in sql:
            inserts.append(sql)
        return len(inserts) == 2

    with dropped_before(engine, second_insert) as dropped, pytest.raises(Exception) as cut:
        await spool.replay(engine)
    assert dropped and database_unavailable(cut.value)
    assert [len(await _platform_entries(engine, r)) for r in ids] == [1, 0]
    assert _left(tmp_path) == [spooled.name]

    again = await spool.replay(engine)
    assert (again.records, again.skipped, again.files) == (1, 1, 1)
    assert [len(await _platform_entries(engine, r)) for r in ids] == [1, 1]
    assert _left(tmp_path) == []

    spooled.write_bytes(kept)
    third = await spool.replay(engine)
    assert (third.records, third.skipped) == (0, 2)
    assert [len(await _platform_entries(engine, r)) for r in ids] == [1, 1]
    assert _left(tmp_path) == []


async def test_a_torn_line_is_set_aside_and_does_not_hold_back_the_others(
    factory: SchoolFactory, runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """A line a crash tore before its fsync (never acknowledged) is set aside in ``.rejected``; the
    records around it are replayed and the spool file removed."""
    school = await factory.school(pupils_per_group=1)
    request_id = f"spool-torn-{uuid.uuid4().hex[:8]}"
    assert (await _fail_unreachable(runtime, tmp_path, school.slug, request_id)).status_code == 503
    (spooled,) = spool_directory(tmp_path).glob("*.jsonl")
    with spooled.open("ab") as f:
        f.write(b'{"v":1,"id":"torn","occurred_at":"2026-')
    done = await AuditSpool(spool_directory(tmp_path)).replay(engine)
    assert (done.records, done.rejected) == (1, 1)
    assert len(await _platform_entries(engine, request_id)) == 1
    assert _left(tmp_path) == [spooled.with_suffix(".rejected").name]
    assert spooled.with_suffix(".rejected").read_bytes() == b'{"v":1,"id":"torn","occurred_at":"2026-\n'


async def test_a_refusal_before_any_tenant_while_the_database_is_down_is_spooled_for_the_platform_log(
    runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """LRS 5.1: a body the edge cannot read, sent while the database is unreachable, is refused (400) and
    its ``request.refused`` entry, which ``record_unresolved`` could not write, waits in the spool until
    the replay puts it in the platform log."""
    request_id = f"spool-refused-{uuid.uuid4().hex[:8]}"
    address = f"spool-{uuid.uuid4().hex[:8]}"
    async with (
        unreachable_database(runtime) as gone,
        app_client(_runtime(runtime, tmp_path, gone), address) as c,
    ):
        response = await c.post(
            "/schools/anywhere/graphql",
            content=b"{not json",
            headers={"content-type": "application/json", "x-request-id": request_id},
        )
    assert response.status_code == 400, response.text
    (record,) = _spooled(tmp_path)
    assert record["request_id"] == request_id and record["client_address"] == address
    done = await AuditSpool(spool_directory(tmp_path)).replay(engine)
    assert (done.records, done.files) == (1, 1)
    (entry,) = await _platform_entries(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.refused", "REJECTED", "ANONYMOUS")
    assert entry.detail["status"] == 400 and entry.detail["path"] == "/schools/anywhere/graphql"
    assert _left(tmp_path) == []

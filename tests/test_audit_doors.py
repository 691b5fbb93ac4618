"""Every door records a failed request, once (issue 15, LRS 5.1: all activity): the OAuth endpoints,
OneRoster, the subject-access and termination downloads follow the GraphQL endpoints' rule
(:mod:`server.door`): the trail commits with the action; when the request fails, its attempt is recorded
as FAILED in a fresh transaction, in the school's log, or the platform's when no school is known, and
spooled when the database cannot take it (replayed exactly once). No credential, token or secret ever
reaches what is recorded.

Real faults: a connection really terminated (``pg_terminate_backend``) before the statements the test
picks, a database that really refuses connections (a port nothing listens on), and a statement that
really times out waiting for a lock another transaction holds."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.spool import AuditSpool, spool_directory
from common.clock import FixedClock
from common.settings import Settings
from models.platform import PlatformAuditEntry
from server.runtime import Runtime
from tests.factories.apps import app_client
from tests.factories.audit import entries
from tests.factories.partners import PartnerFactory, fetch_token, oauth_client
from tests.factories.schools import SchoolFactory, login
from tests.factories.trusts import TrustFactory, trust_login
from tests.test_audit_spool import _left, _runtime, unreachable_database
from tests.test_database_faults import dropped_before
from tests.test_partners import approved
from tests.test_privacy_subject_access import _jobs, _released

ONEROSTER = "/ims/oneroster/v1p1"


def _starts(*prefixes: str) -> Callable[[str], bool]:
    return lambda sql: sql.lstrip().upper().startswith(prefixes)


def _has(*fragments: str) -> Callable[[str], bool]:
    return lambda sql: any(f in sql for f in fragments)


def _either(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda sql: any(t(sql) for t in tests)


def _spool_text(data_dir: Path) -> str:
    return "".join(p.read_text() for p in sorted(spool_directory(data_dir).glob("*.jsonl")))


def _spooled(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _spool_text(data_dir).splitlines()]


async def _platform(engine: AsyncEngine, request_id: str) -> list[PlatformAuditEntry]:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        stmt = select(PlatformAuditEntry).where(PlatformAuditEntry.request_id == request_id)
        return list((await session.execute(stmt.order_by(PlatformAuditEntry.id))).scalars())


async def _school_entries(engine: AsyncEngine, school_id: uuid.UUID, request_id: str) -> list[Any]:
    return [e for e in await entries(engine, school_id) if e.request_id == request_id]


def _recorded(rows: list[Any]) -> str:
    """Everything recorded about a request that a secret could hide in."""
    return json.dumps(
        [[r.action, r.outcome, r.actor_type, r.actor_username, r.detail, r.client_address] for r in rows],
        default=str,
    )


async def _replayed_once(engine: AsyncEngine, data_dir: Path) -> None:
    """Replay the spool; put the replayed file back (a crash before its removal) and replay it again:
    the second replay writes nothing. The spool is empty after both."""
    (path,) = spool_directory(data_dir).glob("*.jsonl")
    kept = path.read_bytes()
    spool = AuditSpool(spool_directory(data_dir))
    first = await spool.replay(engine)
    assert (first.records, first.skipped, first.files) == (1, 0, 1)
    path.write_bytes(kept)
    second = await spool.replay(engine)
    assert (second.records, second.skipped, second.files) == (0, 1, 1)
    assert _left(data_dir) == []


@contextlib.contextmanager
def timed_out_before(engine: AsyncEngine, matches: Callable[[str], bool]) -> Iterator[list[str]]:
    """The statement that ``matches``, waiting for a lock another transaction holds, fails with a lock
    timeout (a statement error, not a connection fault): the request's connection gets a
    100 ms ``lock_timeout`` just before it. Returns the statements that timed out."""
    timed: list[str] = []

    def shorten(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not timed and matches(statement):
            timed.append(statement)
            raw = conn.connection.dbapi_connection
            raw.run_async(lambda c: c.execute("SET LOCAL lock_timeout = '100ms'"))

    event.listen(engine.sync_engine, "before_cursor_execute", shorten)
    try:
        yield timed
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", shorten)


# --- OAuth ------------------------------------------------------------------------------------------------


async def test_a_token_request_failed_by_the_database_is_spooled_and_replayed_once_without_the_secret(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    runtime: Runtime,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """LRS 5.1: a partner authenticated, its token being issued, when the connection drops; the fresh
    transaction recording the attempt drops too. 503 ``temporarily_unavailable`` with ``Retry-After``;
    no token issued; the attempt spooled (``request.failed`` by the PARTNER, in the platform log: no
    school is known to have acted) and replayed once. The client secret is nowhere in what is recorded."""
    school = await factory.school()
    partner = await approved(PartnerFactory(client, trusts), school)
    request_id = f"door-oauth-{uuid.uuid4().hex[:8]}"
    form = {
        "grant_type": "client_credentials",
        "client_id": partner.client_id,
        "client_secret": partner.secret,
        "school": school.slug,
    }
    async with app_client(_runtime(runtime, tmp_path)) as local:
        faults = _either(_starts("INSERT INTO PARTNER_TOKENS"), _starts("INSERT INTO PLATFORM_AUDIT"))
        with dropped_before(engine, faults, times=2) as dropped:
            response = await local.post("/oauth/token", data=form, headers={"x-request-id": request_id})
    assert len(dropped) == 2, dropped
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable" and request_id in response.text
    assert response.headers["retry-after"] == "1" and response.headers["cache-control"] == "no-store"
    assert partner.secret not in _spool_text(tmp_path)
    (record,) = _spooled(tmp_path)
    assert record["request_id"] == request_id and record["actor"]["type"] == "PARTNER"
    assert await _platform(engine, request_id) == []

    await _replayed_once(engine, tmp_path)
    (entry,) = await _platform(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "PARTNER")
    assert entry.detail["code"] == "SERVICE_UNAVAILABLE" and entry.detail["path"] == "/oauth/token"
    assert entry.actor_username == partner.client_id
    assert partner.secret not in _recorded([entry])
    assert await entries(engine, school.id, "partner.token_issued") == []


async def test_a_token_request_while_the_database_refuses_connections_is_recorded_once(
    runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The database refuses every connection from the first statement: 503, and the attempt (no client
    authenticated yet: an anonymous caller) is spooled for the platform log, without the secret sent."""
    request_id = f"door-oauth-gone-{uuid.uuid4().hex[:8]}"
    secret = f"never-recorded-{uuid.uuid4().hex}"
    form = {"grant_type": "client_credentials", "client_id": "acme", "client_secret": secret}
    async with unreachable_database(runtime) as gone, app_client(_runtime(runtime, tmp_path, gone)) as c:
        response = await c.post("/oauth/token", data=form, headers={"x-request-id": request_id})
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert secret not in _spool_text(tmp_path)
    await _replayed_once(engine, tmp_path)
    (entry,) = await _platform(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "ANONYMOUS")
    assert secret not in _recorded([entry])


async def test_a_malformed_token_request_is_refused_and_recorded_in_the_platform_log(
    runtime: Runtime, engine: AsyncEngine
) -> None:
    """A body that is not a form is refused (400 ``invalid_request``) before any client is known, and
    recorded in the platform log as ``request.refused`` (its repeats from one address counted)."""
    ids = [f"door-oauth-bad-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
    async with app_client(runtime) as c:
        for request_id in ids:
            response = await c.post(
                "/oauth/token",
                content=b'{"client_secret": "s3cret"}',
                headers={"content-type": "application/json", "x-request-id": request_id},
            )
            assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    (entry,) = await _platform(engine, ids[0])
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.refused", "REJECTED", "ANONYMOUS")
    assert entry.detail == {"code": "INVALID_REQUEST", "status": 400, "path": "/oauth/token"}
    assert await _platform(engine, ids[1]) == []  # the same address's repeat: counted, not recorded


# --- OneRoster --------------------------------------------------------------------------------------------


async def _partner_token(client: httpx.AsyncClient, trusts: TrustFactory, school: Any) -> str:
    partner = await approved(PartnerFactory(client, trusts), school)
    async with oauth_client(client, partner) as oauth:
        token: str = (await fetch_token(oauth, school))["access_token"]
    return token


async def test_a_oneroster_read_failed_by_the_database_is_recorded_once_in_the_schools_log(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    runtime: Runtime,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """A partner's page read whose connection drops, and the recording of the attempt too: 503 in the
    specification's status-info shape; the attempt spooled and replayed once into the school's log, as
    ``request.failed`` by the PARTNER; no read recorded as served; the token nowhere in the record."""
    school = await factory.school()
    token = await _partner_token(client, trusts, school)
    request_id = f"door-oneroster-{uuid.uuid4().hex[:8]}"
    path = f"/schools/{school.slug}{ONEROSTER}/classes"
    async with app_client(_runtime(runtime, tmp_path)) as local:
        faults = _either(_has("FROM groups"), _starts("INSERT INTO AUDIT_LOG"))
        with dropped_before(engine, faults, times=2) as dropped:
            response = await local.get(
                path, headers={"authorization": f"Bearer {token}", "x-request-id": request_id}
            )
    assert len(dropped) == 2, dropped
    assert response.status_code == 503, response.text
    assert response.json()["imsx_codeMajor"] == "failure" and response.headers["retry-after"] == "1"
    assert token not in _spool_text(tmp_path)
    (record,) = _spooled(tmp_path)
    assert record["school_id"] == str(school.id) and record["request_id"] == request_id
    assert await _school_entries(engine, school.id, request_id) == []

    await _replayed_once(engine, tmp_path)
    (entry,) = await _school_entries(engine, school.id, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "PARTNER")
    assert entry.detail["status"] == 503 and entry.detail["path"] == path
    assert token not in _recorded([entry])


async def test_a_oneroster_read_that_times_out_is_answered_500_and_recorded_failed_once(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    runtime: Runtime,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """A statement error that is no connection fault (the page's statement times out on a lock another
    transaction holds): 500 ``internal_server_error`` with the request id and no trace, and the attempt
    recorded FAILED in the school's log at once (nothing spooled)."""
    school = await factory.school()
    token = await _partner_token(client, trusts, school)
    request_id = f"door-oneroster-lock-{uuid.uuid4().hex[:8]}"
    async with owner_engine.connect() as holder:
        await holder.execute(text("LOCK TABLE groups IN ACCESS EXCLUSIVE MODE"))
        async with app_client(_runtime(runtime, tmp_path)) as local:
            with timed_out_before(engine, _has("FROM groups")) as timed:
                response = await local.get(
                    f"/schools/{school.slug}{ONEROSTER}/classes",
                    headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
                )
        await holder.rollback()
    assert timed, "the page read did not run"
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
        "internal_server_error"
    )
    assert request_id in response.text and "Traceback" not in response.text
    (entry,) = await _school_entries(engine, school.id, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "PARTNER")
    assert entry.detail["code"] == "INTERNAL_SERVER_ERROR" and entry.detail["status"] == 500
    assert _left(tmp_path) == []


async def test_a_oneroster_request_with_a_token_the_school_does_not_accept_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Refused before any partner is known (no token, or one this school does not accept): 401, and
    ``auth.token_refused`` in the school's log by an anonymous caller, once per address and window (the
    repeat is counted, not recorded); the token sent is not recorded."""
    school = await factory.school()
    sent = f"not-a-token-{uuid.uuid4().hex}"
    ids = [f"door-oneroster-401-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
    for request_id in ids:
        response = await client.get(
            f"/schools/{school.slug}{ONEROSTER}/classes",
            headers={"authorization": f"Bearer {sent}", "x-request-id": request_id},
        )
        assert response.status_code == 401
    (entry,) = await _school_entries(engine, school.id, ids[0])
    assert (entry.action, entry.outcome, entry.actor_type) == ("auth.token_refused", "DENIED", "ANONYMOUS")
    assert entry.detail["status"] == 401 and sent not in _recorded([entry])
    assert await _school_entries(engine, school.id, ids[1]) == []


# --- downloads --------------------------------------------------------------------------------------------


async def test_a_subject_access_download_failed_by_the_database_is_recorded_once_without_secrets(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    runtime: Runtime,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """An admin's download whose connection drops at the request's row, and the recording too: 503;
    the attempt spooled and replayed once into the school's log (``request.failed`` by the admin); the
    download is not counted; neither the archive's password nor the bearer token is recorded."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    released = await _released(client, school, admin, lambda: _jobs(engine, owner_engine, settings, clock))
    request_id = f"door-sar-{uuid.uuid4().hex[:8]}"
    async with app_client(_runtime(runtime, tmp_path)) as local:
        faults = _either(_has("subject_access_requests"), _starts("INSERT INTO AUDIT_LOG"))
        with dropped_before(engine, faults, times=2) as dropped:
            response = await local.get(
                released["downloadPath"],
                headers={"authorization": f"Bearer {admin}", "x-request-id": request_id},
            )
    assert len(dropped) == 2, dropped
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    spooled = _spool_text(tmp_path)
    assert admin not in spooled and released["password"] not in spooled

    await _replayed_once(engine, tmp_path)
    (entry,) = await _school_entries(engine, school.id, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "ACCOUNT")
    assert entry.actor_id == school.accounts["admin"].id
    assert admin not in _recorded([entry]) and released["password"] not in _recorded([entry])
    assert await entries(engine, school.id, "subject_access.downloaded") == []


async def test_a_trust_admins_termination_download_failed_by_the_database_reaches_the_platform_log_once(
    client: httpx.AsyncClient, trusts: TrustFactory, runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """A trust admin's export download whose connection drops at the destruction record, and the
    recording too: 503; the attempt spooled and replayed once into the platform log, as ``request.failed``
    by the trust admin, naming the trust; the admin's token is not recorded."""
    trust = await trusts.trust(admins=("doorsadmin",))
    token = await trust_login(client, trust.slug, "doorsadmin")
    request_id = f"door-termination-{uuid.uuid4().hex[:8]}"
    path = f"/trusts/{trust.slug}/termination-exports/{uuid.uuid4()}"
    async with app_client(_runtime(runtime, tmp_path)) as local:
        faults = _either(_has("FROM destruction_records"), _starts("INSERT INTO PLATFORM_AUDIT"))
        with dropped_before(engine, faults, times=2) as dropped:
            response = await local.get(
                path, headers={"authorization": f"Bearer {token}", "x-request-id": request_id}
            )
    assert len(dropped) == 2, dropped
    assert response.status_code == 503, response.text
    assert token not in _spool_text(tmp_path)
    await _replayed_once(engine, tmp_path)
    (entry,) = await _platform(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "TRUST_ADMIN")
    assert entry.trust_id == trust.id and entry.detail["path"] == path
    assert token not in _recorded([entry])


async def test_a_handover_release_while_the_database_refuses_connections_is_recorded_once(
    factory: SchoolFactory, runtime: Runtime, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The holder's release while the database refuses connections: 503, and the attempt (no school
    found yet) spooled and replayed once into the platform log; the credential presented is not in it."""
    school = await factory.school()
    credential = f"sgh_{uuid.uuid4().hex}"
    request_id = f"door-holder-{uuid.uuid4().hex[:8]}"
    path = f"/schools/{school.slug}/termination-export/release"
    async with unreachable_database(runtime) as gone, app_client(_runtime(runtime, tmp_path, gone)) as c:
        response = await c.post(
            path, headers={"authorization": f"Bearer {credential}", "x-request-id": request_id}
        )
    assert response.status_code == 503, response.text
    assert credential not in _spool_text(tmp_path)
    await _replayed_once(engine, tmp_path)
    (entry,) = await _platform(engine, request_id)
    assert (entry.action, entry.outcome, entry.actor_type) == ("request.failed", "FAILED", "ANONYMOUS")
    assert entry.detail == {"code": "SERVICE_UNAVAILABLE", "status": 503, "path": path, "spool": ANY}
    assert credential not in _recorded([entry])

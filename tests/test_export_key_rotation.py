"""Rotating the export key (LRS 6.8): exports sealed under the old key are released under the new one while
the old one is kept as a previous key; `schoolgraph exports reseal` re-seals every pending password under
the current key in one transaction, after which the old key is not needed; without it and without the
re-sealing, a release is refused with EXPORT_KEY_MISMATCH (never a 500)."""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import pyzipper
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from typer.testing import CliRunner

from auth.tokens import SigningKeys
from common.clock import FixedClock
from common.settings import Settings
from graph.core.relay import to_global_id
from models.licensing import DestructionRecord
from models.platform import PlatformAuditEntry
from models.privacy import SubjectAccessRequest
from privacy.exporter import export_key, export_key_path
from server.app import create_app
from server.cli import app as cli
from server.database import DatabaseUrls
from server.jobs import run_jobs
from server.runtime import build_runtime
from tenants.context import bind
from tests.factories.learning import gid, mutate, problems
from tests.factories.schools import SchoolData, SchoolFactory, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login, trust_gql, trust_login
from tests.test_termination_handover import _super_user_returns, _terminate

RELEASE = "password downloadPath errors { field code }"
TERMINATE = "mutation($i: TerminateSchoolInput!) { terminateSchool(input: $i) { errors { code } } }"
TRUST_RELEASE = """mutation($i: ReleaseTerminationExportInput!) { releaseTerminationExport(input: $i) {
  password downloadPath errors { field code } } }"""


@asynccontextmanager
async def _server(
    settings: Settings, engine: AsyncEngine, keys: SigningKeys, clock: FixedClock, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server over the same database and data directory with other export key settings."""
    runtime = build_runtime(dataclasses.replace(settings, **changes), engine, keys, clock=clock)
    transport = httpx.ASGITransport(app=create_app(runtime), client=(f"test-{uuid.uuid4().hex[:12]}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _requested(client: httpx.AsyncClient, school: SchoolData) -> str:
    admin = await login(client, school.slug, "admin")
    opened = await mutate(
        client, school.slug, admin, "openSubjectAccessRequest", "request { id }",
        personId=gid("Pupil", school.pupils["pupil1"]),
    )  # fmt: skip
    assert opened["errors"] == []
    return str(opened["request"]["id"])


async def _release(client: httpx.AsyncClient, school: SchoolData, request_id: str) -> dict[str, Any]:
    admin = await login(client, school.slug, "admin")
    return await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", RELEASE, requestId=request_id
    )


async def _opens(client: httpx.AsyncClient, school: SchoolData, released: dict[str, Any]) -> None:
    """The released archive downloads and opens with the password shown."""
    admin = await login(client, school.slug, "admin")
    response = await client.get(released["downloadPath"], headers={"authorization": f"Bearer {admin}"})
    assert response.status_code == 200
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as archive:
        archive.setpassword(released["password"].encode())
        assert b"PROTECT" in archive.read("subject-access.json").split(b"\n", 1)[0]


async def _seal_of(engine: AsyncEngine, school: SchoolData) -> bytes | None:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return await session.scalar(
            select(SubjectAccessRequest.sealed_password).where(SubjectAccessRequest.school_id == school.id)
        )


async def _build(
    engine: AsyncEngine, owner_engine: AsyncEngine, settings: Settings, clock: FixedClock, **kw: Any
) -> None:
    report = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=settings.data_dir, now=clock.now(), **kw
    )
    assert report.failed == 0


async def test_an_export_sealed_under_the_old_key_is_released_after_rotation_and_reseal(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    database_urls: DatabaseUrls,
    settings: Settings,
    keys: SigningKeys,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LRS 6.8, LL 5.1.1, LL 5.1.3: exports are sealed under key A (three subject access requests, one
    termination export) and one under an unrelated key C. The server is rotated to key B:
    - with A kept as a previous key, an export sealed under A is released and opens;
    - with B alone, one sealed under A is refused with EXPORT_KEY_MISMATCH, its seal untouched;
    - `schoolgraph exports reseal` (B current, A previous) re-seals the pending ones under B in one
      transaction, names the one no key opens and leaves it as it was (exit status 1), and records it in the
      platform log;
    - with B alone, the re-sealed subject access export and termination export are released and open;
      the one sealed under C is still refused with EXPORT_KEY_MISMATCH."""
    key_a = export_key_path(settings.data_dir, settings.export_key_file)  # what the suite's server uses
    key_b, key_c = tmp_path / "export-key-b", tmp_path / "export-key-c"
    made = [export_key(settings.data_dir, key) for key in (key_a, key_b, key_c)]  # each made on first use
    assert len(set(made)) == 3

    stranger = await factory.school()  # its export is sealed under C, a key the rotation is never given
    stranger_request = await _requested(client, stranger)
    await _build(engine, owner_engine, settings, clock, steps=["subject_access"], export_key_file=key_c)
    rotated_early, refused, resealed = await factory.school(), await factory.school(), await factory.school()
    requests = {s.id: await _requested(client, s) for s in (rotated_early, refused, resealed)}
    await _build(engine, owner_engine, settings, clock, steps=["subject_access"])  # under A
    terminated, trust = await factory.school(), await trusts.trust(admins=("rotationtrustadmin",))
    await trusts.join(terminated, trust)
    operator = await platform_login(client, (await trusts.operator()).username)
    sid = to_global_id("School", terminated.id)
    done = await platform_gql(
        client, TERMINATE,
        {"i": {"schoolId": sid, "reason": "END_OF_LICENCE", "confirmSlug": terminated.slug}}, token=operator,
    )  # fmt: skip
    assert done["data"]["terminateSchool"]["errors"] == []
    await _build(engine, owner_engine, settings, clock, steps=["destructions"])  # under A

    async with _server(
        settings, engine, keys, clock, export_key_file=key_b, export_previous_key_files=(key_a,)
    ) as rotated:
        released = await _release(rotated, rotated_early, requests[rotated_early.id])
        assert released["errors"] == [] and released["password"]
        await _opens(rotated, rotated_early, released)
    async with _server(settings, engine, keys, clock, export_key_file=key_b) as only_b:
        before = await _seal_of(engine, refused)
        mismatch = await _release(only_b, refused, requests[refused.id])
        assert problems(mismatch) == [(None, "EXPORT_KEY_MISMATCH")] and mismatch["password"] is None
        assert await _seal_of(engine, refused) == before is not None

    stranger_seal = await _seal_of(engine, stranger)
    monkeypatch.setenv("DATABASE_URL", database_urls.owner.render_as_string(hide_password=False))
    monkeypatch.setenv("SCHOOLGRAPH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SCHOOLGRAPH_EXPORT_KEY_FILE", str(key_b))
    monkeypatch.setenv("SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES", f"{key_a}, ")
    monkeypatch.setenv("COLUMNS", "250")
    result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, ["exports", "reseal"]))
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output  # the seal under C opens with neither key
    async with AsyncSession(engine) as session:
        await bind(session, [stranger.id])
        stranger_id = await session.scalar(
            select(SubjectAccessRequest.id).where(SubjectAccessRequest.school_id == stranger.id)
        )
        record_id = await session.scalar(
            select(DestructionRecord.id).where(DestructionRecord.tenant_id == terminated.id)
        )
        logged = (
            await session.execute(
                select(PlatformAuditEntry)
                .where(PlatformAuditEntry.action == "exports.resealed")
                .order_by(PlatformAuditEntry.id.desc())  # type: ignore[union-attr]
                .limit(1)
            )
        ).scalar_one()
    assert f"subject_access_requests {stranger_id}: sealed by none of the keys given" in output
    assert f"destruction_records {record_id}" not in output and "Re-sealed under the current key" in output
    assert await _seal_of(engine, stranger) == stranger_seal  # left as it was
    assert await _seal_of(engine, refused) != before  # re-sealed under B
    assert logged.actor_type == "OPERATOR" and logged.outcome == "SUCCESS"
    assert logged.detail["subjectAccessRequests"] >= 2 and logged.detail["destructionRecords"] >= 1
    assert f"subject_access_requests:{stranger_id}" in logged.detail["unopened"]

    async with _server(settings, engine, keys, clock, export_key_file=key_b) as only_b:
        for school in (refused, resealed):
            released = await _release(only_b, school, requests[school.id])
            assert released["errors"] == [] and released["password"]
            await _opens(only_b, school, released)
        admin = await trust_login(only_b, trust.slug, "rotationtrustadmin")
        returned = await trust_gql(
            only_b, trust.slug, "mutation($i: ChooseHandoverInput!) { chooseTerminationHandover(input: $i) { errors { code } } }",
            {"i": {"schoolId": sid, "choice": "RETURN"}}, token=admin,
        )  # fmt: skip
        assert returned["data"]["chooseTerminationHandover"]["errors"] == []
        export = await trust_gql(only_b, trust.slug, TRUST_RELEASE, {"i": {"schoolId": sid}}, token=admin)
        payload = export["data"]["releaseTerminationExport"]
        assert payload["errors"] == [] and payload["password"]
        archive = await only_b.get(payload["downloadPath"], headers={"authorization": f"Bearer {admin}"})
        with pyzipper.AESZipFile(io.BytesIO(archive.content)) as opened:
            opened.setpassword(payload["password"].encode())
            assert b"PROTECT" in opened.read("termination-export.json").split(b"\n", 1)[0]
        still = await _release(only_b, stranger, stranger_request)
        assert problems(still) == [(None, "EXPORT_KEY_MISMATCH")]


async def test_the_holders_release_under_a_key_that_did_not_seal_it_is_503_and_changes_nothing(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    keys: SigningKeys,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LRS 6.8, LL 5.1.3: a server whose export key did not seal a termination export answers the credential's
    holder 503 EXPORT_KEY_MISMATCH (not a 500), the seal stays, and the server with the right key releases it."""
    school = await factory.school()
    operator = await platform_login(client, (await trusts.operator()).username)
    (chosen,) = await _super_user_returns(client, school, operator)
    await _terminate(client, school, operator)
    await _build(engine, owner_engine, settings, clock, steps=["destructions"])
    headers = {"authorization": f"Bearer {chosen['handoverCredential']}"}
    async with _server(settings, engine, keys, clock, export_key_file=tmp_path / "another-key") as other:
        refused = await other.post(chosen["releasePath"], headers=headers)
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "EXPORT_KEY_MISMATCH"
    released = await client.post(chosen["releasePath"], headers=headers)
    assert released.status_code == 200 and released.json()["password"]

"""The termination handover (LL 5.1.3, LL-A 6.3.7, LL-A 9.3): the trust's admins choose return or delete; a
returned export is encrypted and marked (LRS 6.6, LRS 6.8) and downloadable by them until the return
window closes; then every copy is purged and the destruction record says so."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyzipper
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.clock import FixedClock
from common.settings import Settings
from graph.core.relay import to_global_id
from models.platform import PlatformAuditEntry
from privacy.exporter import export_key_path
from server.jobs import run_jobs
from storage.files import local_store
from storage.files import storage_key as file_key
from tests.factories import clock as suite_clock
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import (
    TrustData,
    TrustFactory,
    platform_gql,
    platform_login,
    trust_gql,
    trust_login,
)

TERMINATE = """
mutation($i: TerminateSchoolInput!) { terminateSchool(input: $i) { destruction { id } errors { code } } }
"""
CHOOSE = """
mutation($i: ChooseHandoverInput!) { chooseTerminationHandover(input: $i) {
  destruction { status handover returnUntil copiesPurgedAt } errors { field code } } }
"""
RELEASE = """
mutation($i: ReleaseTerminationExportInput!) { releaseTerminationExport(input: $i) {
  password downloadPath destruction { releasedAt returnUntil } errors { field code } } }
"""
RECORD = (
    "query($s: String!) { school(slug: $s) { destruction { status handover exportPath copiesPurgedAt } } }"
)


async def _terminated(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, tmp_path: Path
) -> tuple[SchoolData, TrustData, str]:
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    await local_store(tmp_path).put(file_key(school.id, "c" * 64), b"%PDF-1.4 the school's homework")
    operator = await platform_login(client, (await trusts.operator()).username)
    done = await platform_gql(
        client,
        TERMINATE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "END_OF_LICENCE",
                "confirmSlug": school.slug,
            }
        },
        token=operator,
    )
    assert done["data"]["terminateSchool"]["errors"] == []
    return school, trust, operator


async def _jobs(
    engine: AsyncEngine, owner_engine: AsyncEngine, tmp_path: Path, clock: FixedClock, settings: Settings
) -> Any:
    """The steps, with the server's export key (the release unseals with it)."""
    report = await run_jobs(
        engine,
        owner_engine=owner_engine,
        data_dir=tmp_path,
        now=clock.now(),
        steps=["destructions", "handovers"],
        export_key_file=export_key_path(settings.data_dir, settings.export_key_file),
    )
    assert report.failed == 0
    return report


async def _refusals(engine: AsyncEngine, trust_id: uuid.UUID) -> list[tuple[str, str, int, uuid.UUID | None]]:
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(PlatformAuditEntry)
            .where(
                PlatformAuditEntry.action == "termination.export_download_refused",
                PlatformAuditEntry.trust_id == trust_id,
            )
            .order_by(PlatformAuditEntry.id)
        )
        return [(e.actor_type, e.outcome, e.detail["status"], e.target_id) for e in rows.scalars()]


async def test_a_returned_export_is_encrypted_downloadable_by_the_trust_then_every_copy_purged(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LL-A 9.3, LRS 6.6, LRS 6.8, LRS 5.1: the trust admin chooses RETURN; after the destruction they
    release the export (the password shown once) and download an AES-256 zip that opens only with it, marked
    PROTECT, with the school's rows and files; another trust's admin and an anonymous caller get nothing; after
    the return window every copy is gone and the record says when; every refused download is logged."""
    school, trust, operator = await _terminated(client, factory, trusts, tmp_path)
    admin = await trust_login(client, trust.slug)
    sid = to_global_id("School", school.id)
    chosen = await trust_gql(
        client, trust.slug, CHOOSE, {"i": {"schoolId": sid, "choice": "RETURN"}}, token=admin
    )
    assert chosen["data"]["chooseTerminationHandover"]["errors"] == []
    early = await trust_gql(client, trust.slug, RELEASE, {"i": {"schoolId": sid}}, token=admin)
    assert early["data"]["releaseTerminationExport"]["errors"] == [{"field": "schoolId", "code": "NOT_READY"}]

    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    released = (await trust_gql(client, trust.slug, RELEASE, {"i": {"schoolId": sid}}, token=admin))["data"][
        "releaseTerminationExport"
    ]
    assert released["errors"] == [] and released["destruction"]["returnUntil"] == str(
        suite_clock.platform_day() + timedelta(days=30)
    )
    password, path = released["password"], released["downloadPath"]
    again = await trust_gql(client, trust.slug, RELEASE, {"i": {"schoolId": sid}}, token=admin)
    assert again["data"]["releaseTerminationExport"]["errors"] == [
        {"field": "schoolId", "code": "ALREADY_RELEASED"}
    ]

    response = await client.get(path, headers={"authorization": f"Bearer {admin}"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(response.content)) as archive:
        with pytest.raises(RuntimeError):
            archive.read("termination-export.json")
        archive.setpassword(password.encode())
        export = archive.read("termination-export.json")
        homework = archive.read(f"files/{'c' * 64}")
    assert b"PROTECT" in export.split(b"\n", 1)[0]
    assert school.pupils["pupil1"].upn.encode() in export  # type: ignore[union-attr]
    assert homework == b"%PDF-1.4 the school's homework"

    other = await trusts.trust(admins=("othertrustadmin",))
    stranger = await trust_login(client, other.slug, "othertrustadmin")
    elsewhere = path.replace(trust.slug, other.slug)
    assert (await client.get(elsewhere, headers={"authorization": f"Bearer {stranger}"})).status_code == 404
    assert (await client.get(path, headers={"authorization": f"Bearer {stranger}"})).status_code == 401
    assert (await client.get(path)).status_code == 401
    refused = await trust_gql(
        client, other.slug, CHOOSE, {"i": {"schoolId": sid, "choice": "DELETE"}}, token=stranger
    )
    assert refused["data"]["chooseTerminationHandover"]["errors"] == [
        {"field": "schoolId", "code": "NOT_FOUND"}
    ]

    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    export_path = Path(record["exportPath"])
    assert export_path.exists() and record["copiesPurgedAt"] is None  # noqa: ASYNC240 - a test's check
    clock.set(suite_clock.INSTANT + timedelta(days=31))
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    operator = await platform_login(client, (await trusts.operator()).username)
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["handover"] == "RETURN" and record["copiesPurgedAt"] is not None
    assert not export_path.exists() and not export_path.with_suffix(".zip").exists()  # noqa: ASYNC240
    assert not export_path.with_suffix(".files").exists()
    admin = await trust_login(client, trust.slug)
    assert (await client.get(path, headers={"authorization": f"Bearer {admin}"})).status_code == 410

    # Every refusal is in the platform log under the trust asked (LRS 5.1): the other trust's admin's 404 at
    # their own trust; at this trust, their token's 401 and the anonymous one from the same address (counted,
    # not logged twice), and the 410 after the window.
    assert await _refusals(engine, other.id) == [("TRUST_ADMIN", "DENIED", 404, school.id)]
    assert await _refusals(engine, trust.id) == [
        ("ANONYMOUS", "DENIED", 401, school.id),
        ("TRUST_ADMIN", "DENIED", 410, school.id),
    ]


async def test_on_delete_every_copy_goes_with_the_destruction(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LL-A 6.3.7: the trust admin chooses DELETE; the run that destroys the data purges the export
    and the copied files too, and the destruction record says so; nothing is left to release."""
    school, trust, operator = await _terminated(client, factory, trusts, tmp_path)
    admin = await trust_login(client, trust.slug)
    sid = to_global_id("School", school.id)
    chosen = await trust_gql(
        client, trust.slug, CHOOSE, {"i": {"schoolId": sid, "choice": "DELETE"}}, token=admin
    )
    assert chosen["data"]["chooseTerminationHandover"]["destruction"]["handover"] == "DELETE"
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["status"] == "DESTROYED" and record["copiesPurgedAt"] is not None
    export = Path(record["exportPath"])
    assert not export.exists() and not export.with_suffix(".files").exists()  # noqa: ASYNC240
    released = await trust_gql(client, trust.slug, RELEASE, {"i": {"schoolId": sid}}, token=admin)
    assert released["data"]["releaseTerminationExport"]["errors"] == [
        {"field": "schoolId", "code": "ALREADY_PURGED"}
    ]


async def test_a_super_user_chooses_in_advance_and_termination_keeps_the_choice(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 5.1.3, LL-A 9.3: a Super-User of the school records DELETE while the school is active; another admin
    and a teacher cannot; termination carries the choice onto the destruction record."""
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    query = "mutation($c: HandoverChoice!) { setTerminationHandover(input: {choice: $c}) { choice errors { code } } }"
    admin = await login(client, school.slug, "admin")
    before = await gql(client, school.slug, query, {"c": "DELETE"}, token=admin)
    assert before["data"]["setTerminationHandover"] == {
        "choice": None,
        "errors": [{"code": "NOT_A_SUPER_USER"}],
    }
    teacher = await gql(
        client, school.slug, query, {"c": "DELETE"}, token=await login(client, school.slug, "teacher1")
    )
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nominated = await trust_gql(
        client, trust.slug,
        "mutation($s: ID!, $a: [ID!]!) { setSuperUsers(input: {schoolId: $s, accountIds: $a}) { errors { code } } }",
        {"s": to_global_id("School", school.id), "a": [to_global_id("Account", school.accounts["admin"].id)]},
        token=await trust_login(client, trust.slug),
    )  # fmt: skip
    assert nominated["data"]["setSuperUsers"]["errors"] == []
    chosen = await gql(client, school.slug, query, {"c": "DELETE"}, token=admin)
    assert chosen["data"]["setTerminationHandover"] == {"choice": "DELETE", "errors": []}

    operator = await platform_login(client, (await trusts.operator()).username)
    done = await platform_gql(
        client,
        TERMINATE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "END_OF_LICENCE",
                "confirmSlug": school.slug,
            }
        },
        token=operator,
    )
    assert done["data"]["terminateSchool"]["errors"] == []
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["handover"] == "DELETE" and record["status"] == "PENDING"

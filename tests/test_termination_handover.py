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
from models.licensing import DestructionRecord
from models.platform import PlatformAuditEntry
from models.privacy import TerminationPreference
from privacy.exporter import export_key_path
from server.jobs import run_jobs
from storage.files import local_store
from storage.files import storage_key as file_key
from subscriptions.handover import credential_digest
from tenants.context import bind
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
    await _terminate(client, school, operator)
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


PREFER = """mutation($c: HandoverChoice!) { setTerminationHandover(input: {choice: $c}) {
  choice handoverCredential releasePath downloadPath errors { code } } }"""
NOMINATE = """mutation($s: ID!, $a: [ID!]!) { setSuperUsers(input: {schoolId: $s, accountIds: $a}) {
  errors { code } } }"""
HELD = "query($s: String!) { school(slug: $s) { destruction { handover superUserCredential status } } }"
STANDING = "{ terminationHandover { choice credentialIssuedAt credentialHonoured } }"
HOLDER_ACTIONS = (
    "termination.export_released",
    "termination.export_downloaded",
    "termination.export_release_refused",
    "termination.export_download_refused",
)


async def _super_user_returns(
    client: httpx.AsyncClient, school: SchoolData, operator: str, *, times: int = 1
) -> list[dict[str, Any]]:
    """The operator nominates the school's admin as its Super-User, who chooses RETURN ``times`` times: the
    payloads (each with a new handover credential)."""
    nominated = await platform_gql(
        client,
        NOMINATE,
        {"s": to_global_id("School", school.id), "a": [to_global_id("Account", school.accounts["admin"].id)]},
        token=operator,
    )
    assert nominated["data"]["setSuperUsers"]["errors"] == []
    admin = await login(client, school.slug, "admin")
    return [
        (await gql(client, school.slug, PREFER, {"c": "RETURN"}, token=admin))["data"][
            "setTerminationHandover"
        ]
        for _ in range(times)
    ]


async def _terminate(client: httpx.AsyncClient, school: SchoolData, operator: str) -> None:
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


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _holder_log(engine: AsyncEngine, school_id: uuid.UUID) -> list[tuple[str, str, str, Any, Any]]:
    """The platform log's releases, downloads and refusals of the school's export (refusals name the school,
    the rest its destruction record), in order: (action, actor type, outcome, status or None, actor id)."""
    async with AsyncSession(engine) as session:
        record_id = await session.scalar(
            select(DestructionRecord.id).where(DestructionRecord.tenant_id == school_id)
        )
        rows = await session.execute(
            select(PlatformAuditEntry)
            .where(
                PlatformAuditEntry.action.in_(HOLDER_ACTIONS),  # type: ignore[attr-defined]
                PlatformAuditEntry.target_id.in_([school_id, record_id]),  # type: ignore[union-attr]
            )
            .order_by(PlatformAuditEntry.id)
        )
        return [
            (e.action, e.actor_type, e.outcome, e.detail.get("status"), e.actor_id) for e in rows.scalars()
        ]


async def test_a_standalone_schools_super_user_gets_its_export_with_the_handover_credential(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LL-A 9.3, LRS 6.6, LRS 6.8, LRS 5.1: a school in no trust. Its Super-User chooses RETURN in
    advance and is shown a handover credential once (choosing again voids the first). After termination and
    destruction, the credential releases the export (the password once) and downloads the AES-256 archive
    at the school's own route; the voided credential, another school's Super-User's credential, that
    Super-User's and a trust admin's bearer tokens, and an anonymous caller get nothing; the used credential
    releases nothing twice. After the return window every copy is purged, the record says so and the
    credential gets 410. Releases, downloads and refusals are in the platform log."""
    school, other = await factory.school(), await factory.school()
    await local_store(tmp_path).put(
        file_key(school.id, "d" * 64), b"%PDF-1.4 the standalone school's homework"
    )
    operator = await platform_login(client, (await trusts.operator()).username)
    first, chosen = await _super_user_returns(client, school, operator, times=2)
    assert chosen["choice"] == "RETURN" and chosen["errors"] == []
    credential, voided = chosen["handoverCredential"], first["handoverCredential"]
    assert credential.startswith("sgh_") and voided != credential
    release, download = chosen["releasePath"], chosen["downloadPath"]
    assert (release, download) == (
        f"/schools/{school.slug}/termination-export/release",
        f"/schools/{school.slug}/termination-export",
    )
    (elsewhere,) = await _super_user_returns(client, other, operator)
    other_token = await login(client, other.slug, "admin")  # another school's Super-User, signed in
    outsider = await trusts.trust(admins=("outsidetrustadmin",))
    outsider_token = await trust_login(client, outsider.slug, "outsidetrustadmin")
    early = await client.post(release, headers=_bearer(credential))
    assert early.status_code == 401  # not terminated yet: no export for any credential

    await _terminate(client, school, operator)
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    held = (await platform_gql(client, HELD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert held == {"handover": "RETURN", "superUserCredential": True, "status": "DESTROYED"}
    for headers in (
        {},
        _bearer(voided),
        _bearer(elsewhere["handoverCredential"]),
        _bearer(other_token),
        _bearer(outsider_token),
        _bearer(credential + "x"),
    ):
        for answer in (
            await client.post(release, headers=headers),
            await client.get(download, headers=headers),
        ):
            assert (
                answer.status_code == 401
                and "password" not in answer.text
                and b"PK" not in answer.content[:2]
            )
    not_yet = await client.get(download, headers=_bearer(credential))
    assert not_yet.status_code == 409 and not_yet.json()["errors"][0]["extensions"]["code"] == "NOT_RELEASED"

    released = await client.post(release, headers=_bearer(credential))
    assert released.status_code == 200 and released.headers["cache-control"] == "no-store"
    body = released.json()
    assert body["downloadPath"] == download
    assert body["returnUntil"] == str(suite_clock.platform_day() + timedelta(days=30))
    again = await client.post(release, headers=_bearer(credential))  # the used credential: no password twice
    assert again.status_code == 409 and "password" not in again.json()
    assert again.json()["errors"][0]["extensions"]["code"] == "ALREADY_RELEASED"
    archive_bytes = await client.get(download, headers=_bearer(credential))
    assert archive_bytes.status_code == 200 and archive_bytes.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(archive_bytes.content)) as archive:
        with pytest.raises(RuntimeError):
            archive.read("termination-export.json")
        archive.setpassword(body["password"].encode())
        export = archive.read("termination-export.json")
        homework = archive.read(f"files/{'d' * 64}")
    assert b"PROTECT" in export.split(b"\n", 1)[0]
    assert school.pupils["pupil1"].upn.encode() in export  # type: ignore[union-attr]
    assert credential.encode() not in export and b"credential_hash" not in export
    assert homework == b"%PDF-1.4 the standalone school's homework"

    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    export_path = Path(record["exportPath"])
    clock.set(suite_clock.INSTANT + timedelta(days=31))
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    operator = await platform_login(client, (await trusts.operator()).username)
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["handover"] == "RETURN" and record["copiesPurgedAt"] is not None
    assert not export_path.exists() and not export_path.with_suffix(".files").exists()  # noqa: ASYNC240
    assert (await client.get(download, headers=_bearer(credential))).status_code == 410

    # The platform log (LRS 5.1): the holder's release and download as HANDOVER, each refusal with its status;
    # the anonymous 401s from one address recorded once a window, the repeats counted. The holder is named by
    # the Super-User's account id (the account itself went with the school's data).
    holder = school.accounts["admin"].id
    assert await _holder_log(engine, school.id) == [
        ("termination.export_release_refused", "ANONYMOUS", "DENIED", 401, None),
        ("termination.export_download_refused", "ANONYMOUS", "DENIED", 401, None),
        ("termination.export_download_refused", "HANDOVER", "DENIED", 409, holder),
        ("termination.export_released", "HANDOVER", "SUCCESS", None, holder),
        ("termination.export_release_refused", "HANDOVER", "DENIED", 409, holder),
        ("termination.export_downloaded", "HANDOVER", "SUCCESS", None, holder),
        ("termination.export_download_refused", "HANDOVER", "DENIED", 410, holder),
    ]


async def test_in_a_trust_the_super_user_and_the_trust_share_the_release_and_delete_purges_every_copy(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LL-A 6.3.7, LL-A 9.3: a school in a trust whose Super-User chose RETURN: the credential's
    holder releases the export (once, for both: the trust admin's release is refused), the trust's admin
    downloads the same archive at the trust's route; then the trust admin chooses DELETE and the next run
    purges every copy at once: the record says so and the credential gets 410."""
    school = await factory.school()
    trust = await trusts.trust(admins=("handovertrustadmin",))
    await trusts.join(school, trust)
    operator = await platform_login(client, (await trusts.operator()).username)
    (chosen,) = await _super_user_returns(client, school, operator)
    credential = chosen["handoverCredential"]
    await _terminate(client, school, operator)
    await _jobs(engine, owner_engine, tmp_path, clock, settings)

    released = await client.post(chosen["releasePath"], headers=_bearer(credential))
    assert released.status_code == 200 and released.json()["password"]
    admin = await trust_login(client, trust.slug, "handovertrustadmin")
    sid = to_global_id("School", school.id)
    refused = await trust_gql(client, trust.slug, RELEASE, {"i": {"schoolId": sid}}, token=admin)
    assert refused["data"]["releaseTerminationExport"] == {
        "password": None,
        "downloadPath": None,
        "destruction": None,
        "errors": [{"field": "schoolId", "code": "ALREADY_RELEASED"}],
    }
    held = await client.get(chosen["downloadPath"], headers=_bearer(credential))
    by_trust = await client.get(
        f"/trusts/{trust.slug}/termination-exports/{school.id}", headers=_bearer(admin)
    )
    assert held.status_code == by_trust.status_code == 200 and held.content == by_trust.content
    assert (await client.get(chosen["downloadPath"], headers=_bearer(admin))).status_code == 401

    deleted = await trust_gql(
        client, trust.slug, CHOOSE, {"i": {"schoolId": sid, "choice": "DELETE"}}, token=admin
    )
    assert deleted["data"]["chooseTerminationHandover"]["errors"] == []
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["handover"] == "DELETE" and record["copiesPurgedAt"] is not None
    assert not Path(record["exportPath"]).exists()  # noqa: ASYNC240
    gone = await client.get(chosen["downloadPath"], headers=_bearer(credential))
    assert gone.status_code == 410 and gone.json()["errors"][0]["extensions"]["code"] == "GONE"
    assert (await client.post(chosen["releasePath"], headers=_bearer(credential))).status_code == 410


async def test_choosing_delete_voids_the_credential_and_termination_keeps_none(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LL-A 6.3.7: a Super-User who chose RETURN then DELETE holds no working credential: the
    destruction purges every copy and the old credential gets 401; the preference keeps only the digest
    while it stands (never the credential)."""
    school = await factory.school()
    operator = await platform_login(client, (await trusts.operator()).username)
    (chosen,) = await _super_user_returns(client, school, operator)
    admin = await login(client, school.slug, "admin")
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        stored = await session.get(TerminationPreference, school.id)
        assert stored is not None and stored.credential_hash == credential_digest(
            chosen["handoverCredential"]
        )
    deleted = (await gql(client, school.slug, PREFER, {"c": "DELETE"}, token=admin))["data"][
        "setTerminationHandover"
    ]
    assert deleted == {"choice": "DELETE", "handoverCredential": None, "releasePath": None, "downloadPath": None,
                       "errors": []}  # fmt: skip
    await _terminate(client, school, operator)
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    record = (await platform_gql(client, RECORD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record["handover"] == "DELETE" and record["copiesPurgedAt"] is not None
    assert (
        await client.post(chosen["releasePath"], headers=_bearer(chosen["handoverCredential"]))
    ).status_code == 401


async def test_a_credential_is_honoured_only_for_a_super_user_still_in_office_at_termination(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """LL 5.1.3, LRS 6.8: the school's admins see the standing choice (terminationHandover) and whether its
    credential would be honoured; another school's admin sees only their own (none), a teacher and an
    anonymous caller nothing. The Super-User who chose RETURN is then no longer a Super-User when the school is
    terminated (the operator replaced the nomination): the query says the credential is not honoured, the
    destruction record keeps the choice but no credential, and the credential releases nothing."""
    school, other = await factory.school(), await factory.school()
    operator = await platform_login(client, (await trusts.operator()).username)
    (chosen,) = await _super_user_returns(client, school, operator)
    admin = await login(client, school.slug, "admin")
    standing = (await gql(client, school.slug, STANDING, token=admin))["data"]["terminationHandover"]
    assert standing == {"choice": "RETURN", "credentialIssuedAt": suite_clock.INSTANT.isoformat(),
                        "credentialHonoured": True}  # fmt: skip
    elsewhere = await gql(client, other.slug, STANDING, token=await login(client, other.slug, "admin"))
    assert elsewhere["data"] == {"terminationHandover": None}
    teacher = await gql(client, school.slug, STANDING, token=await login(client, school.slug, "teacher1"))
    assert teacher["data"]["terminationHandover"] is None
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(client, school.slug, STANDING)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    cleared = await platform_gql(
        client, NOMINATE, {"s": to_global_id("School", school.id), "a": []}, token=operator
    )
    assert cleared["data"]["setSuperUsers"]["errors"] == []
    standing = (await gql(client, school.slug, STANDING, token=admin))["data"]["terminationHandover"]
    assert standing["choice"] == "RETURN" and standing["credentialHonoured"] is False
    await _terminate(client, school, operator)
    await _jobs(engine, owner_engine, tmp_path, clock, settings)
    record = (await platform_gql(client, HELD, {"s": school.slug}, token=operator))["data"]["school"][
        "destruction"
    ]
    assert record == {"handover": "RETURN", "superUserCredential": False, "status": "DESTROYED"}
    refused = await client.post(chosen["releasePath"], headers=_bearer(chosen["handoverCredential"]))
    assert refused.status_code == 401 and "password" not in refused.text

"""Subject access requests (LL 5.1.1, LL 5.1.4, LL-S2 (xii)) and their encrypted, marked exports (LRS 6.6,
LRS 6.8), through the school schema and the download route over HTTP."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import pyzipper
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.clock import FixedClock
from common.settings import Settings
from graph.core.arguments import lookup_id
from models.privacy import SubjectAccessRequest
from server.jobs import run_jobs
from tenants.context import bind
from tests.factories import clock as suite_clock
from tests.factories.audit import entries
from tests.factories.learning import PDF, gid, mutate, problems, today, upload
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_learning_assignments import ASSIGNMENT, SUBMISSION

REQUEST = "request { id subjectType subjectId channel status dueOn overdue expiresAt downloads }"
QUEUE = (
    "query($o: Boolean!) { subjectAccessRequests(overdue: $o) { subjectId channel status dueOn overdue } }"
)
MY_DATA = "mutation { requestMyData { dueOn errors { field code } } }"


async def _jobs(engine: AsyncEngine, owner_engine: AsyncEngine, settings: Settings, clock: FixedClock) -> Any:
    report = await run_jobs(
        engine,
        owner_engine=owner_engine,
        data_dir=settings.data_dir,
        now=clock.now(),
        steps=["subject_access"],
    )
    assert report.failed == 0
    return report


async def _sealed(engine: AsyncEngine, school: SchoolData, request_id: Any) -> bytes | None:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        row = await session.get(SubjectAccessRequest, (school.id, request_id))
        assert row is not None
        return row.sealed_password


async def _pupil_with_work(client: httpx.AsyncClient, school: SchoolData) -> None:
    teacher = await login(client, school.slug, "teacher1")
    set_ = await mutate(
        client, school.slug, teacher, "setAssignment", ASSIGNMENT,
        groupId=gid("Group", school.groups["A"]), title="Spellings", kind="HOMEWORK", dueOn=str(today()),
        instructions="Learn them.",
    )  # fmt: skip
    pupil = await login(client, school.slug, "pupil1")
    body = await upload(
        client, school.slug, pupil, "submitWork", SUBMISSION,
        file_name="spellings.pdf", data=PDF, assignmentId=set_["assignment"]["id"], text="My spellings",
    )  # fmt: skip
    assert body["data"]["submitWork"]["errors"] == []


async def test_a_request_is_queued_built_released_encrypted_downloaded_and_purged(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LL 5.1.1, LL 5.1.4, LRS 6.6, LRS 6.8: an admin opens a request for a pupil; the jobs step builds the
    export; releasing it gives a password once; the archive is AES-256 encrypted (it opens with the password,
    with pyzipper and 7-Zip, and not without), every file in it marked PROTECT on its first line, with the
    pupil's records and submitted file; it is downloadable by admins for 7 days, then purged; each step is
    in the audit chain."""
    school = await factory.school()
    await _pupil_with_work(client, school)
    admin = await login(client, school.slug, "admin")
    opened = await mutate(
        client,
        school.slug,
        admin,
        "openSubjectAccessRequest",
        REQUEST,
        personId=gid("Pupil", school.pupils["pupil1"]),
    )
    assert opened["errors"] == []
    request = opened["request"]
    assert request["status"] == "OPEN" and request["channel"] == "ADMIN" and request["subjectType"] == "PUPIL"
    assert request["dueOn"] == "2026-12-18" and request["overdue"] is False  # a calendar month
    again = await mutate(
        client,
        school.slug,
        admin,
        "openSubjectAccessRequest",
        REQUEST,
        personId=gid("Pupil", school.pupils["pupil1"]),
    )
    assert problems(again) == [("personId", "ALREADY_OPEN")]
    early = await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", "password errors { field code }",
        requestId=request["id"],
    )  # fmt: skip
    assert problems(early) == [("requestId", "NOT_READY")] and early["password"] is None

    report = await _jobs(engine, owner_engine, settings, clock)
    assert f"{school.id}:built=1,purged=0" in report.step("subject_access").applied
    # Built encrypted (LRS 6.8): the only file on the server is the AES archive, no plain copy of anything;
    # its password is sealed on the request until release, and gone from it after.
    request_id = lookup_id(request["id"], "SubjectAccessRequest")
    built = Path(settings.data_dir) / "subject-access" / str(school.id)
    assert [p.name for p in built.iterdir()] == [f"{request_id}.zip"]
    on_disk = (built / f"{request_id}.zip").read_bytes()
    assert school.pupils["pupil1"].upn.encode() not in on_disk  # type: ignore[union-attr]
    assert await _sealed(engine, school, request_id) is not None
    released = await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", f"password downloadPath {REQUEST}",
        requestId=request["id"],
    )  # fmt: skip
    assert released["errors"] == [] and released["request"]["status"] == "RELEASED"
    password = released["password"]
    assert len(password) >= 20
    assert await _sealed(engine, school, request_id) is None  # shown once, stored nowhere now
    second = await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", "password errors { field code }",
        requestId=request["id"],
    )  # fmt: skip
    assert problems(second) == [("requestId", "ALREADY_RELEASED")] and second["password"] is None

    response = await client.get(released["downloadPath"], headers={"authorization": f"Bearer {admin}"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = response.content
    assert password.encode() not in archive

    with pyzipper.AESZipFile(io.BytesIO(archive)) as opened_zip:
        names = opened_zip.namelist()
        info = opened_zip.getinfo("subject-access.json")
        assert info.flag_bits & 0x1  # encrypted (WinZip AES: the standard library cannot read it, below)
        with pytest.raises(RuntimeError):
            opened_zip.read("subject-access.json")  # no password
        opened_zip.setpassword(b"not the password")
        with pytest.raises(RuntimeError):
            opened_zip.read("subject-access.json")
        opened_zip.setpassword(password.encode())
        files = {name: opened_zip.read(name) for name in names}
    assert opened_zip.comment.startswith(b"PROTECT")
    for name, data in files.items():
        if name.endswith((".json", ".csv")):
            assert data.split(b"\n", 1)[0].find(b"PROTECT") >= 0, name
    document = json.loads(files["subject-access.json"])
    assert document["marking"] == "PROTECT"
    pupil = school.pupils["pupil1"]
    assert document["subject"] == {"type": "PUPIL", "id": str(pupil.id), "name": "PatA1 Pupil0001"}
    assert [row["upn"] for row in document["tables"]["pupils"]] == [pupil.upn]
    assert {"group_pupils", "submissions", "accounts", "audit_log", "pupil_consents"} <= set(
        document["tables"]
    )
    assert [g["name"] for g in document["context"]["groups"]] == ["Class A"]
    assert [a["title"] for a in document["context"]["assignments"]] == ["Spellings"]
    assert "password_hash" not in document["tables"]["accounts"][0]
    assert document["withheld"]["columns"]["accounts"] == ["password_hash"]
    pupils_csv = list(csv.reader(io.StringIO(files["pupils.csv"].decode())))
    assert pupils_csv[0][0].startswith("PROTECT") and "upn" in pupils_csv[1] and pupil.upn in pupils_csv[2]
    (submitted,) = [name for name in names if name.startswith("files/")]
    assert files[submitted] == PDF

    seven_zip = shutil.which("7z")
    if seven_zip:  # the standard tool, where it is installed (Info-ZIP's unzip has no AES: not a reader)
        path = tmp_path / "export.zip"
        path.write_bytes(archive)
        good = await anyio.run_process([seven_zip, "t", f"-p{password}", str(path)], check=False)
        assert good.returncode == 0, good.stdout
        bad = await anyio.run_process([seven_zip, "t", "-pwrong", str(path)], check=False)
        assert bad.returncode != 0
    with zipfile.ZipFile(io.BytesIO(archive)) as plain:
        with pytest.raises(RuntimeError, match="encrypted"):
            plain.read("subject-access.json")
        with pytest.raises(NotImplementedError):  # AES (method 99), not the weak legacy ZipCrypto
            plain.read("subject-access.json", pwd=password.encode())

    # Seven days later the archive is purged: the download is gone, and so is every copy on the server.
    clock.advance(timedelta(days=7, minutes=1))
    report = await _jobs(engine, owner_engine, settings, clock)
    assert f"{school.id}:built=0,purged=1" in report.step("subject_access").applied
    gone = await client.get(
        released["downloadPath"],
        headers={"authorization": f"Bearer {await login(client, school.slug, 'admin')}"},
    )
    assert gone.status_code == 410
    assert list((Path(settings.data_dir) / "subject-access" / str(school.id)).iterdir()) == []

    actions = [e.action for e in await entries(engine, school.id) if e.action.startswith("subject_access.")]
    assert actions == [
        "subject_access.requested",
        "subject_access.built",
        "subject_access.released",
        "subject_access.downloaded",
        "subject_access.purged",
        "subject_access.download_refused",  # the 410 after the purge
    ]


async def test_the_download_is_for_the_schools_admins_only(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
) -> None:
    """LL 5.1.1, LRS 6.8, LRS 5.1: another role, an anonymous caller and another school's admin get nothing of
    the archive (nor of the queue), and every refusal is in the audit chain of the school asked (DENIED, with
    the status answered; an anonymous address's repeats counted, not chained); so is a download asked for
    after its window closed."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    opened = await mutate(
        client,
        school.slug,
        admin,
        "openSubjectAccessRequest",
        REQUEST,
        personId=gid("Staff", school.staff["teacher1"]),
    )
    await _jobs(engine, owner_engine, settings, clock)
    released = await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", "downloadPath errors { code }",
        requestId=opened["request"]["id"],
    )  # fmt: skip
    path = released["downloadPath"]
    teacher = await login(client, school.slug, "teacher1")
    assert (await client.get(path, headers={"authorization": f"Bearer {teacher}"})).status_code == 403
    assert (await client.get(path)).status_code == 401
    foreign = await login(client, other.slug, "admin")
    assert (await client.get(path, headers={"authorization": f"Bearer {foreign}"})).status_code == 401
    elsewhere = path.replace(school.slug, other.slug)
    assert (await client.get(elsewhere, headers={"authorization": f"Bearer {foreign}"})).status_code == 404
    for token in (teacher, None):
        body = await gql(client, school.slug, QUEUE, {"o": False}, token=token)
        assert body["data"]["subjectAccessRequests"] is None
    seen = await gql(client, other.slug, QUEUE, {"o": False}, token=foreign)
    assert seen["data"]["subjectAccessRequests"] == []
    downloaded = await client.get(path, headers={"authorization": f"Bearer {admin}"})
    assert downloaded.status_code == 200
    clock.advance(timedelta(days=7, minutes=1))  # the window closed; the purge has not run yet
    admin = await login(client, school.slug, "admin")
    assert (await client.get(path, headers={"authorization": f"Bearer {admin}"})).status_code == 410

    def refusals(rows: list[Any]) -> list[tuple[str, str | None, str, int]]:
        return [(e.actor_type, e.role, e.outcome, e.detail["status"]) for e in rows]

    refused = await entries(engine, school.id, "subject_access.download_refused")
    # The teacher's 403; the anonymous 401 (the other school's admin's token is worth nothing here: a
    # second anonymous 401 from the same address, counted); the admin's 410.
    assert refusals(refused) == [
        ("ACCOUNT", "STAFF", "DENIED", 403),
        ("ANONYMOUS", None, "DENIED", 401),
        ("ACCOUNT", "SCHOOL_ADMIN", "DENIED", 410),
    ]
    assert {e.target_id for e in refused} == {lookup_id(opened["request"]["id"], "SubjectAccessRequest")}
    # The other school's admin asking their own school for this request: refused there, and recorded there.
    assert refusals(await entries(engine, other.id, "subject_access.download_refused")) == [
        ("ACCOUNT", "SCHOOL_ADMIN", "DENIED", 404)
    ]


async def test_parents_and_older_pupils_ask_for_their_own_data_into_the_admins_queue(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
) -> None:
    """LL-S2 (xii): a parent asks for their own data; a pupil under 13 is told to ask through a parent; the
    requests wait in the admins' queue, and a month later the unanswered one is in the overdue report."""
    school = await factory.school()
    parent = await login(client, school.slug, "parent1")
    asked = await gql(client, school.slug, MY_DATA, token=parent)
    assert asked["data"]["requestMyData"] == {"dueOn": "2026-12-18", "errors": []}
    pupil = await login(client, school.slug, "pupil1")
    young = await gql(client, school.slug, MY_DATA, token=pupil)
    assert young["data"]["requestMyData"]["errors"] == [{"field": None, "code": "UNDER_13"}]
    teacher = await login(client, school.slug, "teacher1")
    refused = await gql(client, school.slug, MY_DATA, token=teacher)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    admin = await login(client, school.slug, "admin")
    queue = await gql(client, school.slug, QUEUE, {"o": False}, token=admin)
    assert queue["data"]["subjectAccessRequests"] == [
        {
            "subjectId": gid("Contact", school.contacts["parent1"]),
            "channel": "SELF",
            "status": "OPEN",
            "dueOn": "2026-12-18",
            "overdue": False,
        }
    ]
    assert (await gql(client, school.slug, QUEUE, {"o": True}, token=admin))["data"][
        "subjectAccessRequests"
    ] == []
    clock.set(suite_clock.INSTANT + timedelta(days=31))
    admin = await login(client, school.slug, "admin")
    overdue = await gql(client, school.slug, QUEUE, {"o": True}, token=admin)
    assert [r["overdue"] for r in overdue["data"]["subjectAccessRequests"]] == [True]


async def _released(
    client: httpx.AsyncClient,
    school: SchoolData,
    admin: str,
    jobs: Any,
) -> dict[str, Any]:
    """pupil1's request opened, built by the jobs step and released by the school admin."""
    opened = await mutate(
        client, school.slug, admin, "openSubjectAccessRequest", REQUEST,
        personId=gid("Pupil", school.pupils["pupil1"]),
    )  # fmt: skip
    assert opened["errors"] == []
    await jobs()
    released = await mutate(
        client, school.slug, admin, "releaseSubjectAccessExport", f"password downloadPath {REQUEST}",
        requestId=opened["request"]["id"],
    )  # fmt: skip
    assert released["errors"] == []
    return released


async def test_a_school_shortens_the_download_window_of_its_exports(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
) -> None:
    """LL-S2 (v): the platform keeps a released export 7 days; a school admin shortens that to 2 (never
    lengthens it), the next release is downloadable 2 days, and the jobs step purges it after them."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    set_period = "period { rule defaultDays schoolDays days } errors { field code }"
    longer = await mutate(
        client, school.slug, admin, "setRetentionPeriod", set_period, rule="subject_access_exports", days=8
    )
    assert problems(longer) == [("days", "NOT_SHORTER")]
    shorter = await mutate(
        client, school.slug, admin, "setRetentionPeriod", set_period, rule="subject_access_exports", days=2
    )
    assert shorter["period"] == {
        "rule": "subject_access_exports", "defaultDays": 7, "schoolDays": 2, "days": 2,
    }  # fmt: skip

    async def jobs() -> Any:
        return await _jobs(engine, owner_engine, settings, clock)

    released = await _released(client, school, admin, jobs)
    expires = released["request"]["expiresAt"]
    assert expires.startswith(str((clock.now() + timedelta(days=2)).date()))
    clock.advance(timedelta(days=2, minutes=1))
    report = await jobs()
    assert f"{school.id}:built=0,purged=1" in report.step("subject_access").applied
    assert list((Path(settings.data_dir) / "subject-access" / str(school.id)).iterdir()) == []


async def test_an_erased_persons_export_leaves_the_server_at_the_next_jobs_run(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    clock: FixedClock,
) -> None:
    """LL 5.1.6: erasing a pupil whose export was released deletes the request with the rest of their data;
    the archive (encrypted, but whoever was shown its password could still open it) is removed from the
    server by the next jobs run, and its download link answers nothing. Another school's export stays."""
    school, other = await factory.school(), await factory.school()
    admin, theirs = await login(client, school.slug, "admin"), await login(client, other.slug, "admin")

    async def jobs() -> Any:
        return await _jobs(engine, owner_engine, settings, clock)

    released = await _released(client, school, admin, jobs)
    kept = await _released(client, other, theirs, jobs)
    folder = Path(settings.data_dir) / "subject-access" / str(school.id)
    assert len(list(folder.iterdir())) == 1

    pupil = school.pupils["pupil1"]
    erased = await mutate(
        client, school.slug, admin, "erasePerson", "erasure { id } errors { field code }",
        personId=gid("Pupil", pupil), reason="Parent's request", confirmName=f"{pupil.forename} {pupil.surname}",
    )  # fmt: skip
    assert erased["errors"] == [], erased
    assert len(list(folder.iterdir())) == 1  # the erasure never deletes files before its commit
    report = await jobs()
    assert f"{school.id}:built=0,purged=0,swept=1" in report.step("subject_access").applied
    assert list(folder.iterdir()) == []
    gone = await client.get(released["downloadPath"], headers={"authorization": f"Bearer {admin}"})
    assert gone.status_code == 404
    still = await client.get(kept["downloadPath"], headers={"authorization": f"Bearer {theirs}"})
    assert still.status_code == 200

"""Content: pre-loaded and school-uploaded items, the download record and notice, printed workbooks,
reports and takedowns, through the HTTP edge (and the operator's review through its service function).
"""

from __future__ import annotations

import base64
import gc
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning import curriculum
from models import Account
from models.content import Download, PlatformContent, PrintRequest, SchoolContent
from tenants.context import bind
from tenants.scoping import scoped
from tests.factories import clock
from tests.factories.audit import entries
from tests.factories.learning import (
    TEXT,
    gid,
    mutate,
    problems,
    starter,
    today,
    upload,
    workbook_gid,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login

CONTENT = "content { id title source isWorkbook fileName mediaType byteSize }"
DOWNLOAD = "file { downloadId fileName mediaType byteSize copyrightNotice dataBase64 content { title } }"
REPORTED = "report { id status reason decisionNote reviewedByOperator content { title } }"
REPORT = REPORTED[:-2] + " uploaderSuspended }"


async def _count(engine: AsyncEngine, school: SchoolData, model: Any) -> int:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _upload(
    client: httpx.AsyncClient,
    school: SchoolData,
    token: str,
    *,
    title: str = "Spellings week 3",
    **extra: Any,
) -> dict[str, Any]:
    file_name, data = extra.pop("file", ("spellings.txt", TEXT))
    body = await upload(
        client,
        school.slug,
        token,
        "uploadContent",
        CONTENT,
        file_name=file_name,
        data=data,
        title=title,
        **extra,
    )
    payload: dict[str, Any] = body["data"]["uploadContent"]
    return payload


async def test_the_starter_curriculum_is_shipped_and_read_by_every_school(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 4.4: pre-loaded ladders (reading, writing, maths, Years 1-6, at least 10 rungs each, coded) and
    their workbooks are global reference data: every school reads the same ones, every role may."""
    shipped = curriculum.starter_ladders()
    assert {(ladder.subject, ladder.year_group) for ladder in shipped} == {
        (subject, year) for subject in ("Reading", "Writing", "Maths") for year in range(1, 7)
    }
    assert all(len(ladder.rungs) >= 10 for ladder in shipped)
    a, b = await factory.school(), await factory.school()
    seen = []
    for school, role in ((a, "pupil1"), (b, "parent1"), (a, "teacher2")):
        token = await login(client, school.slug, role)
        body = await gql(
            client, school.slug,
            "{ ladders(first: 100) { edges { node { code source rungs { code statement } } } } "
            "content(workbooksOnly: true, first: 100) { edges { node { title source isWorkbook } } } }",
            token=token,
        )  # fmt: skip
        ladders = body["data"]["ladders"]["edges"]
        assert len(ladders) == 18 and all(e["node"]["source"] == "PLATFORM" for e in ladders)
        assert all(len(e["node"]["rungs"]) >= 10 for e in ladders)
        assert len(body["data"]["content"]["edges"]) == 18
        seen.append(body["data"])
    assert seen[0] == seen[1] == seen[2]
    anonymous = await gql(client, a.slug, "{ ladders { edges { node { code } } } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_upload_content_for_their_school_only(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL 6.4.4: staff upload content (allowed types, size limit) for their school; pupils and parents may
    not upload; another school never sees it; a refused file writes nothing."""
    school = await factory.school()
    other = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    uploaded = await _upload(client, school, teacher, subject="English", yearGroup=4)
    assert uploaded["errors"] == []
    assert uploaded["content"]["source"] == "SCHOOL" and uploaded["content"]["byteSize"] == len(TEXT)
    refused = await _upload(client, school, teacher, title="", file=("run-me.exe", b"MZ\x90\x00"))
    assert problems(refused) == [("title", "REQUIRED"), ("file", "FILE_TYPE_NOT_ALLOWED")]
    assert await _count(engine, school, SchoolContent) == 1
    for role in ("pupil1", "parent1"):
        body = await upload(
            client, school.slug, await login(client, school.slug, role), "uploadContent", CONTENT,
            file_name="x.txt", data=TEXT, title="Mine",
        )  # fmt: skip
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    gc.collect()
    listing = '{ content(subject: "English") { edges { node { title source } } } }'
    pupil = await gql(client, school.slug, listing, token=await login(client, school.slug, "pupil1"))
    assert pupil["data"]["content"]["edges"] == [{"node": {"title": "Spellings week 3", "source": "SCHOOL"}}]
    theirs = await gql(client, other.slug, listing, token=await login(client, other.slug, "admin"))
    assert theirs["data"]["content"]["edges"] == []
    download = await mutate(
        client, other.slug, await login(client, other.slug, "admin"), "downloadContent", DOWNLOAD,
        contentId=uploaded["content"]["id"],
    )  # fmt: skip
    assert problems(download) == [("contentId", "CONTENT_NOT_FOUND")]


async def test_every_download_is_recorded_and_carries_the_copyright_notice(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL 7.1.4: who downloaded what and when is recorded and listed for school admins (only).
    LL 7.1.8: the copyright notice travels with every download, and inside text files themselves."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    uploaded = (await _upload(client, school, teacher))["content"]
    pupil = await login(client, school.slug, "pupil1")
    workbook = await mutate(
        client, school.slug, pupil, "downloadContent", DOWNLOAD, contentId=workbook_gid("Y4-MATHS")
    )
    assert workbook["errors"] == []
    file = workbook["file"]
    text = base64.b64decode(file["dataBase64"]).decode()
    assert file["copyrightNotice"] == curriculum.COPYRIGHT_NOTICE
    assert text.startswith(curriculum.COPYRIGHT_NOTICE) and text.rstrip().endswith(
        curriculum.COPYRIGHT_NOTICE
    )
    assert f"Printed for {school.name}" in text
    assert all(code in text for code in starter("Y4-MATHS").rung_codes)
    clock.CLOCK.advance(timedelta(minutes=1))  # the log is newest first: the teacher's download comes later
    own = await mutate(client, school.slug, teacher, "downloadContent", DOWNLOAD, contentId=uploaded["id"])
    own_text = base64.b64decode(own["file"]["dataBase64"])
    assert own_text.startswith(own["file"]["copyrightNotice"].encode()) and TEXT in own_text
    assert f"Uploaded by {school.name}" in own["file"]["copyrightNotice"]

    admin = await login(client, school.slug, "admin")
    log = await gql(
        client, school.slug,
        "{ downloads { edges { node { downloadedAt username role title source contentId } } } }", token=admin,
    )  # fmt: skip
    entries = [e["node"] for e in log["data"]["downloads"]["edges"]]
    assert [(e["username"], e["title"], e["source"]) for e in entries] == [
        ("teacher1", "Spellings week 3", "SCHOOL"),
        ("pupil1", "Year 4 Maths workbook", "PLATFORM"),
    ]
    assert entries[1]["contentId"] == workbook_gid("Y4-MATHS")
    assert all(e["downloadedAt"] for e in entries)
    one = await gql(
        client, school.slug, "query($c: ID!) { downloads(contentId: $c) { edges { node { username } } } }",
        {"c": uploaded["id"]}, token=admin,
    )  # fmt: skip
    assert one["data"]["downloads"]["edges"] == [{"node": {"username": "teacher1"}}]
    for role in ("teacher1", "senco", "pupil1", "parent1"):
        denied = await gql(client, school.slug, "{ downloads { edges { node { username } } } }",
                           token=await login(client, school.slug, role))  # fmt: skip
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await factory.school()
    theirs = await gql(client, other.slug, "{ downloads { edges { node { username } } } }",
                       token=await login(client, other.slug, "admin"))  # fmt: skip
    assert theirs["data"]["downloads"]["edges"] == []
    assert await _count(engine, school, Download) == 2


PRINT = "prints { copyNumber pupil { id } content { title } }"


async def test_one_printed_workbook_per_pupil_unless_an_admin_grants_another(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL 6.4.2: a second print request for a pupil is refused with a clear error (and nothing is written
    for any pupil of the request) until a school admin grants another copy."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    workbook = workbook_gid("Y4-MATHS")
    p1, p2 = gid("Pupil", school.pupils["pupil1"]), gid("Pupil", school.pupils["pupil2"])
    first = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=workbook, pupilIds=[p1]
    )
    assert first["errors"] == [] and first["prints"][0]["copyNumber"] == 1
    second = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=workbook, pupilIds=[p2, p1]
    )
    assert problems(second) == [("pupilIds.1", "PRINT_LIMIT_REACHED")]
    assert "one per pupil" in second["errors"][0]["message"]
    assert await _count(engine, school, PrintRequest) == 1  # pupil2 was not printed either

    admin = await login(client, school.slug, "admin")
    denied = await gql(
        client, school.slug,
        "mutation($i: GrantExtraPrintInput!) { grantExtraPrint(input: $i) { errors { code } } }",
        {"i": {"contentId": workbook, "pupilId": p1, "reason": "Lost"}}, token=teacher,
    )  # fmt: skip
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    no_reason = await mutate(
        client,
        school.slug,
        admin,
        "grantExtraPrint",
        "grant { id }",
        contentId=workbook,
        pupilId=p1,
        reason=" ",
    )
    assert problems(no_reason) == [("reason", "REQUIRED")]
    granted = await mutate(
        client, school.slug, admin, "grantExtraPrint", "grant { reason pupil { id } content { title } }",
        contentId=workbook, pupilId=p1, reason="The first copy was damaged by water.",
    )  # fmt: skip
    assert granted["errors"] == [] and granted["grant"]["pupil"] == {"id": p1}
    third = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=workbook, pupilIds=[p2, p1]
    )
    assert third["errors"] == []
    assert sorted(p["copyNumber"] for p in third["prints"]) == [1, 2]
    fourth = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=workbook, pupilIds=[p1]
    )
    assert problems(fourth) == [("pupilIds.0", "PRINT_LIMIT_REACHED")]
    # Only workbooks are printed, only for pupils the teacher teaches.
    not_taught = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=workbook,
        pupilIds=[gid("Pupil", school.pupils["pupilB1"])],
    )  # fmt: skip
    assert problems(not_taught) == [("pupilIds.0", "PUPIL_NOT_TAUGHT")]
    uploaded = (await _upload(client, school, teacher))["content"]
    not_workbook = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", PRINT, contentId=uploaded["id"], pupilIds=[p2]
    )
    assert problems(not_workbook) == [("contentId", "NOT_A_WORKBOOK")]
    other = await factory.school()
    foreign = await mutate(
        client, school.slug, admin, "requestWorkbookPrint", PRINT, contentId=workbook,
        pupilIds=[gid("Pupil", other.pupils["pupil1"])],
    )  # fmt: skip
    assert problems(foreign) == [("pupilIds.0", "PUPIL_NOT_TAUGHT")]
    for role in ("pupil1", "parent1"):
        denied = await gql(
            client, school.slug,
            "mutation($i: RequestWorkbookPrintInput!) { requestWorkbookPrint(input: $i) { errors { code } } }",
            {"i": {"contentId": workbook, "pupilIds": [p2]}}, token=await login(client, school.slug, role),
        )  # fmt: skip
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _count(engine, school, PrintRequest) == 3


async def test_a_reported_upload_taken_down_is_hidden_everywhere_and_the_decision_kept(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL 13.3: any user reports an uploaded item; a school admin reviews it. LL 8.4: the takedown hides it
    everywhere (lists, assignments, downloads, prints), records the decision and can suspend the uploader."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    item = (await _upload(client, school, teacher, title="Holiday photos", isWorkbook=True))["content"]
    assignment = (
        await mutate(
            client,
            school.slug,
            teacher,
            "setAssignment",
            "assignment { id }",
            groupId=gid("Group", school.groups["A"]),
            title="Look at this",
            kind="REVISION",
            dueOn=str(today() + timedelta(days=3)),
            contentId=item["id"],
        )
    )["assignment"]
    parent = await login(client, school.slug, "parent1")
    reported = await mutate(
        client,
        school.slug,
        parent,
        "reportContent",
        REPORTED,
        contentId=item["id"],
        reason="Shows other children",
    )
    assert reported["errors"] == [] and reported["report"]["status"] == "OPEN"
    assert reported["report"]["reason"] == "Shows other children"
    twice = await mutate(
        client, school.slug, parent, "reportContent", REPORTED, contentId=item["id"], reason="Again"
    )
    assert problems(twice) == [("contentId", "ALREADY_REPORTED")]
    pupil = await login(client, school.slug, "pupil1")
    also = await mutate(
        client, school.slug, pupil, "reportContent", REPORTED, contentId=item["id"], reason="Not nice"
    )
    assert also["errors"] == []

    admin = await login(client, school.slug, "admin")
    open_reports = await gql(
        client, school.slug, "{ contentReports(status: OPEN) { edges { node { id reason } } } }", token=admin
    )
    assert {e["node"]["reason"] for e in open_reports["data"]["contentReports"]["edges"]} == {
        "Shows other children", "Not nice",
    }  # fmt: skip
    for role in ("teacher1", "parent1"):
        denied = await gql(
            client, school.slug,
            "mutation($i: ReviewContentReportInput!) { reviewContentReport(input: $i) { errors { code } } }",
            {"i": {"reportId": reported["report"]["id"], "decision": "TAKE_DOWN", "note": "x"}},
            token=await login(client, school.slug, role),
        )  # fmt: skip
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    no_note = await mutate(
        client, school.slug, admin, "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="TAKE_DOWN", note="",
    )  # fmt: skip
    assert problems(no_note) == [("note", "REQUIRED")]
    decided = await mutate(
        client, school.slug, admin, "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="TAKE_DOWN",
        note="Photos of pupils without consent; removed and the uploader told.", suspendUploader=True,
    )  # fmt: skip
    assert decided["errors"] == []
    report = decided["report"]
    assert report["status"] == "TAKEN_DOWN" and report["uploaderSuspended"] is True
    assert report["decisionNote"].startswith("Photos of pupils") and report["reviewedByOperator"] is False
    assert report["content"]["title"] == "Holiday photos"  # the reviewer still sees what was decided

    # Hidden everywhere: the list, the assignment, downloads, prints, further reports.
    listing = await gql(client, school.slug, "{ content { edges { node { title } } } }", token=pupil)
    assert "Holiday photos" not in {e["node"]["title"] for e in listing["data"]["content"]["edges"]}
    seen = await gql(client, school.slug, "query($id: ID!) { assignment(id: $id) { content { title } } }",
                     {"id": assignment["id"]}, token=pupil)  # fmt: skip
    assert seen["data"]["assignment"]["content"] is None
    download = await mutate(client, school.slug, pupil, "downloadContent", DOWNLOAD, contentId=item["id"])
    assert problems(download) == [("contentId", "CONTENT_NOT_FOUND")]
    printed = await mutate(
        client, school.slug, admin, "requestWorkbookPrint", PRINT, contentId=item["id"],
        pupilIds=[gid("Pupil", school.pupils["pupil1"])],
    )  # fmt: skip
    assert problems(printed) == [("contentId", "CONTENT_NOT_FOUND")]
    # Every open report about the item is settled with the same decision; the record is kept.
    settled = await gql(
        client, school.slug, "{ contentReports { edges { node { status decisionNote } } } }", token=admin
    )
    assert {e["node"]["status"] for e in settled["data"]["contentReports"]["edges"]} == {"TAKEN_DOWN"}
    again = await mutate(
        client, school.slug, admin, "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="DISMISS", note="Changed my mind",
    )  # fmt: skip
    assert problems(again) == [("reportId", "ALREADY_REVIEWED")]
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        uploader = (
            await session.execute(scoped(Account, school.id).where(Account.username == "teacher1"))
        ).scalar_one()
        row = (await session.execute(scoped(SchoolContent, school.id))).scalar_one()
    assert uploader.status == "DISABLED" and uploader.status_reason == "CONTENT_TAKEDOWN"
    assert row.taken_down_at is not None and row.taken_down_by == school.accounts["admin"].id
    # The suspended uploader's session no longer works (LL 8.4 with LL 8.2).
    gone = await gql(client, school.slug, "{ viewer { username } }", token=teacher)
    assert gone["data"]["viewer"] is None


async def test_reports_the_reporter_sees_and_a_dismissal(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 13.3: a dismissed report keeps the item visible and records why; the reporter reads their own
    report's outcome, other users do not; another school sees none of it."""
    school = await factory.school()
    other = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    item = (await _upload(client, school, teacher))["content"]
    parent = await login(client, school.slug, "parent1")
    reported = await mutate(
        client, school.slug, parent, "reportContent", REPORTED, contentId=item["id"], reason="Typo"
    )
    admin = await login(client, school.slug, "admin")
    dismissed = await mutate(
        client, school.slug, admin, "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="DISMISS", note="A typo is not a breach of the rules.",
    )  # fmt: skip
    assert dismissed["report"]["status"] == "DISMISSED"
    listing = await gql(
        client, school.slug, "{ content(subject: null) { edges { node { id } } } }", token=parent
    )
    assert item["id"] in {e["node"]["id"] for e in listing["data"]["content"]["edges"]}
    theirs = await gql(client, other.slug, "{ contentReports { edges { node { id } } } }",
                       token=await login(client, other.slug, "admin"))  # fmt: skip
    assert theirs["data"]["contentReports"]["edges"] == []
    unknown = await mutate(
        client, other.slug, await login(client, other.slug, "admin"), "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="TAKE_DOWN", note="x",
    )  # fmt: skip
    assert problems(unknown) == [("reportId", "NOT_FOUND")]


OPERATOR_REVIEW = """
mutation($input: OperatorReviewInput!) { reviewContentReport(input: $input) {
    report { id status decisionNote } errors { field code message } } }
"""


async def test_pre_loaded_content_is_reviewed_by_the_operator(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
) -> None:
    """LL 13.3 and LL 8.4 for pre-loaded content: a school admin cannot take it down; the operator can (at
    the platform endpoint), and then it is hidden at every school and the decision is in its audit chain."""
    school = await factory.school()
    other = await factory.school()
    content = await _scratch_platform_item(owner_engine)
    content_gid = gid("Content", content)
    pupil = await login(client, school.slug, "pupil1")
    reported = await mutate(
        client, school.slug, pupil, "reportContent", REPORTED, contentId=content_gid, reason="Wrong"
    )
    assert reported["errors"] == []
    admin = await login(client, school.slug, "admin")
    refused = await mutate(
        client, school.slug, admin, "reviewContentReport", REPORT,
        reportId=reported["report"]["id"], decision="TAKE_DOWN", note="x",
    )  # fmt: skip
    assert problems(refused) == [("reportId", "OPERATOR_REVIEWS_PLATFORM_CONTENT")]
    operator = await trusts.operator()
    decided = await platform_gql(
        client,
        OPERATOR_REVIEW,
        {"input": {"reportId": reported["report"]["id"], "decision": "TAKE_DOWN", "note": "Factual error."}},
        token=await platform_login(client, operator.username),
    )
    assert decided["data"]["reviewContentReport"] == {
        "report": {"id": reported["report"]["id"], "status": "TAKEN_DOWN", "decisionNote": "Factual error."},
        "errors": [],
    }
    reviewed = await entries(engine, school.id, "content.report_reviewed")
    assert [(e.actor_type, e.detail) for e in reviewed] == [
        ("OPERATOR", {"decision": "TAKE_DOWN", "by": "operator", "mutation": "reviewContentReport"})
    ]  # one event per action: the service's, naming the operator's mutation
    for slug, role in ((school.slug, "teacher1"), (other.slug, "pupil1")):
        token = await login(client, slug, role)
        listing = await gql(client, slug, "{ content(first: 100) { edges { node { id } } } }", token=token)
        assert content_gid not in {e["node"]["id"] for e in listing["data"]["content"]["edges"]}
        download = await mutate(client, slug, token, "downloadContent", DOWNLOAD, contentId=content_gid)
        assert problems(download) == [("contentId", "CONTENT_NOT_FOUND")]
    seen = await gql(
        client,
        school.slug,
        "{ contentReports { edges { node { reviewedByOperator status } } } }",
        token=admin,
    )
    assert seen["data"]["contentReports"]["edges"] == [
        {"node": {"reviewedByOperator": True, "status": "TAKEN_DOWN"}}
    ]


async def _scratch_platform_item(owner_engine: AsyncEngine) -> uuid.UUID:
    """A pre-loaded item of its own, added as the owner (the platform's content changes by migration or by
    the operator): a takedown hides it at every school, so tests must not share one."""
    item_id = uuid.uuid4()
    async with AsyncSession(owner_engine) as session, session.begin():
        await session.execute(
            insert(PlatformContent).values(
                id=item_id, code=f"TEST-{item_id}", title=f"Scratch {item_id}", is_workbook=False,
                storage_key=f"platform/{item_id.hex}", file_name="scratch.pdf", media_type="application/pdf",
                created_at=clock.now(),
            )
        )  # fmt: skip
    return item_id

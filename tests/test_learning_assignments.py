"""Assignments, pupils' work and feedback through the HTTP edge (LL-S2: homework and revision resources,
feedback on progress; LL 6.4.4: uploads of work under the acceptable-use rules).

Staff set work to a group they teach; pupils see theirs and submit text and files (GraphQL multipart);
staff give feedback; parents see their children's assignments, status and feedback. Every refused input
is a UserError and writes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import Settings
from models.content import StoredFile
from models.learning import Assignment, Submission
from storage.files import MAX_FILE_BYTES
from tenants.context import bind
from tests.factories.citus import ON_CITUS
from tests.factories.learning import (
    EXE,
    PDF,
    PNG,
    TEXT,
    docx,
    gid,
    mutate,
    problems,
    today,
    tokens,
    upload,
    workbook_gid,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

ASSIGNMENT = "assignment { id title kind dueOn instructions group { name } content { title source } setBy { surname } }"
SUBMISSION = "submission { id text submittedAt file { fileName mediaType byteSize } feedback }"
WORK = """
query($id: ID!) { assignment(id: $id) { title work { pupil { forename } status
  submission { text feedback feedbackBy { surname } file { fileName dataBase64 } } } } }
"""


async def _count(engine: AsyncEngine, school: SchoolData, model: Any) -> int:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _set(client: httpx.AsyncClient, school: SchoolData, token: str, **input: Any) -> dict[str, Any]:
    defaults = {
        "groupId": gid("Group", school.groups["A"]),
        "title": "Times tables practice",
        "kind": "HOMEWORK",
        "dueOn": str(today() + timedelta(days=7)),
        "instructions": "Practise the 7 times table for ten minutes a day.",
    }
    return await mutate(client, school.slug, token, "setAssignment", ASSIGNMENT, **{**defaults, **input})


async def test_staff_set_work_pupils_submit_staff_give_feedback_parents_see_it(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The whole loop: set (with pre-loaded content), submit text and a file, feedback, status per role."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    set_ = await _set(client, school, teacher, contentId=workbook_gid("Y4-MATHS"), kind="REVISION")
    assert set_["errors"] == []
    assignment = set_["assignment"]
    assert assignment["group"] == {"name": "Class A"}
    assert assignment["content"] == {"title": "Year 4 Maths workbook", "source": "PLATFORM"}
    assert assignment["setBy"] == {"surname": "Teacher"}

    pupil = await login(client, school.slug, "pupil1")
    mine = await gql(
        client, school.slug, "{ assignments { edges { node { id title dueOn } } } }", token=pupil
    )
    assert [e["node"]["id"] for e in mine["data"]["assignments"]["edges"]] == [assignment["id"]]

    body = await upload(
        client, school.slug, pupil, "submitWork", SUBMISSION,
        file_name="my-times-tables.pdf", data=PDF, assignmentId=assignment["id"], text="Done, all of them!",
    )  # fmt: skip
    submitted = body["data"]["submitWork"]
    assert submitted["errors"] == [], submitted
    assert submitted["submission"]["file"] == {
        "fileName": "my-times-tables.pdf", "mediaType": "application/pdf", "byteSize": len(PDF),
    }  # fmt: skip

    before = await gql(client, school.slug, WORK, {"id": assignment["id"]}, token=teacher)
    work = {w["pupil"]["forename"]: w for w in before["data"]["assignment"]["work"]}
    assert set(work) == {"PatA1", "PatA2", "PatA3"}
    assert work["PatA1"]["status"] == "SUBMITTED"
    assert work["PatA2"]["status"] == "NOT_SUBMITTED" and work["PatA2"]["submission"] is None
    assert base64.b64decode(work["PatA1"]["submission"]["file"]["dataBase64"]) == PDF

    feedback = await mutate(
        client, school.slug, teacher, "giveFeedback", "submission { feedback feedbackAt }",
        submissionId=submitted["submission"]["id"], feedback="Well done: now try the 8s.",
    )  # fmt: skip
    assert feedback["errors"] == [] and feedback["submission"]["feedback"] == "Well done: now try the 8s."

    parent = await login(client, school.slug, "parent1")
    seen = await gql(client, school.slug, WORK, {"id": assignment["id"]}, token=parent)
    (only,) = seen["data"]["assignment"]["work"]  # their child only, not the classmates
    assert only["pupil"] == {"forename": "PatA1"}
    assert only["status"] == "FEEDBACK_GIVEN"
    assert only["submission"]["feedback"] == "Well done: now try the 8s."
    assert only["submission"]["feedbackBy"] == {"surname": "Teacher"}
    listed = await gql(
        client, school.slug,
        "query($p: ID!) { assignments(pupilId: $p) { edges { node { title } } } }",
        {"p": gid("Pupil", school.pupils["pupil1"])}, token=parent,
    )  # fmt: skip
    assert listed["data"]["assignments"]["edges"] == [{"node": {"title": "Times tables practice"}}]

    # Once feedback is given, the work is marked: resubmitting is refused and changes nothing.
    again = await mutate(
        client, school.slug, pupil, "submitWork", SUBMISSION, assignmentId=assignment["id"], text="v2"
    )
    assert problems(again) == [("assignmentId", "ALREADY_MARKED")]


async def test_who_sees_an_assignment_and_its_work(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Role views of Assignment, PupilWork and Submission: the other class's teacher, pupils and parents of
    other children see nothing; another school sees nothing; anonymous callers are refused."""
    school = await factory.school()
    other = await factory.school()
    found = await tokens(client, engine, factory, school)
    assignment = (await _set(client, school, found["teacher1"] or ""))["assignment"]
    submitted = await mutate(
        client,
        school.slug,
        found["pupil1"],
        "submitWork",
        SUBMISSION,
        assignmentId=assignment["id"],
        text="Mine",
    )
    assert submitted["errors"] == []
    expected_work = {
        "admin": {"PatA1", "PatA2", "PatA3"},
        "senco": {"PatA1", "PatA2", "PatA3"},
        "teacher1": {"PatA1", "PatA2", "PatA3"},
        "pupil1": {"PatA1"},
        "parent1": {"PatA1"},
    }
    for role, token in found.items():
        body = await gql(client, school.slug, WORK, {"id": assignment["id"]}, token=token)
        listed = await gql(client, school.slug, "{ assignments { edges { node { id } } } }", token=token)
        if token is None:
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            continue
        if role in expected_work:
            names = {w["pupil"]["forename"] for w in body["data"]["assignment"]["work"]}
            assert names == expected_work[role], role
            texts = {w["submission"]["text"] for w in body["data"]["assignment"]["work"] if w["submission"]}
            assert texts == {"Mine"}, role
            assert len(listed["data"]["assignments"]["edges"]) == 1
        else:  # teacher2, pupilB1, parentB1
            assert body["data"]["assignment"] is None, role
            assert listed["data"]["assignments"]["edges"] == [], role
    theirs = await gql(
        client, other.slug, WORK, {"id": assignment["id"]}, token=await login(client, other.slug, "admin")
    )
    assert theirs["data"]["assignment"] is None


async def test_a_due_date_in_the_past_or_another_teachers_group_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """setAssignment: due date in the past, a group the teacher does not teach, no instructions or content,
    unknown content: UserErrors, nothing written."""
    school = await factory.school()
    other = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    past = await _set(client, school, teacher, dueOn=str(today() - timedelta(days=1)))
    assert problems(past) == [("dueOn", "DUE_DATE_IN_PAST")]
    theirs = await _set(client, school, teacher, groupId=gid("Group", school.groups["B"]))
    assert problems(theirs) == [("groupId", "GROUP_NOT_FOUND")]
    foreign = await _set(client, school, teacher, groupId=gid("Group", other.groups["A"]))
    assert problems(foreign) == [("groupId", "GROUP_NOT_FOUND")]
    empty = await _set(client, school, teacher, instructions=None, title=" ")
    assert problems(empty) == [("title", "REQUIRED"), ("instructions", "REQUIRED")]
    unknown = await _set(client, school, teacher, contentId=gid("Content", school.id))
    assert problems(unknown) == [("contentId", "CONTENT_NOT_FOUND")]
    assert await _count(engine, school, Assignment) == 0
    due_today = await _set(client, school, teacher, dueOn=str(today()))
    assert due_today["errors"] == []
    pupil = await login(client, school.slug, "pupil1")
    denied = await gql(
        client, school.slug,
        "mutation($i: SetAssignmentInput!) { setAssignment(input: $i) { errors { code } } }",
        {"i": {"groupId": gid("Group", school.groups["A"]), "title": "x", "kind": "HOMEWORK", "dueOn": str(today())}},
        token=pupil,
    )  # fmt: skip
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("file_name", "data", "code"),
    [
        ("virus.exe", EXE, "FILE_TYPE_NOT_ALLOWED"),
        ("homework.pdf", EXE, "FILE_CONTENT_MISMATCH"),
        ("photo.png", PDF, "FILE_CONTENT_MISMATCH"),
        ("notes.txt", b"\xff\xfe\x00binary", "FILE_CONTENT_MISMATCH"),
        ("big.pdf", b"%PDF-" + b"0" * MAX_FILE_BYTES, "FILE_TOO_LARGE"),
        ("empty.pdf", b"", "FILE_EMPTY"),
        ("noextension", PDF, "FILE_TYPE_NOT_ALLOWED"),
    ],
    ids=["exe", "exe-named-pdf", "pdf-named-png", "binary-named-txt", "oversized", "empty", "no-extension"],
)
async def test_a_refused_upload_is_a_user_error_and_writes_nothing(
    file_name: str,
    data: bytes,
    code: str,
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 6.4.4: uploads only of allowed types (sniffed content agreeing with the extension) within the size
    limit; anything else is refused with a clear error, and no submission, file record or file is written."""
    school = await factory.school()
    assignment = (await _set(client, school, await login(client, school.slug, "teacher1")))["assignment"]
    pupil = await login(client, school.slug, "pupil1")
    body = await upload(
        client, school.slug, pupil, "submitWork", SUBMISSION,
        file_name=file_name, data=data, assignmentId=assignment["id"], text="With a file",
    )  # fmt: skip
    payload = body["data"]["submitWork"]
    assert problems(payload) == [("file", code)]
    assert file_name.split(".")[0] in payload["errors"][0]["message"] or code == "FILE_NAME_REQUIRED"
    assert payload["submission"] is None
    assert await _count(engine, school, Submission) == 0
    assert await _count(engine, school, StoredFile) == 0
    assert not (settings.data_dir / "files" / str(school.id)).exists()


@pytest.mark.parametrize(
    ("file_name", "data", "media_type"),
    [
        ("answers.pdf", PDF, "application/pdf"),
        ("drawing.png", PNG, "image/png"),
        ("spellings.txt", TEXT, "text/plain; charset=utf-8"),
        ("essay.docx", docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
    ids=["pdf", "png", "text", "docx"],
)
async def test_allowed_uploads_are_stored_and_read_back(
    file_name: str, data: bytes, media_type: str, client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.4.4: allowed types are accepted, stored under the data directory and read back unchanged."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    assignment = (await _set(client, school, teacher))["assignment"]
    pupil = await login(client, school.slug, "pupil1")
    body = await upload(
        client, school.slug, pupil, "submitWork", SUBMISSION, file_name=file_name, data=data,
        assignmentId=assignment["id"],
    )  # fmt: skip
    payload = body["data"]["submitWork"]
    assert payload["errors"] == []
    assert payload["submission"]["file"]["mediaType"] == media_type
    work = await gql(client, school.slug, WORK, {"id": assignment["id"]}, token=teacher)
    (mine,) = [w for w in work["data"]["assignment"]["work"] if w["submission"]]
    assert base64.b64decode(mine["submission"]["file"]["dataBase64"]) == data


async def test_pupils_submit_only_to_their_own_assignments(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A pupil cannot submit to another group's (or school's) assignment; staff and parents cannot submit;
    staff cannot give feedback on a pupil they do not teach."""
    school = await factory.school()
    other = await factory.school()
    b_assignment = (await _set(client, school, await login(client, school.slug, "teacher2"),
                               groupId=gid("Group", school.groups["B"])))["assignment"]  # fmt: skip
    their = (await _set(client, other, await login(client, other.slug, "teacher1")))["assignment"]
    pupil = await login(client, school.slug, "pupil1")
    for assignment in (b_assignment, their):
        payload = await mutate(
            client, school.slug, pupil, "submitWork", SUBMISSION, assignmentId=assignment["id"], text="Mine"
        )
        assert problems(payload) == [("assignmentId", "ASSIGNMENT_NOT_FOUND")]
    for role in ("teacher1", "parent1"):
        denied = await gql(
            client, school.slug,
            "mutation($i: SubmitWorkInput!) { submitWork(input: $i) { errors { code } } }",
            {"i": {"assignmentId": b_assignment["id"], "text": "x"}}, token=await login(client, school.slug, role),
        )  # fmt: skip
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    b_pupil = await login(client, school.slug, "pupilB1")
    submitted = await mutate(
        client, school.slug, b_pupil, "submitWork", SUBMISSION, assignmentId=b_assignment["id"], text="Hi"
    )
    assert submitted["errors"] == []
    not_theirs = await mutate(
        client, school.slug, await login(client, school.slug, "teacher1"), "giveFeedback", "submission { id }",
        submissionId=submitted["submission"]["id"], feedback="Nice",
    )  # fmt: skip
    assert problems(not_theirs) == [("submissionId", "NOT_FOUND")]
    assert await _count(engine, school, Submission) == 1


async def test_concurrent_first_submissions_all_succeed_with_one_row(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    """Ten first submitWork calls at once by one pupil (a double tap, a client retrying): every one succeeds,
    as a first submission or a resubmission (none is a CONFLICT), and the pupil has one submission, holding
    one of the ten texts.

    To make the ten overlap for certain, a concurrent transaction holds the audit log in SHARE mode while they
    run: every request then reaches its write before the first of them can commit (a request inserts its
    audit trail last, and that insert waits), which is the race of ten requests served in parallel."""
    school = await factory.school()
    assignment = (await _set(client, school, await login(client, school.slug, "teacher1")))["assignment"]
    pupil = await login(client, school.slug, "pupil1")
    texts = [f"My answer, version {n}" for n in range(10)]

    async with owner_engine.connect() as holder, owner_engine.connect() as watcher:
        held = await holder.begin()
        await holder.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
        requests = [
            asyncio.create_task(
                mutate(
                    client,
                    school.slug,
                    pupil,
                    "submitWork",
                    SUBMISSION,
                    assignmentId=assignment["id"],
                    text=t,
                )
            )
            for t in texts
        ]
        waiting = 0
        for _ in range(
            80
        ):  # until all ten wait on a lock (at most 4 s: a request's statement timeout is 5 s)
            waiting = (await watcher.execute(WAITING_ON_LOCKS)).scalar_one()
            await watcher.rollback()  # pg_stat_activity is read once per transaction
            if waiting >= len(texts):
                break
            await asyncio.sleep(0.05)
        await held.rollback()
        payloads = await asyncio.gather(*requests)

    assert waiting == len(texts)
    assert [p["errors"] for p in payloads] == [[]] * 10
    assert len({p["submission"]["id"] for p in payloads}) == 1
    assert [p["submission"]["text"] for p in payloads] == texts  # each saw its own write
    assert await _count(engine, school, Submission) == 1
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        kept = (await session.execute(select(Submission.text))).scalar_one()
    assert kept in texts


WAITING_ON_LOCKS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
    "AND pid <> pg_backend_pid()"
    if not ON_CITUS
    # On Citus a request waiting on another's first submission waits on the worker holding the school's
    # shard: citus_stat_activity shows every node's backends (the coordinator's too).
    else "SELECT count(*) FROM citus_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def test_a_rolled_back_upload_of_work_leaves_no_file(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 6.4.4: a pupil's file is written to the store before the row naming it commits; when the request
    then fails (here its audit trail cannot be written within the statement timeout, because a concurrent
    writer holds the school's audit chain) it rolls back, answers a masked error, and the file is deleted:
    no pupil's work is left on disk that no record names. The same upload, sent again, is kept."""
    school = await factory.school()
    assignment = (await _set(client, school, await login(client, school.slug, "teacher1")))["assignment"]
    pupil = await login(client, school.slug, "pupil1")
    data = PDF + f"% {uuid.uuid4()}\n".encode()  # bytes no other test stores (keys are content-addressed)
    path = settings.data_dir / "files" / str(school.id) / hashlib.sha256(data).hexdigest()
    operations = {
        "query": "mutation($input: SubmitWorkInput!) { submitWork(input: $input) { errors { code } } }",
        "variables": {"input": {"assignmentId": assignment["id"], "file": None}},
    }

    async with owner_engine.connect() as holder, owner_engine.connect() as watcher:
        held = await holder.begin()
        await holder.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
        request = asyncio.create_task(
            client.post(
                f"/schools/{school.slug}/graphql",
                data={
                    "operations": json.dumps(operations),
                    "map": json.dumps({"0": ["variables.input.file"]}),
                },
                files={"0": ("essay.pdf", data, "application/pdf")},
                headers={"authorization": f"Bearer {pupil}"},
            )
        )
        blocked = await _waiting_pids(watcher, until=lambda pids: len(pids) == 1)
        assert len(blocked) == 1 and path.exists()  # the file is on disk while the request waits
        # The request's trail write is cancelled by its statement timeout; then let its FAILED record in.
        await _waiting_pids(watcher, until=lambda pids: not (pids & blocked), seconds=10)
        await held.rollback()
        response = await request

    assert response.status_code == 500 and "Internal error" in response.text
    assert not path.exists()
    assert await _count(engine, school, StoredFile) == 0
    assert await _count(engine, school, Submission) == 0

    again = await upload(
        client, school.slug, pupil, "submitWork", SUBMISSION, file_name="essay.pdf", data=data,
        assignmentId=assignment["id"],
    )  # fmt: skip
    assert again["data"]["submitWork"]["errors"] == []
    assert path.read_bytes() == data
    assert await _count(engine, school, StoredFile) == 1


async def _waiting_pids(watcher: Any, *, until: Any, seconds: float = 4) -> set[int]:
    """The backends waiting on a lock, polled until ``until(pids)`` holds (or ``seconds`` pass)."""
    pids: set[int] = set()
    for _ in range(int(seconds / 0.05)):
        rows = await watcher.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
        pids = {r[0] for r in rows}
        await watcher.rollback()  # pg_stat_activity is read once per transaction
        if until(pids):
            break
        await asyncio.sleep(0.05)
    return pids

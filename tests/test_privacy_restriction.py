"""Restriction of processing (LL-S2 (xiii)) and objection to statistical use (LL-A 5.2), through the school
schema over HTTP; statistics through the service the trust and platform endpoints expose."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning.statistics import platform_usage, school_summaries
from people.processing import counted
from privacy import restriction
from tenants.context import bind
from tests.factories.learning import gid, mutate, problems, starter, today, workbook_gid
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_learning_statistics import _judge

RESTRICT = "restriction { kind personId reason liftedAt }"
ACHIEVE = "achievement { title } errors { field code }"
PUPILS = "{ pupils(first: 50) { edges { node { forename } } } }"


async def _restrict(client: httpx.AsyncClient, school: SchoolData, token: str, key: str, kind: str) -> Any:
    return await mutate(
        client, school.slug, token, "restrictProcessing", RESTRICT,
        personId=gid("Pupil", school.pupils[key]), kind=kind, reason="Accuracy contested by the parent",
    )  # fmt: skip


async def _names(client: httpx.AsyncClient, school: SchoolData, token: str) -> set[str]:
    body = await gql(client, school.slug, PUPILS, token=token)
    return {e["node"]["forename"] for e in body["data"]["pupils"]["edges"]}


async def test_a_restricted_pupil_is_read_only_admins_only_and_out_of_statistics(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL-S2 (xiii), LL-S2 (xii): while a pupil's processing is restricted, a teacher no longer sees them,
    a write to their record is refused with RESTRICTED (an admin's too), statistics leave them out; lifting
    the restriction puts everything back."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    assert "PatA1" in await _names(client, school, teacher)
    await _judge(engine, school, list(school.pupils), secure_rungs=2)

    done = await _restrict(client, school, admin, "pupil1", "RESTRICTION")
    assert done["errors"] == [] and done["restriction"]["kind"] == "RESTRICTION"
    again = await _restrict(client, school, admin, "pupil1", "RESTRICTION")
    assert problems(again) == [("personId", "ALREADY_RESTRICTED")]

    assert await _names(client, school, teacher) == {"PatA2", "PatA3"}
    assert "PatA1" in await _names(client, school, admin)
    refused = await mutate(
        client, school.slug, teacher, "recordAchievement", ACHIEVE,
        pupilId=gid("Pupil", school.pupils["pupil1"]), kind="PARTICIPATION", title="Choir", achievedOn=str(today()),
    )  # fmt: skip
    assert problems(refused) == [("pupilId", "RESTRICTED")]
    update = await mutate(
        client, school.slug, admin, "updatePupil", "pupil { forename } errors { field code }",
        pupilId=gid("Pupil", school.pupils["pupil1"]), forename="Changed",
    )  # fmt: skip
    assert problems(update) == [("pupilId", "RESTRICTED")]
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        (summary,) = await school_summaries(session, [school.id])
    assert (summary.pupils, summary.assessed_pupils) == (5, 5)

    lifted = await mutate(
        client, school.slug, admin, "liftRestriction", RESTRICT,
        personId=gid("Pupil", school.pupils["pupil1"]), kind="RESTRICTION",
    )  # fmt: skip
    assert lifted["errors"] == [] and lifted["restriction"]["liftedAt"] is not None
    assert "PatA1" in await _names(client, school, teacher)
    achieved = await mutate(
        client, school.slug, teacher, "recordAchievement", ACHIEVE,
        pupilId=gid("Pupil", school.pupils["pupil1"]), kind="PARTICIPATION", title="Choir", achievedOn=str(today()),
    )  # fmt: skip
    assert achieved["errors"] == []
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        (summary,) = await school_summaries(session, [school.id])
    assert (summary.pupils, summary.assessed_pupils) == (6, 6)


async def test_an_objecting_pupil_is_left_out_of_every_aggregate(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL-A 5.2: a parent objects for their child under 13 (and only for their own child); the child is left
    out of the statistics but stays visible and writable for the school."""
    school = await factory.school()
    await _judge(engine, school, list(school.pupils), secure_rungs=2)
    parent = await login(client, school.slug, "parent1")
    other_child = await mutate(
        client, school.slug, parent, "objectForChild", RESTRICT,
        pupilId=gid("Pupil", school.pupils["pupil2"]), reason="No statistics",
    )  # fmt: skip
    assert problems(other_child) == [("pupilId", "NOT_YOUR_CHILD")]
    objected = await mutate(
        client, school.slug, parent, "objectForChild", RESTRICT,
        pupilId=gid("Pupil", school.pupils["pupil1"]), reason="No statistics",
    )  # fmt: skip
    assert objected["errors"] == [] and objected["restriction"]["kind"] == "OBJECTION"
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        (summary,) = await school_summaries(session, [school.id])
    assert (summary.pupils, summary.assessed_pupils, summary.judgements) == (5, 5, 40)
    teacher = await login(client, school.slug, "teacher1")
    assert "PatA1" in await _names(client, school, teacher)
    assert restriction.counted is counted  # the one predicate partner feeds ask


async def test_restriction_is_for_admins_and_an_erased_person_cannot_be_restricted(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S2 (xiii): a teacher, a parent, an anonymous caller and another school's admin restrict nobody;
    restricting an erased or unknown person is a UserError."""
    school = await factory.school()
    other = await factory.school()
    query = (
        "mutation($i: RestrictProcessingInput!) { restrictProcessing(input: $i) { restriction { kind } "
        "errors { field code } } }"
    )
    input = {"personId": gid("Pupil", school.pupils["pupil1"]), "kind": "RESTRICTION", "reason": "r"}
    for token in (
        await login(client, school.slug, "teacher1"),
        await login(client, school.slug, "parent1"),
        None,
    ):
        body = await gql(client, school.slug, query, {"i": input}, token=token)
        assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
    foreign = await gql(
        client, other.slug, query, {"i": input}, token=await login(client, other.slug, "admin")
    )
    assert foreign["data"]["restrictProcessing"]["errors"] == [{"field": "personId", "code": "NOT_FOUND"}]

    admin = await login(client, school.slug, "admin")
    erased = await mutate(
        client, school.slug, admin, "erasePerson", "errors { code }",
        personId=gid("Pupil", school.pupils["pupil3"]), reason="Left", confirmName="PatA3 Pupil0003",
    )  # fmt: skip
    assert erased["errors"] == []
    gone = {**input, "personId": gid("Pupil", school.pupils["pupil3"])}
    body = await gql(client, school.slug, query, {"i": gone}, token=admin)
    assert body["data"]["restrictProcessing"]["errors"] == [{"field": "personId", "code": "ERASED"}]


async def test_a_restricted_pupils_work_cannot_be_submitted_or_marked(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S2 (xiii): while pupil1 is restricted, their submission and its feedback are read-only."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    set_ = await mutate(
        client, school.slug, teacher, "setAssignment", "assignment { id } errors { code }",
        groupId=gid("Group", school.groups["A"]), title="Spellings", kind="HOMEWORK", dueOn=str(today()),
        instructions="Learn them.",
    )  # fmt: skip
    pupil = await login(client, school.slug, "pupil1")
    work = "submission { id } errors { field code }"
    submitted = await mutate(
        client, school.slug, pupil, "submitWork", work, assignmentId=set_["assignment"]["id"], text="Done"
    )
    assert submitted["errors"] == []
    admin = await login(client, school.slug, "admin")
    assert (await _restrict(client, school, admin, "pupil1", "RESTRICTION"))["errors"] == []
    again = await mutate(
        client, school.slug, pupil, "submitWork", work, assignmentId=set_["assignment"]["id"], text="Changed"
    )
    assert problems(again) == [(None, "RESTRICTED")]
    feedback = await mutate(
        client, school.slug, teacher, "giveFeedback", work,
        submissionId=submitted["submission"]["id"], feedback="Well done",
    )  # fmt: skip
    assert problems(feedback) == [("submissionId", "RESTRICTED")]


LEARNING = """
query($pupil: ID!, $group: ID!, $ladder: ID!, $assignment: ID!, $judgement: ID!, $achievement: ID!,
      $goal: ID!, $submission: ID!) {
  j: node(id: $judgement) { id }
  a: node(id: $achievement) { id }
  g: node(id: $goal) { id }
  s: node(id: $submission) { id }
  judgementHistory(pupilId: $pupil) { edges { node { id } } }
  pupilProgress(pupilId: $pupil, ladderId: $ladder) { levels }
  classProgress(groupId: $group, ladderId: $ladder) { pupils { pupil { forename } levels } }
  assignments(pupilId: $pupil) { edges { node { id } } }
  assignment(id: $assignment) { work { pupil { forename } submission { id } } }
  learnerRecord(pupilId: $pupil) { achievements { title } goals { statement } }
  schoolProgress(yearGroup: 4) { cohort }
}
"""


def _seen(data: dict[str, Any]) -> dict[str, Any]:
    """What the learning reads show of pupil1 (PatA1)."""
    work = (data["assignment"] or {}).get("work") or []
    klass = (data["classProgress"] or {}).get("pupils") or []
    return {
        "nodes": [key for key in ("j", "a", "g", "s") if data[key] is not None],
        "history": len((data["judgementHistory"] or {}).get("edges") or []),
        "progress": data["pupilProgress"] is not None,
        "class": [p["pupil"]["forename"] for p in klass if p["pupil"]["forename"] == "PatA1"],
        "assignments": len((data["assignments"] or {}).get("edges") or []),
        "work": [w["submission"] for w in work if w["pupil"]["forename"] == "PatA1"],
        "record": data["learnerRecord"],
        "cohort": [row["cohort"] for row in data["schoolProgress"] or []][:1],
    }


async def test_a_restricted_pupils_learning_is_hidden_by_id_and_in_every_list(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S2 (xiii): while pupil1's processing is restricted, their judgement, achievement, goal and submission
    read by node id, their judgement history, progress, place in the class view and in an assignment's work,
    their assignments, learner record and their place in the year's summary are hidden from the teacher who
    teaches them and from staff with school-wide access; a school admin still sees everything; another
    school's admin and an anonymous caller see nothing, before and after. Lifting puts it all back."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    senco = await login(client, school.slug, "senco")
    pupil = gid("Pupil", school.pupils["pupil1"])
    ladder = starter("Y4-MATHS")
    judged = await mutate(
        client, school.slug, teacher, "recordJudgement", "judgement { id } errors { code }",
        pupilId=pupil, rungId=ladder.rung_gid(0), level="SECURE",
    )  # fmt: skip
    achieved = await mutate(
        client, school.slug, teacher, "recordAchievement", "achievement { id } errors { code }",
        pupilId=pupil, kind="PARTICIPATION", title="Choir", achievedOn=str(today()),
    )  # fmt: skip
    goal = await mutate(
        client, school.slug, teacher, "setLearningGoal", "goal { id } errors { code }",
        pupilId=pupil, statement="Times tables to 12",
    )  # fmt: skip
    set_ = await mutate(
        client, school.slug, teacher, "setAssignment", "assignment { id } errors { code }",
        groupId=gid("Group", school.groups["A"]), title="Spellings", kind="HOMEWORK", dueOn=str(today()),
        instructions="Learn them.",
    )  # fmt: skip
    submitted = await mutate(
        client, school.slug, await login(client, school.slug, "pupil1"), "submitWork",
        "submission { id } errors { code }", assignmentId=set_["assignment"]["id"], text="Done",
    )  # fmt: skip
    assert [p["errors"] for p in (judged, achieved, goal, set_, submitted)] == [[]] * 5
    variables = {
        "pupil": pupil,
        "group": gid("Group", school.groups["A"]),
        "ladder": ladder.gid,
        "assignment": set_["assignment"]["id"],
        "judgement": judged["judgement"]["id"],
        "achievement": achieved["achievement"]["id"],
        "goal": goal["goal"]["id"],
        "submission": submitted["submission"]["id"],
    }

    async def seen(slug: str, token: str | None) -> dict[str, Any]:
        body = await gql(client, slug, LEARNING, variables, token=token)
        return _seen(body["data"] or {}) if body.get("data") else {"refused": body["errors"][0]["extensions"]}

    everything = {
        "nodes": ["j", "a", "g", "s"], "history": 1, "progress": True, "class": ["PatA1"], "assignments": 1,
        "work": [{"id": variables["submission"]}],
        "record": {"achievements": [{"title": "Choir"}], "goals": [{"statement": "Times tables to 12"}]},
    }  # fmt: skip
    before = {"teacher": await seen(school.slug, teacher), "senco": await seen(school.slug, senco)}
    for who in ("teacher", "senco"):
        assert {k: v for k, v in before[who].items() if k != "cohort"} == everything, who
    assert before["senco"]["cohort"] == [3]  # group A, year 4

    assert (await _restrict(client, school, admin, "pupil1", "RESTRICTION"))["errors"] == []
    hidden = {
        "nodes": [], "history": 0, "progress": False, "class": [], "assignments": 0, "work": [], "record": None,
    }  # fmt: skip
    for who, token in (("teacher", teacher), ("senco", senco)):
        now_seen = await seen(school.slug, token)
        assert {k: v for k, v in now_seen.items() if k != "cohort"} == hidden, who
    assert (await seen(school.slug, senco))["cohort"] == [2]  # left out of the year's summary too
    as_admin = await seen(school.slug, admin)
    assert {k: v for k, v in as_admin.items() if k != "cohort"} == everything

    # Another school's admin (the ids are foreign there) and an anonymous caller: nothing.
    foreign = await seen(other.slug, await login(client, other.slug, "admin"))
    assert {k: v for k, v in foreign.items() if k != "cohort"} == hidden
    anonymous = await seen(school.slug, None)
    assert anonymous == {"refused": {"code": "UNAUTHENTICATED"}} or anonymous.get("nodes") == []

    lifted = await mutate(
        client, school.slug, admin, "liftRestriction", RESTRICT, personId=pupil, kind="RESTRICTION"
    )
    assert lifted["errors"] == []
    again = await seen(school.slug, teacher)
    assert {k: v for k, v in again.items() if k != "cohort"} == everything


async def test_downloads_of_restricted_or_objecting_people_are_left_out_of_platform_usage(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL-S2 (xiii), LL-A 5.2: a download names an account; the operator's usage statistics join it to the
    person and leave out the downloads of a restricted member of staff and of one who objects, as every other
    aggregate does, so the item's counts fall under the suppression threshold and it leaves the ranking."""
    schools = [await factory.school() for _ in range(6)]
    workbook = workbook_gid("Y3-MATHS")
    for school in schools:
        got = await mutate(
            client, school.slug, await login(client, school.slug, "teacher1"), "downloadContent",
            "file { fileName } errors { field code }", contentId=workbook,
        )  # fmt: skip
        assert got["errors"] == []
    ids = [s.id for s in schools]

    async def usage() -> list[tuple[str, int | None, int | None]]:
        async with AsyncSession(engine) as session:
            await bind(session, ids)
            found = await platform_usage(session, ids)
        return [(item.code, item.downloads, item.schools) for item in found.top_content]

    assert await usage() == [("Y3-MATHS-WORKBOOK", 6, 6)]
    for school, kind in ((schools[0], "RESTRICTION"), (schools[1], "OBJECTION")):
        admin = await login(client, school.slug, "admin")
        done = await mutate(
            client, school.slug, admin, "restrictProcessing", RESTRICT,
            personId=gid("Staff", school.staff["teacher1"]), kind=kind, reason="Asked by the teacher",
        )  # fmt: skip
        assert done["errors"] == []
        if kind == "RESTRICTION":
            assert await usage() == [("Y3-MATHS-WORKBOOK", 5, 5)]
    assert await usage() == []  # 4 downloads in 4 schools: suppressed, so out of the ranking

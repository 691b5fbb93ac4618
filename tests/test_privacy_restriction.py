"""Restriction of processing (LL-S2 (xiii)) and objection to statistical use (LL-A 5.2), through the school
schema over HTTP; statistics through the service the trust and platform endpoints expose."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning.statistics import school_summaries
from people.processing import counted
from privacy import restriction
from tenants.context import bind
from tests.factories.learning import gid, mutate, problems, today
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

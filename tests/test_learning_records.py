"""Records of achievement and learning goals (the LRS Personal Learning Record), with the pupil's ULN when
present, visible by the same role views as the pupil record; and their rows in the school's export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning.achievements import export_rows
from models.learning import Achievement, LearningGoal
from tenants.context import bind
from tests.factories.learning import gid, mutate, problems, starter, today, tokens
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

ACHIEVEMENT = "achievement { id kind title awardingBody achievedOn grade }"
GOAL = "goal { id statement status targetOn closedOn rung { code } }"
RECORD = """
query($p: ID!) { learnerRecord(pupilId: $p) {
  pupil { forename } uln
  achievements { kind title awardingBody achievedOn grade }
  goals { statement status rung { code } }
} }
"""
ULN = "1234567899"  # a valid ULN (weighted check digit)


async def _count(engine: AsyncEngine, school: SchoolData, model: Any) -> int:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _give_uln(client: httpx.AsyncClient, school: SchoolData, pupil: str) -> None:
    """The school admin records the pupil's ULN (updatePupil)."""
    admin = await login(client, school.slug, "admin")
    updated = await mutate(
        client, school.slug, admin, "updatePupil", "pupil { uln } errors { field code }",
        pupilId=gid("Pupil", school.pupils[pupil]), uln=ULN,
    )  # fmt: skip
    assert updated == {"pupil": {"uln": ULN}, "errors": []}


async def _record(client: httpx.AsyncClient, school: SchoolData, token: str) -> None:
    pupil = gid("Pupil", school.pupils["pupil1"])
    achieved = await mutate(
        client, school.slug, token, "recordAchievement", ACHIEVEMENT,
        pupilId=pupil, kind="QUALIFICATION", title="Grade 1 Piano", awardingBody="ABRSM",
        achievedOn=str(today() - timedelta(days=30)), grade="Merit",
    )  # fmt: skip
    assert achieved["errors"] == [], achieved
    participation = await mutate(
        client, school.slug, token, "recordAchievement", ACHIEVEMENT,
        pupilId=pupil, kind="PARTICIPATION", title="School choir", achievedOn=str(today()),
    )  # fmt: skip
    assert participation["errors"] == []
    goal = await mutate(
        client, school.slug, token, "setLearningGoal", GOAL,
        pupilId=pupil, statement="Know the 7 and 8 times tables by heart",
        rungId=starter("Y4-MATHS").rung_gid(6), targetOn=str(today() + timedelta(days=60)),
    )  # fmt: skip
    assert goal["errors"] == [] and goal["goal"]["rung"] == {"code": "Y4-MA-07"}


async def test_staff_record_achievements_and_goals_for_pupils_they_teach(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Award or qualification (awarding body, date, grade/result), participation, goals; closed goals."""
    school = await factory.school()
    await _give_uln(client, school, "pupil1")
    teacher = await login(client, school.slug, "teacher1")
    await _record(client, school, teacher)
    body = await gql(client, school.slug, RECORD, {"p": gid("Pupil", school.pupils["pupil1"])},
                     token=await login(client, school.slug, "admin"))  # fmt: skip
    record = body["data"]["learnerRecord"]
    assert record["uln"] == ULN
    assert [a["title"] for a in record["achievements"]] == ["School choir", "Grade 1 Piano"]  # newest first
    assert record["achievements"][1] == {
        "kind": "QUALIFICATION", "title": "Grade 1 Piano", "awardingBody": "ABRSM",
        "achievedOn": str(today() - timedelta(days=30)), "grade": "Merit",
    }  # fmt: skip
    goal_id = (await gql(client, school.slug, "query($p: ID!) { learnerRecord(pupilId: $p) { goals { statement } } }",
                         {"p": gid("Pupil", school.pupils["pupil1"])}, token=teacher))  # fmt: skip
    assert goal_id["data"]["learnerRecord"]["goals"] == [
        {"statement": "Know the 7 and 8 times tables by heart"}
    ]
    goals = await _goal_ids(engine, school)
    closed = await mutate(
        client,
        school.slug,
        teacher,
        "closeLearningGoal",
        GOAL,
        goalId=gid("LearningGoal", goals[0]),
        status="ACHIEVED",
    )
    assert closed["goal"]["status"] == "ACHIEVED" and closed["goal"]["closedOn"] == str(today())


async def _goal_ids(engine: AsyncEngine, school: SchoolData) -> list[Any]:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return list((await session.execute(select(LearningGoal.id))).scalars())


async def test_bad_records_are_user_errors_and_write_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A pupil the teacher does not teach, a future date, a qualification without awarding body, an
    unknown rung for a goal, a past target: UserErrors, nothing written."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    not_taught = await mutate(
        client, school.slug, teacher, "recordAchievement", ACHIEVEMENT,
        pupilId=gid("Pupil", school.pupils["pupilB1"]), kind="AWARD", title="Star of the week", achievedOn=str(today()),
    )  # fmt: skip
    assert problems(not_taught) == [("pupilId", "PUPIL_NOT_TAUGHT")]
    bad = await mutate(
        client, school.slug, teacher, "recordAchievement", ACHIEVEMENT,
        pupilId=gid("Pupil", school.pupils["pupil1"]), kind="QUALIFICATION", title="",
        achievedOn=str(today() + timedelta(days=1)),
    )  # fmt: skip
    assert problems(bad) == [
        ("title", "REQUIRED"), ("awardingBody", "REQUIRED"), ("achievedOn", "DATE_IN_FUTURE"),
    ]  # fmt: skip
    goal = await mutate(
        client, school.slug, teacher, "setLearningGoal", GOAL,
        pupilId=gid("Pupil", school.pupils["pupil1"]), statement="Read more",
        rungId=gid("Rung", school.id), targetOn=str(today() - timedelta(days=1)),
    )  # fmt: skip
    assert problems(goal) == [("targetOn", "DATE_IN_PAST"), ("rungId", "UNKNOWN_RUNG")]
    assert await _count(engine, school, Achievement) == 0
    assert await _count(engine, school, LearningGoal) == 0


RECORD_SEEN = {
    "admin": True, "senco": True, "teacher1": True, "teacher2": False, "pupil1": True, "pupilB1": False,
    "parent1": True, "parentB1": False,
}  # fmt: skip
ULN_SEEN = {"admin", "senco", "pupil1", "parent1"}  # the ULN: as on the pupil record (not class teachers)


async def test_the_learning_record_is_seen_by_the_pupil_record_roles(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """learnerRecord: exactly the roles that see the pupil record; the ULN as the pupil record shows it;
    staff who do not teach the pupil, other pupils, parents of other children, another school: nothing."""
    school = await factory.school()
    other = await factory.school()
    await _give_uln(client, school, "pupil1")
    found = await tokens(client, engine, factory, school)
    await _record(client, school, found["teacher1"] or "")
    variables = {"p": gid("Pupil", school.pupils["pupil1"])}
    for role, token in found.items():
        body = await gql(client, school.slug, RECORD, variables, token=token)
        record = (body.get("data") or {}).get("learnerRecord")
        if token is None:
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            continue
        if not RECORD_SEEN[role]:
            assert record is None and "errors" not in body, role
            continue
        assert record is not None, role
        assert len(record["achievements"]) == 2 and len(record["goals"]) == 1, role
        denied = {tuple(e["path"]) for e in body.get("errors", [])}
        if role in ULN_SEEN:
            assert record["uln"] == ULN and not denied, role
        else:
            assert record["uln"] is None and denied == {("learnerRecord", "uln")}, role
    theirs = await gql(client, other.slug, RECORD, variables, token=await login(client, other.slug, "admin"))
    assert theirs["data"]["learnerRecord"] is None
    for role in ("pupil1", "parent1"):
        body = await gql(
            client, school.slug,
            "mutation($i: RecordAchievementInput!) { recordAchievement(input: $i) { errors { code } } }",
            {"i": {"pupilId": variables["p"], "kind": "AWARD", "title": "Me", "achievedOn": str(today())}},
            token=found[role],
        )  # fmt: skip
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_achievements_are_in_the_schools_export_with_the_uln(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The school's export gets every achievement with the pupil's UPN and ULN (LL 5.1.4: portability)."""
    school = await factory.school()
    other = await factory.school()
    await _give_uln(client, school, "pupil1")
    await _record(client, school, await login(client, school.slug, "teacher1"))
    await _record(client, other, await login(client, other.slug, "teacher1"))
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        rows = await export_rows(session, school.id)
    assert [(r["title"], r["uln"], r["upn"]) for r in rows] == [
        ("Grade 1 Piano", ULN, school.pupils["pupil1"].upn),
        ("School choir", ULN, school.pupils["pupil1"].upn),
    ]

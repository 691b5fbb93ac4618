"""The demo's learning data (``make run``): the class view, a pupil's work and record are not empty."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning.demo import DemoClass, seed_learning
from tenants.context import bind
from tests.factories import clock
from tests.factories.learning import gid, starter
from tests.factories.schools import SchoolFactory, gql, login


async def test_demo_learning_data_shows_progress_work_and_records(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    school = await factory.school()
    group = school.groups["A"]
    group.year_group = 5
    pupils = [school.pupils[k] for k in ("pupil1", "pupil2", "pupil3")]
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        demo = DemoClass(
            group, school.staff["teacher1"], school.accounts["teacher1"], pupils, [school.accounts["pupil1"]]
        )
        await seed_learning(session, school.id, [demo], clock.now())
    teacher = await login(client, school.slug, "teacher1")
    view = await gql(
        client, school.slug,
        "query($g: ID!, $l: ID!) { classProgress(groupId: $g, ladderId: $l) { pupils { secureShare levels } } }",
        {"g": gid("Group", group), "l": starter("Y5-MATHS").gid}, token=teacher,
    )  # fmt: skip
    rows = view["data"]["classProgress"]["pupils"]
    assert len(rows) == 3 and all(r["secureShare"] > 0 for r in rows)
    parent = await login(client, school.slug, "parent1")
    work = await gql(
        client, school.slug,
        "query($p: ID!) { assignments(pupilId: $p) { edges { node { title work { status submission { feedback } } } } } "
        "learnerRecord(pupilId: $p) { achievements { title } goals { statement } } }",
        {"p": gid("Pupil", pupils[0])}, token=parent,
    )  # fmt: skip
    (edge,) = work["data"]["assignments"]["edges"]
    assert edge["node"]["work"][0]["status"] == "FEEDBACK_GIVEN"
    assert work["data"]["learnerRecord"]["achievements"] == [{"title": "Reader of the month"}]

"""The teacher's class view costs a fixed number of SQL statements, whatever the class size (no N+1).

The count covers the whole HTTP request, as in tests/test_query_counts.py: resolving the school and
binding the transaction (one statement), the teacher's Principal with the groups and pupils they teach
(one statement), then the class view itself: the group, its pupils, and ONE statement for every pupil's latest
judgement on every rung (``DISTINCT ON (pupil, rung)``). The platform's ladders are reference data that
each process reads once (``learning.ladders.PLATFORM_CACHE_SECONDS``); a warm-up request reads them
first, and a school's own ladder costs exactly one more statement.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Pupil
from tenants.context import bind
from tenants.scoping import scoped
from tests.factories.learning import gid, mutate, seed_judgements, starter, today
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_query_counts import REQUEST_OVERHEAD, counting

CLASS_VIEW = """
query($group: ID!, $ladder: ID!) {
  classProgress(groupId: $group, ladderId: $ladder) {
    group { id name yearGroup }
    ladder { id title rungs { id code statement } }
    pupils {
      pupil { id forename surname }
      levels secureShare secureCount currentRung { code }
      latest { rungId level assessedOn }
    }
    distribution { rung { code } notYet workingTowards secure greaterDepth notAssessed }
  }
}
"""
CLASS_VIEW_STATEMENTS = REQUEST_OVERHEAD + 1 + 1  # the group, its pupils and their latest judgements; the
# read of the pupils recorded (one audit insert: LRS 5.1)


async def _judge_everyone(engine: AsyncEngine, school: SchoolData, ladder_code: str = "Y4-MATHS") -> None:
    """Every pupil judged on every rung, with history (an older, lower judgement on every other rung)."""
    ladder = starter(ladder_code)
    rows = []
    for n, pupil in enumerate(school.pupils.values()):
        for i, rung in enumerate(ladder.rung_ids):
            level = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")[(n + i) % 4]
            rows.append((pupil.id, ladder.id, rung, level, today() - timedelta(days=1)))
            if i % 2:
                rows.append((pupil.id, ladder.id, rung, "NOT_YET", today() - timedelta(days=30)))
    await seed_judgements(engine, school, rows)


async def _count(
    client: httpx.AsyncClient, engine: AsyncEngine, slug: str, token: str, variables: dict[str, str]
) -> tuple[int, Any]:
    with counting(engine) as statements:
        body = await gql(client, slug, CLASS_VIEW, variables, token=token)
    assert "errors" not in body, body["errors"]
    return len(statements), body["data"]["classProgress"]


async def test_class_view_costs_the_same_for_30_and_300_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The class view of 30 pupils and of 300 pupils: the same number of statements, a fixed constant."""
    school = await factory.school()
    await factory.add_pupils(school, "A", 27)  # 3 + 27 = 30
    await factory.add_pupils(school, "B", 297)  # 3 + 297 = 300
    everyone = await _all_pupils(factory, school)
    await _judge_everyone(engine, everyone)
    ladder = starter("Y4-MATHS")
    small_token = await login(client, school.slug, "teacher1")
    large_token = await login(client, school.slug, "teacher2")
    small_vars = {"group": gid("Group", school.groups["A"]), "ladder": ladder.gid}
    large_vars = {"group": gid("Group", school.groups["B"]), "ladder": ladder.gid}
    await gql(client, school.slug, CLASS_VIEW, small_vars, token=small_token)  # warm-up: reference data

    small, small_view = await _count(client, engine, school.slug, small_token, small_vars)
    large, large_view = await _count(client, engine, school.slug, large_token, large_vars)
    assert len(small_view["pupils"]) == 30
    assert len(large_view["pupils"]) == 300
    rungs = len(ladder.rung_ids)
    for row in large_view["pupils"]:
        assert len(row["levels"]) == rungs and None not in row["levels"]
        assert len(row["latest"]) == rungs
    assert small == large
    assert large == CLASS_VIEW_STATEMENTS


async def test_class_view_on_a_school_ladder_costs_one_statement_more(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A school's own ladder is tenant data, read per request: one statement more, still fixed."""
    school = await factory.school()
    await factory.add_pupils(school, "A", 27)
    admin = await login(client, school.slug, "admin")
    created = await mutate(
        client, school.slug, admin, "createLadder", "ladder { id rungs { id } }",
        code="Y4-PE", subject="PE", title="Year 4 PE", yearGroup=4,
        rungs=[{"code": f"Y4-PE-{i:02d}", "statement": f"PE objective {i}"} for i in range(1, 13)],
    )  # fmt: skip
    ladder_id = created["ladder"]["id"]
    token = await login(client, school.slug, "teacher1")
    variables = {"group": gid("Group", school.groups["A"]), "ladder": ladder_id}
    await gql(client, school.slug, CLASS_VIEW, variables, token=token)
    count, view = await _count(client, engine, school.slug, token, variables)
    assert len(view["pupils"]) == 30
    assert count == CLASS_VIEW_STATEMENTS + 1


async def _all_pupils(factory: SchoolFactory, school: SchoolData) -> SchoolData:
    """A copy of the school with every pupil (the factory's and those added since) in ``pupils``."""
    async with AsyncSession(factory.engine) as session:
        await bind(session, [school.id])
        rows = (await session.execute(scoped(Pupil, school.id))).scalars().all()
    return replace(school, pupils={f"p{i}": row for i, row in enumerate(rows)})

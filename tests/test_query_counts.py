"""Statement counts of nested queries: fixed, whatever the number of rows (no N+1).

Each test counts the SQL statements the runtime engine executes during exactly one HTTP request (the
sign-in happens before counting). The count includes the request's own overhead: resolving the school,
binding the transaction to it for row-level security and loading the caller's Principal with its row
scopes (one statement on plain PostgreSQL, ``app_enter_school``; two, and the binding's two, on Citus).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from graph import permissions
from graph.core.relay import to_global_id
from tests.factories.citus import BINDING_EXTRA, CALLER_EXTRA
from tests.factories.learning import starter
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

# resolve the school, bind the transaction to it and load the principal with its row scopes (one statement,
# whatever the role: app_enter_school, migrations 0024 and 0029), then one per level of the document. On Citus the
# school and the principal are two statements (CALLER_EXTRA) and the binding two SET LOCAL statements more
# (BINDING_EXTRA, ADR 19).
REQUEST_OVERHEAD = 1 + CALLER_EXTRA + BINDING_EXTRA
REQUEST_OVERHEAD_ADMIN = REQUEST_OVERHEAD

GROUP_QUERY = """
query($id: ID!) {
  group(id: $id) {
    name
    teachers { surname }
    pupils { id forename surname dateOfBirth gender email upn uln active groups { name } }
  }
}
"""
# group(id) + teachers + pupils + the pupils' groups: one statement each, however many pupils; the pupils
# read are recorded (one audit insert).
GROUP_STATEMENTS = REQUEST_OVERHEAD_ADMIN + 4 + 1

# A request that records audit events inserts them before it commits, in one statement and nothing else:
# no lock, no read of a head (audit/recorder.py; the sequencer chains them after the commit).
AUDIT_APPEND = 1

PUPILS_QUERY = "{ pupils(first: 100) { edges { node { groups { name teachers { surname } } } } } }"
# the pupils page + their groups + those groups' teachers; a list of pupils read by staff is recorded.
PUPILS_STATEMENTS = REQUEST_OVERHEAD_ADMIN + 3 + AUDIT_APPEND
RECORD_JUDGEMENT_STATEMENTS = REQUEST_OVERHEAD + 6
"""recordJudgement: the request overhead (REQUEST_OVERHEAD: 1, and 3 more on Citus), the mutation's savepoint and its release (2), the pupil's
check (1), whether their processing is restricted (1, LL-S2 (xiii)), the insert (1) and the audit insert
(1); the rung, its ladder and the payload come from the
platform ladders the process keeps (read once, and again every PLATFORM_CACHE_SECONDS: one statement more
for that request)."""


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements executed on ``engine`` while the block runs."""
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)


async def _count(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    school: SchoolData,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    with counting(engine) as statements:
        body = await gql(client, school.slug, query, variables, token=token)
    assert "errors" not in body, body["errors"]
    return len(statements), body["data"]


async def test_group_with_pupils_costs_the_same_for_30_and_300_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """group(id) with teachers, pupils and each pupil's groups: one statement per level, not per pupil."""
    school = await factory.school()
    await factory.add_pupils(school, "A", 27)  # 3 + 27 = 30
    await factory.add_pupils(school, "B", 297)  # 3 + 297 = 300
    token = await login(client, school.slug, "admin")

    small, small_data = await _count(
        client, engine, school, token, GROUP_QUERY, {"id": to_global_id("Group", school.groups["A"].id)}
    )
    large, large_data = await _count(
        client, engine, school, token, GROUP_QUERY, {"id": to_global_id("Group", school.groups["B"].id)}
    )
    assert len(small_data["group"]["pupils"]) == 30
    assert len(large_data["group"]["pupils"]) == 300
    assert all(p["groups"] == [{"name": "Class B"}] for p in large_data["group"]["pupils"])
    assert large_data["group"]["teachers"] == [{"surname": school.staff["teacher2"].surname}]
    assert small == large
    assert large == GROUP_STATEMENTS


async def test_pupils_with_groups_and_teachers_costs_the_same_for_30_and_100_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """pupils(first: 100) with each pupil's groups and their teachers: constant in the number of pupils."""
    small_school = await factory.school(pupils_per_group=15)  # 30 pupils
    large_school = await factory.school(pupils_per_group=15)
    await factory.add_pupils(large_school, "A", 70)  # 100 pupils
    counts = []
    for school, size in ((small_school, 30), (large_school, 100)):
        token = await login(client, school.slug, "admin")
        count, data = await _count(client, engine, school, token, PUPILS_QUERY)
        edges = data["pupils"]["edges"]
        assert len(edges) == size
        assert all(
            len(e["node"]["groups"]) == 1 and len(e["node"]["groups"][0]["teachers"]) == 1 for e in edges
        )
        counts.append(count)
    assert counts[0] == counts[1]
    assert counts[1] == PUPILS_STATEMENTS


CLASS_LADDER_QUERY = """
query($group: ID!, $ladder: ID!) {
  classProgress(groupId: $group, ladderId: $ladder) { group { name } ladder { title rungs { code } } }
}
"""


async def test_class_view_checks_each_guarded_field_once(
    client: httpx.AsyncClient, factory: SchoolFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The class view's ladder with its rungs stays on the executor's direct path (graph/execution.py;
    the compiled class view completes the ladder through it): ``Ladder.rungs`` is planned as a fetch, so
    each policy is asked exactly once about each kind of object (the root field's; ``ClassProgress.group``
    and ``ClassProgress.ladder``, one policy about the class, asked once for both; ``Group.name``'s about
    the group), not again for a fall-back to graphql-core."""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    ladder = starter("Y4-MATHS")
    variables = {"group": to_global_id("Group", school.groups["A"].id), "ladder": ladder.gid}
    await gql(client, school.slug, CLASS_LADDER_QUERY, variables, token=token)  # warm-up: reference data
    asked: list[str] = []
    for name in ("refusal", "admits_all"):  # a field's policy, asked about one object or all of a kind
        ask = getattr(permissions, name)

        def counted(policy: Any, *args: Any, ask: Any = ask, **kwargs: Any) -> Any:
            asked.append(policy.name)
            return ask(policy, *args, **kwargs)

        monkeypatch.setattr(permissions, name, counted)
    body = await gql(client, school.slug, CLASS_LADDER_QUERY, variables, token=token)
    assert "errors" not in body, body["errors"]
    assert [r["code"] for r in body["data"]["classProgress"]["ladder"]["rungs"]] == ladder.rung_codes
    assert asked == ["staff", "group_progress", "group_or_roster_read"]


LADDERS = "{ ladders(first: 100) { edges { node { code } } } }"
LADDERS_WITH_RUNGS = (
    "fragment R on Ladder { steps: rungs { code } } { ladders(first: 100) { nodes { code ...R } } }"
)


async def test_ladders_read_rungs_only_when_asked_for(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The ladders list: the page in one statement; a school's own ladders' rungs in one more, and only when
    the document asks for them (here through a fragment and an alias). Platform ladders are reference data
    the process keeps (a warm-up request reads them)."""
    school = await factory.school()
    token = await login(client, school.slug, "admin")
    created = await gql(
        client,
        school.slug,
        "mutation($input: CreateLadderInput!) { createLadder(input: $input) { errors { code } } }",
        {
            "input": {
                "code": "Y4-OWN",
                "subject": "Maths",
                "title": "Own",
                "rungs": [{"code": "A", "statement": "a"}],
            }
        },
        token=token,
    )
    assert created["data"]["createLadder"]["errors"] == []
    await gql(client, school.slug, LADDERS_WITH_RUNGS, token=token)  # warm-up: reference data
    plain, _ = await _count(client, engine, school, token, LADDERS)
    with_rungs, data = await _count(client, engine, school, token, LADDERS_WITH_RUNGS)
    own = [n for n in data["ladders"]["nodes"] if n["code"] == "Y4-OWN"]
    assert own == [{"code": "Y4-OWN", "steps": [{"code": "A"}]}]
    assert plain == REQUEST_OVERHEAD + 1
    assert with_rungs == REQUEST_OVERHEAD + 2


async def test_recording_a_judgement_runs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """recordJudgement costs a fixed number of statements: one more only when the process (re)reads the
    platform's ladders, which it then keeps."""
    from learning.ladders import forget_platform_ladders
    from tests.factories.learning import document, gid, starter

    forget_platform_ladders()
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    ladder = starter("Y4-MATHS")
    query = document("recordJudgement", "judgement { level rung { code } }")
    counted = []
    for level in ("WORKING_TOWARDS", "SECURE"):
        variables = {
            "input": {
                "pupilId": gid("Pupil", school.pupils["pupil1"]),
                "rungId": ladder.rung_gid(0),
                "level": level,
            }
        }
        count, data = await _count(client, engine, school, token, query, variables)
        assert data["recordJudgement"]["errors"] == []
        assert data["recordJudgement"]["judgement"] == {
            "level": level,
            "rung": {"code": ladder.rung_codes[0]},
        }
        counted.append(count)
    assert counted == [RECORD_JUDGEMENT_STATEMENTS + 1, RECORD_JUDGEMENT_STATEMENTS]

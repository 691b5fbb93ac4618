"""The compiled class view (graph/school/learning/compiled.py) side by side with the general executor.

The same selection is sent twice: as it is, which the compiled form answers with one statement building
the JSON in PostgreSQL, and with ``@include(if: true)`` on its last field, which the compiled form never
takes (a directive), so the general executor answers it. For every caller (each role, anonymous, a token
of another school) and every argument (a class they teach or not, another school's, ids that are not
ids) both bodies must be equal, errors included, and so must the reads recorded in the audit log.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.execution import Executor
from learning.ladders import forget_platform_ladders
from tests.factories.audit import entries
from tests.factories.learning import gid, mutate, starter, today, tokens
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_query_counts import REQUEST_OVERHEAD, counting

SELECTION = """
  classProgress(groupId: $group, ladderId: $ladder) {
    group { id name }
    steps: ladder { id title code rungs { id code position } }
    pupils { pupil { id forename preferredForename surname } levels share: secureShare secureCount%s }
  }
"""
COMPILED = "query($group: ID!, $ladder: ID!) {" + SELECTION % "" + "}"
GENERAL = "query($group: ID!, $ladder: ID!) {" + SELECTION % " @include(if: true)" + "}"
LEVELS = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")


async def _assess(client: httpx.AsyncClient, school: SchoolData, token: str, ladder_code: str) -> None:
    """Judgements through the product's own mutation: every pupil of group A on every rung, a different
    mix per pupil (the first all GREATER_DEPTH, the second all NOT_YET, the rest mixed), an older
    judgement under some newer ones."""
    ladder = starter(ladder_code)
    pupils = await _class_a(client, school, token)
    for i, rung in enumerate(ladder.rung_ids):
        for days, shift in ((30, 1), (1, 0)):
            if days == 30 and i % 3:
                continue
            entries_ = [{"pupilId": p, "level": _level(n, i + shift)} for n, p in enumerate(pupils)]
            payload = await mutate(
                client, school.slug, token, "assessGroup", "errors { code message }",
                groupId=gid("Group", school.groups["A"]), rungId=gid("Rung", rung), entries=entries_,
                assessedOn=(today() - timedelta(days=days)).isoformat(),
            )  # fmt: skip
            assert payload["errors"] == [], payload


def _level(pupil: int, rung: int) -> str:
    return LEVELS[3 if pupil == 0 else 0 if pupil == 1 else (pupil * 3 + rung) % 4]


async def _class_a(client: httpx.AsyncClient, school: SchoolData, token: str) -> list[str]:
    """The ids of group A's pupils, as its teacher reads them."""
    query = "query($g: ID!) { group(id: $g) { pupils { id } } }"
    body = await gql(client, school.slug, query, {"g": gid("Group", school.groups["A"])}, token=token)
    return sorted(p["id"] for p in body["data"]["group"]["pupils"])


async def _both(
    client: httpx.AsyncClient, engine: AsyncEngine, slug: str, variables: dict[str, str], token: str | None
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    with counting(engine) as statements:
        compiled = await gql(client, slug, COMPILED, variables, token=token)
    general = await gql(client, slug, GENERAL, variables, token=token)
    return compiled, general, statements


async def test_the_compiled_class_view_answers_as_the_general_executor(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Every role, anonymous and another school's token; the class taught or not; ids of another school
    or not ids at all: the compiled form's body equals the general executor's, refusals included."""
    school = await factory.school()
    other = await factory.school()
    await factory.add_pupils(school, "A", 9)
    await _assess(client, school, await login(client, school.slug, "teacher1"), "Y4-MATHS")
    callers = await tokens(client, engine, factory, school)
    callers["another school's admin"] = await login(client, other.slug, "admin")
    ladder = starter("Y4-MATHS").gid
    arguments = {
        "class A": {"group": gid("Group", school.groups["A"]), "ladder": ladder},
        "class B": {"group": gid("Group", school.groups["B"]), "ladder": ladder},
        "another ladder": {"group": gid("Group", school.groups["A"]), "ladder": starter("Y3-MATHS").gid},
        "another school's class": {"group": gid("Group", other.groups["A"]), "ladder": ladder},
        "not ids": {"group": "nope", "ladder": gid("Group", school.groups["A"])},
    }
    answered_compiled = 0
    for caller, token in callers.items():
        for name, variables in arguments.items():
            compiled, general, statements = await _both(client, engine, school.slug, variables, token)
            assert compiled == general, (caller, name, compiled, general)
            compiled_ran = any("json_build_object" in s for s in statements)
            general_ran = any("json_object_agg" in s and "json_build_object" not in s for s in statements)
            answered_compiled += compiled_ran and not general_ran
    view = (await gql(client, school.slug, COMPILED, arguments["class A"], token=callers["teacher1"]))["data"]
    pupils = view["classProgress"]["pupils"]
    assert len(pupils) == len(await _class_a(client, school, callers["teacher1"] or ""))
    shares = {p["share"] for p in pupils}
    assert {0.0, 1.0} < shares and all(type(p["share"]) is float for p in pupils), shares  # 0.0, not 0
    assert all(len(p["levels"]) == len(starter("Y4-MATHS").rung_ids) for p in pupils)
    # The compiled form answered what each may see (A on both ladders: the teacher, the SENCO, the admin;
    # B: its teacher, the SENCO, the admin), nothing else: another school's class went to the general path.
    assert answered_compiled == 3 * 2 + 3 * 1


async def test_the_compiled_class_view_costs_one_statement_and_records_the_read(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: the compiled form records the pupils read as the general path does (one read event naming
    each pupil of the class), in the same number of statements: the request's overhead, the class view's
    one statement, the audit insert."""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    variables = {"group": gid("Group", school.groups["A"]), "ladder": starter("Y4-MATHS").gid}
    await gql(client, school.slug, COMPILED, variables, token=token)  # warm-up: the platform's ladders
    reads = len(await entries(engine, school.id, "read.pupils"))
    compiled, general, statements = await _both(client, engine, school.slug, variables, token)
    assert compiled == general and "errors" not in compiled
    assert len(statements) == REQUEST_OVERHEAD + 1 + 1, statements
    assert sum("json_build_object" in s for s in statements) == 1
    recorded = await entries(engine, school.id, "read.pupils")
    assert len(recorded) == reads + 2
    compiled_read, general_read = recorded[-2:]
    assert compiled_read.detail == general_read.detail
    in_class = await _class_a(client, school, token)
    assert sorted(gid("Pupil", uuid.UUID(p)) for p in compiled_read.detail["pupil_ids"]) == in_class


async def test_the_compiled_class_view_hides_a_restricted_pupil_as_the_general_path_does(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL-S2 (xiii): while pupil1's processing is restricted, the compiled class view leaves them out for
    the teacher and the SENCO (as the general executor does) and records no read of them; the school admin
    still sees them on both paths."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    senco = await login(client, school.slug, "senco")
    await _assess(client, school, teacher, "Y4-MATHS")
    restricted = gid("Pupil", school.pupils["pupil1"])
    variables = {"group": gid("Group", school.groups["A"]), "ladder": starter("Y4-MATHS").gid}
    done = await mutate(
        client, school.slug, admin, "restrictProcessing", "restriction { kind }",
        personId=restricted, kind="RESTRICTION", reason="Accuracy contested by the parent",
    )  # fmt: skip
    assert done["restriction"] == {"kind": "RESTRICTION"}
    for who, token in (("teacher", teacher), ("senco", senco), ("admin", admin)):
        reads = len(await entries(engine, school.id, "read.pupils"))
        compiled, general, statements = await _both(client, engine, school.slug, variables, token)
        assert compiled == general, (who, compiled, general)
        assert any("json_build_object" in s for s in statements), who  # the compiled form answered
        shown = [p["pupil"]["id"] for p in compiled["data"]["classProgress"]["pupils"]]
        recorded = (await entries(engine, school.id, "read.pupils"))[reads:]
        named = {gid("Pupil", uuid.UUID(p)) for entry in recorded for p in entry.detail["pupil_ids"]}
        if who == "admin":
            assert restricted in shown and restricted in named
        else:
            assert shown and restricted not in shown and restricted not in named, who


async def test_a_platform_ladder_is_completed_once_per_selection_whoever_asks(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, monkeypatch: Any
) -> None:
    """The ladder's JSON of a selection that asks nothing guarded is completed once and kept for every
    caller, as the general executor completes it, until the process reads the platform's ladders again;
    a selection with a fragment (whose JSON is not shared) is completed at every request."""
    school = await factory.school()
    callers = await tokens(client, engine, factory, school)
    variables = {"group": gid("Group", school.groups["A"]), "ladder": starter("Y4-MATHS").gid}
    completed: list[Any] = []
    complete = Executor.complete_directly

    def counted(self: Executor, type_: Any, details: Any, value: Any) -> Any:
        completed.append(value)
        return complete(self, type_, details, value)

    monkeypatch.setattr(Executor, "complete_directly", counted)
    forget_platform_ladders()
    taught = [callers[name] for name in ("teacher1", "admin")]
    for token in taught * 2:
        compiled, general, _ = await _both(client, engine, school.slug, variables, token)
        assert compiled == general and "errors" not in compiled, compiled
    assert len(completed) == 1
    forget_platform_ladders()  # read again: new objects, completed afresh
    compiled, general, _ = await _both(client, engine, school.slug, variables, taught[0])
    assert compiled == general and len(completed) == 2
    fragment = COMPILED.replace("rungs { id code position }", "rungs { ...R }") + (
        " fragment R on Rung { id code position }"
    )
    for _ in range(2):
        body = await gql(client, school.slug, fragment, variables, token=taught[0])
        assert body["data"] == compiled["data"]
    assert len(completed) == 4

"""Judgements and progress through the HTTP edge: who may assess, history and the latest judgement,
assessing a whole group, bad input that writes nothing, and progress per pupil, group and school.

The factory school: teacher1 teaches group A (pupil1..pupil3, year 4), teacher2 group B (pupilB1..B3,
year 5); senco has school-wide pupil access; parent1 is pupil1's parent, parentB1 pupilB1's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models.curriculum import Judgement
from tenants.context import bind
from tests.factories.learning import (
    gid,
    mutate,
    problems,
    seed_judgements,
    starter,
    today,
    tokens,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

JUDGEMENT = "judgement { id level assessedOn note pupil { id } rung { code } assessedBy { surname } }"
PROGRESS = """
query($pupil: ID!, $ladder: ID!) {
  pupilProgress(pupilId: $pupil, ladderId: $ladder) {
    pupil { id } secureCount secureShare levels currentRung { code } latest { rungId level assessedOn }
  }
}
"""


async def count_judgements(engine: AsyncEngine, school: SchoolData) -> int:
    async with AsyncSession(engine) as session:
        await bind(session, [school.id])
        return int((await session.execute(select(func.count()).select_from(Judgement))).scalar_one())


async def test_a_teacher_records_a_judgement_and_history_is_kept(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """Staff who teach the pupil record judgements with date and note; a later one counts, the earlier stays."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    token = await login(client, school.slug, "teacher1")
    pupil = gid("Pupil", school.pupils["pupil1"])
    first = await mutate(
        client, school.slug, token, "recordJudgement", JUDGEMENT,
        pupilId=pupil, rungId=ladder.rung_gid(0), level="WORKING_TOWARDS",
        assessedOn=str(today() - timedelta(days=7)), note="Counts in 6s, not yet 7s",
    )  # fmt: skip
    assert first["errors"] == []
    assert first["judgement"]["level"] == "WORKING_TOWARDS"
    assert first["judgement"]["note"] == "Counts in 6s, not yet 7s"
    assert first["judgement"]["rung"] == {"code": ladder.rung_codes[0]}
    assert first["judgement"]["assessedBy"] == {"surname": "Teacher"}
    second = await mutate(
        client, school.slug, token, "recordJudgement", JUDGEMENT,
        pupilId=pupil, rungId=ladder.rung_gid(0), level="SECURE",
    )  # fmt: skip
    assert second["errors"] == [] and second["judgement"]["assessedOn"] == str(today())

    body = await gql(client, school.slug, PROGRESS, {"pupil": pupil, "ladder": ladder.gid}, token=token)
    progress = body["data"]["pupilProgress"]
    assert progress["levels"][0] == "SECURE"  # the latest counts
    assert progress["levels"][1:] == [None] * (len(ladder.rung_ids) - 1)
    assert progress["secureCount"] == 1
    assert progress["secureShare"] == round(1 / len(ladder.rung_ids), 4)
    assert progress["currentRung"] == {"code": ladder.rung_codes[1]}
    assert progress["latest"] == [
        {"rungId": ladder.rung_gid(0), "level": "SECURE", "assessedOn": str(today())}
    ]

    history = await gql(
        client,
        school.slug,
        "query($p: ID!) { judgementHistory(pupilId: $p) { edges { node { level assessedOn } } } }",
        {"p": pupil},
        token=token,
    )
    levels = [e["node"]["level"] for e in history["data"]["judgementHistory"]["edges"]]
    assert levels == ["SECURE", "WORKING_TOWARDS"]  # newest first, nothing overwritten


async def test_same_day_judgements_the_last_recorded_counts(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """Two judgements on the same date: the one recorded later counts (DISTINCT ON by date, then time)."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    p1 = school.pupils["pupil1"].id
    on = today()
    await seed_judgements(
        engine,
        school,
        [
            (p1, ladder.id, ladder.rung_ids[2], "GREATER_DEPTH", on),
            (p1, ladder.id, ladder.rung_ids[2], "NOT_YET", on),
            (p1, ladder.id, ladder.rung_ids[3], "SECURE", on - timedelta(days=1)),
            (p1, ladder.id, ladder.rung_ids[3], "WORKING_TOWARDS", on - timedelta(days=9)),
        ],
    )
    token = await login(client, school.slug, "teacher1")
    body = await gql(
        client, school.slug, PROGRESS, {"pupil": gid("Pupil", p1), "ladder": ladder.gid}, token=token
    )
    levels = body["data"]["pupilProgress"]["levels"]
    assert levels[2] == "NOT_YET"
    assert levels[3] == "SECURE"


async def test_a_teacher_cannot_assess_a_pupil_they_do_not_teach(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A judgement for a pupil the teacher does not teach is a UserError and writes nothing; another
    school's pupil is the same unknown pupil."""
    school = await factory.school()
    other = await factory.school()
    ladder = starter("Y4-MATHS")
    token = await login(client, school.slug, "teacher1")
    for pupil in (school.pupils["pupilB1"], other.pupils["pupil1"]):
        payload = await mutate(
            client, school.slug, token, "recordJudgement", JUDGEMENT,
            pupilId=gid("Pupil", pupil), rungId=ladder.rung_gid(0), level="SECURE",
        )  # fmt: skip
        assert problems(payload) == [("pupilId", "PUPIL_NOT_TAUGHT")]
        assert payload["judgement"] is None
    # The same pupil for teacher2, who teaches group B, is fine.
    teacher2 = await login(client, school.slug, "teacher2")
    ok = await mutate(
        client, school.slug, teacher2, "recordJudgement", JUDGEMENT,
        pupilId=gid("Pupil", school.pupils["pupilB1"]), rungId=ladder.rung_gid(0), level="SECURE",
    )  # fmt: skip
    assert ok["errors"] == []
    assert await count_judgements(engine, school) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"rungId": gid("Rung", starter("Y4-MATHS").id)}, [("rungId", "UNKNOWN_RUNG")]),
        ({"rungId": "not-a-global-id"}, [("rungId", "NOT_FOUND")]),
        ({"assessedOn": "2999-01-01"}, [("assessedOn", "DATE_IN_FUTURE")]),
        ({"note": "x" * 2001}, [("note", "TOO_LONG")]),
    ],
    ids=["unknown-rung", "not-a-rung-id", "future-date", "long-note"],
)
async def test_bad_judgement_input_is_a_user_error_and_writes_nothing(
    change: dict[str, Any],
    expected: list[tuple[str, str]],
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
) -> None:
    """Unknown rung (a ladder id is not a rung), a malformed id, a future date, an over-long note."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    token = await login(client, school.slug, "teacher1")
    input = {
        "pupilId": gid("Pupil", school.pupils["pupil1"]),
        "rungId": ladder.rung_gid(0),
        "level": "SECURE",
        **change,
    }
    payload = await mutate(client, school.slug, token, "recordJudgement", JUDGEMENT, **input)
    assert problems(payload) == expected
    assert await count_judgements(engine, school) == 0


async def test_pupils_and_parents_cannot_record_judgements(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """recordJudgement and assessGroup are for staff: pupils, parents and anonymous callers are refused."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    for role in ("pupil1", "parent1", None):
        token = await login(client, school.slug, role) if role else None
        body = await gql(
            client,
            school.slug,
            "mutation($i: RecordJudgementInput!) { recordJudgement(input: $i) { errors { code } } }",
            {
                "i": {
                    "pupilId": gid("Pupil", school.pupils["pupil1"]),
                    "rungId": ladder.rung_gid(0),
                    "level": "SECURE",
                }
            },
            token=token,
        )
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == ("FORBIDDEN" if role else "UNAUTHENTICATED")
    assert await count_judgements(engine, school) == 0


ASSESS = "judgements { level pupil { id } rung { code } }"


async def test_one_mutation_assesses_a_whole_group_against_a_rung(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """assessGroup: every pupil of the group on one rung, in one call; the class view shows it at once."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    token = await login(client, school.slug, "teacher1")
    levels = {"pupil1": "SECURE", "pupil2": "WORKING_TOWARDS", "pupil3": "GREATER_DEPTH"}
    payload = await mutate(
        client, school.slug, token, "assessGroup", ASSESS,
        groupId=gid("Group", school.groups["A"]), rungId=ladder.rung_gid(4),
        entries=[{"pupilId": gid("Pupil", school.pupils[k]), "level": v} for k, v in levels.items()],
    )  # fmt: skip
    assert payload["errors"] == []
    assert len(payload["judgements"]) == 3
    assert {j["rung"]["code"] for j in payload["judgements"]} == {ladder.rung_codes[4]}
    view = await gql(
        client,
        school.slug,
        "query($g: ID!, $l: ID!) { classProgress(groupId: $g, ladderId: $l) { pupils { pupil { forename } levels } "
        "distribution { rung { code } notYet workingTowards secure greaterDepth notAssessed } } }",
        {"g": gid("Group", school.groups["A"]), "l": ladder.gid},
        token=token,
    )
    rows = view["data"]["classProgress"]["pupils"]
    assert [r["levels"][4] for r in rows] == ["SECURE", "WORKING_TOWARDS", "GREATER_DEPTH"]
    fifth = view["data"]["classProgress"]["distribution"][4]
    assert fifth == {
        "rung": {"code": ladder.rung_codes[4]},
        "notYet": 0, "workingTowards": 1, "secure": 1, "greaterDepth": 1, "notAssessed": 0,
    }  # fmt: skip
    assert view["data"]["classProgress"]["distribution"][0]["notAssessed"] == 3


async def test_assess_group_is_all_or_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """One pupil outside the group (or twice, or another school's) refuses the whole call: nothing written."""
    school = await factory.school()
    other = await factory.school()
    ladder = starter("Y4-MATHS")
    token = await login(client, school.slug, "teacher1")
    entries = [
        {"pupilId": gid("Pupil", school.pupils["pupil1"]), "level": "SECURE"},
        {"pupilId": gid("Pupil", school.pupils["pupilB1"]), "level": "SECURE"},
        {"pupilId": gid("Pupil", school.pupils["pupil1"]), "level": "NOT_YET"},
        {"pupilId": gid("Pupil", other.pupils["pupil2"]), "level": "SECURE"},
    ]
    payload = await mutate(
        client, school.slug, token, "assessGroup", ASSESS,
        groupId=gid("Group", school.groups["A"]), rungId=ladder.rung_gid(0), entries=entries,
    )  # fmt: skip
    assert problems(payload) == [
        ("entries.1.pupilId", "PUPIL_NOT_IN_GROUP"),
        ("entries.2.pupilId", "DUPLICATE"),
        ("entries.3.pupilId", "PUPIL_NOT_IN_GROUP"),
    ]
    # A group the teacher does not teach, and an unknown rung.
    payload = await mutate(
        client, school.slug, token, "assessGroup", ASSESS,
        groupId=gid("Group", school.groups["B"]), rungId=gid("Rung", school.id), entries=entries[:1],
    )  # fmt: skip
    assert problems(payload) == [("groupId", "GROUP_NOT_FOUND"), ("rungId", "UNKNOWN_RUNG")]
    assert await count_judgements(engine, school) == 0


async def test_school_ladders_are_the_schools_own(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """A school adds its own ladder (tenant data) and assesses against it; another school never sees it."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    created = await mutate(
        client, school.slug, admin, "createLadder", "ladder { id source code title rungs { id code position } }",
        code="y4-science", subject="Science", title="Year 4 Science", yearGroup=4,
        rungs=[{"code": f"Y4-SC-{i:02d}", "statement": f"Science objective {i}"} for i in range(1, 11)],
    )  # fmt: skip
    assert created["errors"] == []
    ladder = created["ladder"]
    assert ladder["source"] == "SCHOOL" and ladder["code"] == "Y4-SCIENCE"
    assert [r["position"] for r in ladder["rungs"]] == list(range(1, 11))

    teacher = await login(client, school.slug, "teacher1")
    judged = await mutate(
        client, school.slug, teacher, "recordJudgement", JUDGEMENT,
        pupilId=gid("Pupil", school.pupils["pupil1"]), rungId=ladder["rungs"][0]["id"], level="SECURE",
    )  # fmt: skip
    assert judged["errors"] == []
    listed = await gql(
        client,
        school.slug,
        '{ ladders(subject: "science") { edges { node { code source } } } }',
        token=teacher,
    )
    assert listed["data"]["ladders"]["edges"] == [{"node": {"code": "Y4-SCIENCE", "source": "SCHOOL"}}]

    their_admin = await login(client, other.slug, "admin")
    theirs = await gql(
        client, other.slug, '{ ladders(subject: "Science") { edges { node { code } } } }', token=their_admin
    )
    assert theirs["data"]["ladders"]["edges"] == []
    lookup = await gql(client, other.slug, "query($id: ID!) { ladder(id: $id) { code } }", {"id": ladder["id"]},
                       token=their_admin)  # fmt: skip
    assert lookup["data"]["ladder"] is None
    # Their teacher cannot judge against our rung: it is unknown at their school.
    payload = await mutate(
        client, other.slug, await login(client, other.slug, "teacher1"), "recordJudgement", JUDGEMENT,
        pupilId=gid("Pupil", other.pupils["pupil1"]), rungId=ladder["rungs"][0]["id"], level="SECURE",
    )  # fmt: skip
    assert problems(payload) == [("rungId", "UNKNOWN_RUNG")]

    # Duplicate codes are refused, every problem at once; archiving hides the ladder but keeps history.
    again = await mutate(
        client, school.slug, admin, "createLadder", "ladder { id }",
        code="Y4-SCIENCE", subject="", title="Again",
        rungs=[{"code": "Y4-SC-01", "statement": "dup"}, {"code": "x", "statement": ""}],
    )  # fmt: skip
    assert problems(again) == [
        ("subject", "REQUIRED"),
        ("rungs.1.statement", "REQUIRED"),
        ("code", "CODE_TAKEN"),
        ("rungs.0.code", "CODE_TAKEN"),
    ]
    archived = await mutate(
        client, school.slug, admin, "archiveLadder", "ladder { archived }", ladderId=ladder["id"]
    )
    assert archived["ladder"] == {"archived": True}
    listed = await gql(
        client, school.slug, '{ ladders(subject: "Science") { edges { node { code } } } }', token=admin
    )
    assert listed["data"]["ladders"]["edges"] == []
    refused = await mutate(
        client, school.slug, teacher, "recordJudgement", JUDGEMENT,
        pupilId=gid("Pupil", school.pupils["pupil1"]), rungId=ladder["rungs"][1]["id"], level="SECURE",
    )  # fmt: skip
    assert problems(refused) == [("rungId", "LADDER_ARCHIVED")]


async def test_the_school_renames_the_levels(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """The scale is fixed; its labels are the school's (school admins only), distinct, resettable."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    payload = await mutate(
        client, school.slug, admin, "setLevelLabels", "levelScale { level label }",
        labels=[{"level": "SECURE", "label": "Got it"}, {"level": "NOT_YET", "label": "Not started"}],
    )  # fmt: skip
    assert payload["errors"] == []
    scale = {x["level"]: x["label"] for x in payload["levelScale"]}
    assert scale == {
        "NOT_YET": "Not started", "WORKING_TOWARDS": "Working towards", "SECURE": "Got it",
        "GREATER_DEPTH": "Greater depth",
    }  # fmt: skip
    pupil = await login(client, school.slug, "pupil1")
    seen = await gql(client, school.slug, "{ levelScale { level label } }", token=pupil)
    assert {x["level"]: x["label"] for x in seen["data"]["levelScale"]}["SECURE"] == "Got it"
    theirs = await gql(
        client, other.slug, "{ levelScale { level label } }", token=await login(client, other.slug, "admin")
    )
    assert {x["level"]: x["label"] for x in theirs["data"]["levelScale"]}["SECURE"] == "Secure"
    clash = await mutate(
        client, school.slug, admin, "setLevelLabels", "levelScale { label }",
        labels=[{"level": "GREATER_DEPTH", "label": "got IT"}],
    )  # fmt: skip
    assert problems(clash) == [("labels", "LABELS_NOT_DISTINCT")]
    reset = await mutate(
        client, school.slug, admin, "setLevelLabels", "levelScale { level label }",
        labels=[{"level": "SECURE", "label": None}],
    )  # fmt: skip
    assert {x["level"]: x["label"] for x in reset["levelScale"]}["SECURE"] == "Secure"
    teacher = await login(client, school.slug, "teacher1")
    denied = await gql(
        client, school.slug,
        'mutation { setLevelLabels(input: {labels: [{level: SECURE, label: "x"}]}) { errors { code } } }',
        token=teacher,
    )  # fmt: skip
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- progress per role ---------------------------------------------------------------------------------

PUPIL_PROGRESS_SEEN = {
    "admin": {"pupil1", "pupilB1"},
    "senco": {"pupil1", "pupilB1"},
    "teacher1": {"pupil1"},
    "teacher2": {"pupilB1"},
    "pupil1": {"pupil1"},
    "pupilB1": {"pupilB1"},
    "parent1": {"pupil1"},
    "parentB1": {"pupilB1"},
}


async def test_pupil_progress_is_seen_by_exactly_the_pupil_record_roles(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """pupilProgress and judgementHistory: staff who do not teach the pupil, other pupils, parents of other
    children and another school's accounts get nothing; anonymous callers an UNAUTHENTICATED error."""
    school = await factory.school()
    other = await factory.school()
    ladder = starter("Y4-MATHS")
    rows = [
        (school.pupils[k].id, ladder.id, ladder.rung_ids[0], "SECURE", today()) for k in ("pupil1", "pupilB1")
    ]
    await seed_judgements(engine, school, rows)
    found = await tokens(client, engine, factory, school)
    query = (
        "query($a: ID!, $b: ID!, $l: ID!) { "
        "a: pupilProgress(pupilId: $a, ladderId: $l) { levels } "
        "b: pupilProgress(pupilId: $b, ladderId: $l) { levels } "
        "ha: judgementHistory(pupilId: $a) { edges { node { level note } } } "
        "hb: judgementHistory(pupilId: $b) { edges { node { level } } } }"
    )
    variables = {
        "a": gid("Pupil", school.pupils["pupil1"]),
        "b": gid("Pupil", school.pupils["pupilB1"]),
        "l": ladder.gid,
    }
    for role, token in found.items():
        body = await gql(client, school.slug, query, variables, token=token)
        if token is None:
            assert body["data"] is None or all(v is None for v in body["data"].values())
            assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
            continue
        assert "errors" not in body, (role, body)
        seen = {key for key, alias in (("pupil1", "a"), ("pupilB1", "b")) if body["data"][alias] is not None}
        assert seen == PUPIL_PROGRESS_SEEN[role], role
        for key, alias in (("pupil1", "ha"), ("pupilB1", "hb")):
            assert len(body["data"][alias]["edges"]) == (1 if key in seen else 0), (role, alias)
    # Another school's admin, asking at their own school for our pupils: nothing.
    theirs = await gql(client, other.slug, query, variables, token=await login(client, other.slug, "admin"))
    assert theirs["data"]["a"] is None and theirs["data"]["b"] is None
    assert theirs["data"]["ha"]["edges"] == [] and theirs["data"]["hb"]["edges"] == []


CLASS = "query($g: ID!, $l: ID!) { classProgress(groupId: $g, ladderId: $l) { group { name } pupils { pupil { id } } } }"


async def test_class_progress_is_for_the_groups_teachers(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """The class view: its teacher, staff with school-wide access and admins; never another teacher's
    class, pupils, parents or another school (null, or FORBIDDEN for non-staff)."""
    school = await factory.school()
    other = await factory.school()
    found = await tokens(client, engine, factory, school)
    variables = {"g": gid("Group", school.groups["A"]), "l": starter("Y4-MATHS").gid}
    expected = {"admin": 3, "senco": 3, "teacher1": 3, "teacher2": None}
    for role, token in found.items():
        body = await gql(client, school.slug, CLASS, variables, token=token)
        view = body["data"]["classProgress"] if body.get("data") else None
        if role in expected:
            assert "errors" not in body, body
            assert (None if view is None else len(view["pupils"])) == expected[role], role
        else:
            assert view is None
            assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED"), role
    theirs = await gql(client, other.slug, CLASS, variables, token=await login(client, other.slug, "admin"))
    assert theirs["data"]["classProgress"] is None


async def test_school_progress_summarises_a_year_group(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """schoolProgress(yearGroup): per ladder of the year, the cohort, pupils assessed, secure share and the
    distribution of latest judgements; school admins and staff with school-wide access only."""
    school = await factory.school()
    ladder = starter("Y4-MATHS")
    p = [school.pupils[k].id for k in ("pupil1", "pupil2", "pupil3")]
    await seed_judgements(
        engine,
        school,
        [
            (p[0], ladder.id, ladder.rung_ids[0], "WORKING_TOWARDS", today() - timedelta(days=5)),
            (p[0], ladder.id, ladder.rung_ids[0], "SECURE", today()),
            (p[0], ladder.id, ladder.rung_ids[1], "GREATER_DEPTH", today()),
            (p[1], ladder.id, ladder.rung_ids[0], "NOT_YET", today()),
        ],
    )
    query = (
        "{ schoolProgress(yearGroup: 4) { ladder { code } cohort assessedPupils secureShare "
        "levelCounts { notYet workingTowards secure greaterDepth notAssessed } } }"
    )
    admin = await login(client, school.slug, "admin")
    body = await gql(client, school.slug, query, token=admin)
    by_code = {s["ladder"]["code"]: s for s in body["data"]["schoolProgress"]}
    assert set(by_code) == {"Y4-MATHS", "Y4-READING", "Y4-WRITING"}
    maths = by_code["Y4-MATHS"]
    rungs = len(ladder.rung_ids)
    assert maths["cohort"] == 3 and maths["assessedPupils"] == 2
    assert maths["levelCounts"] == {
        "notYet": 1, "workingTowards": 0, "secure": 1, "greaterDepth": 1, "notAssessed": 3 * rungs - 3,
    }  # fmt: skip
    assert maths["secureShare"] == round(2 / (3 * rungs), 4)
    assert by_code["Y4-READING"]["assessedPupils"] == 0
    senco = await gql(client, school.slug, query, token=await login(client, school.slug, "senco"))
    assert senco["data"]["schoolProgress"] == body["data"]["schoolProgress"]
    for role in ("teacher1", "pupil1", "parent1"):
        denied = await gql(client, school.slug, query, token=await login(client, school.slug, role))
        assert denied["data"]["schoolProgress"] is None
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

"""The partner scopes progress.read and achievements.read at the school's GraphQL endpoint (issue 14): each
opens exactly its fields to a partner granted it, a partner without it is refused, another school and an
anonymous caller get nothing; the reads are in the pupil access report with actor PARTNER."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories.audit import entries
from tests.factories.learning import gid, mutate, starter, today
from tests.factories.partners import PartnerFactory, fetch_token, oauth_client
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory

PROGRESS = """
query($p: ID!, $l: ID!) {
  pupilProgress(pupilId: $p, ladderId: $l) { levels secureCount latest { rungId level } }
  judgementHistory(pupilId: $p) { edges { node { level assessedOn rung { code } } } }
  ladder(id: $l) { title }
}
"""
ACHIEVEMENTS = "query($p: ID!) { learnerRecord(pupilId: $p) { achievements { kind title grade } } }"
NOTE = "query($p: ID!) { judgementHistory(pupilId: $p) { edges { node { level note assessedBy { surname } } } } }"
GOALS = "query($p: ID!) { learnerRecord(pupilId: $p) { goals { statement } } }"


@pytest.fixture
def partners(client: httpx.AsyncClient, trusts: TrustFactory) -> PartnerFactory:
    return PartnerFactory(client, trusts)


async def _learning(client: httpx.AsyncClient, school: SchoolData) -> dict[str, str]:
    """pupil1's judgement on the Y4 maths ladder and an achievement, recorded by their teacher."""
    ladder = starter("Y4-MATHS")
    teacher = await login(client, school.slug, "teacher1")
    pupil = gid("Pupil", school.pupils["pupil1"])
    judged = await mutate(
        client, school.slug, teacher, "recordJudgement", "judgement { id }",
        pupilId=pupil, rungId=ladder.rung_gid(0), level="SECURE", note="Private remark",
    )  # fmt: skip
    assert judged["errors"] == [], judged
    achieved = await mutate(
        client, school.slug, teacher, "recordAchievement", "achievement { id }",
        pupilId=pupil, kind="QUALIFICATION", title="Grade 1 Piano", awardingBody="ABRSM",
        achievedOn=str(today() - timedelta(days=3)), grade="Merit",
    )  # fmt: skip
    assert achieved["errors"] == [], achieved
    return {"p": pupil, "l": ladder.gid}


async def _token(
    client: httpx.AsyncClient, partners: PartnerFactory, school: SchoolData, scopes: list[str]
) -> str:
    partner = await partners.register(scopes=scopes)
    assert (await partners.approve(school, partner, scopes))["errors"] == []
    async with oauth_client(client, partner) as oauth:
        token: str = (await fetch_token(oauth, school))["access_token"]
    return token


def _forbidden(body: dict[str, Any]) -> set[tuple[str, ...]]:
    """The paths refused FORBIDDEN."""
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {"FORBIDDEN"}, body
    return {tuple(str(p) for p in e["path"]) for e in body.get("errors", [])}


async def test_progress_read_opens_progress_and_judgements_and_nothing_else(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, engine: AsyncEngine
) -> None:
    school = await factory.school()
    ids = await _learning(client, school)
    token = await _token(client, partners, school, ["progress.read"])

    body = await gql(client, school.slug, PROGRESS, ids, token=token)
    assert "errors" not in body, body
    progress = body["data"]["pupilProgress"]
    assert progress["levels"][0] == "SECURE" and progress["secureCount"] == 1
    assert progress["latest"] == [{"rungId": starter("Y4-MATHS").rung_gid(0), "level": "SECURE"}]
    history = [e["node"] for e in body["data"]["judgementHistory"]["edges"]]
    assert history == [
        {"level": "SECURE", "assessedOn": str(today()), "rung": {"code": starter("Y4-MATHS").rung_codes[0]}}
    ]
    assert body["data"]["ladder"]["title"]

    # Not the teacher's note nor who assessed; not the learning record (achievements.read), nor its goals.
    note = await gql(client, school.slug, NOTE, {"p": ids["p"]}, token=token)
    assert _forbidden(note) == {("judgementHistory", "edges", "0", "node", "note"),
                                ("judgementHistory", "edges", "0", "node", "assessedBy")}  # fmt: skip
    assert "Private remark" not in str(note)
    record = await gql(client, school.slug, ACHIEVEMENTS, {"p": ids["p"]}, token=token)
    assert _forbidden(record) == {("learnerRecord",)} and record["data"]["learnerRecord"] is None
    # The read is in the pupil access report, by the partner.
    reads = [e for e in await entries(engine, school.id) if e.actor_type == "PARTNER" and "read" in e.action]
    assert reads and all(e.outcome == "SUCCESS" for e in reads)
    assert any(str(school.pupils["pupil1"].id) in str(e.target_id) + str(e.detail) for e in reads)


async def test_achievements_read_opens_the_records_achievements_and_nothing_else(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    school = await factory.school()
    ids = await _learning(client, school)
    token = await _token(client, partners, school, ["achievements.read"])

    body = await gql(client, school.slug, ACHIEVEMENTS, {"p": ids["p"]}, token=token)
    assert "errors" not in body, body
    assert body["data"]["learnerRecord"]["achievements"] == [
        {"kind": "QUALIFICATION", "title": "Grade 1 Piano", "grade": "Merit"}
    ]
    goals = await gql(client, school.slug, GOALS, {"p": ids["p"]}, token=token)
    assert _forbidden(goals) == {("learnerRecord", "goals")}
    progress = await gql(client, school.slug, PROGRESS, ids, token=token)
    assert _forbidden(progress) == {("pupilProgress",), ("judgementHistory",), ("ladder",)}
    assert progress["data"] is None or not any(progress["data"].values())


async def test_without_the_scope_at_another_school_or_anonymous_nothing_is_served(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    school, other = await factory.school(), await factory.school()
    ids = await _learning(client, school)
    roster_only = await _token(client, partners, school, ["roster.read"])
    for query in (PROGRESS, ACHIEVEMENTS):
        variables = ids if query is PROGRESS else {"p": ids["p"]}
        refused = await gql(client, school.slug, query, variables, token=roster_only)
        assert _forbidden(refused), refused
        assert "SECURE" not in str(refused) and "Piano" not in str(refused)
        anonymous = await gql(client, school.slug, query, variables)
        assert "SECURE" not in str(anonymous) and "Piano" not in str(anonymous)
        assert anonymous.get("errors"), anonymous
    # A partner granted both at the other school: its token is worth nothing here, and there it finds no
    # such pupil.
    elsewhere = await _token(client, partners, other, ["progress.read", "achievements.read"])
    here = await gql(client, school.slug, PROGRESS, ids, token=elsewhere)
    assert "SECURE" not in str(here) and here.get("errors"), here
    there = await gql(client, other.slug, PROGRESS, ids, token=elsewhere)
    assert "errors" not in there and there["data"]["pupilProgress"] is None
    assert there["data"]["judgementHistory"]["edges"] == []
    record = await gql(client, other.slug, ACHIEVEMENTS, {"p": ids["p"]}, token=elsewhere)
    assert record["data"]["learnerRecord"] is None

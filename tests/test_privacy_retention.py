"""Retention (LL-S2 (v)) and leavers (LL 11.1, LRS 7.1): what the registry's rules make due is reported and
purged by the jobs step; a leaving date set in advance takes effect on the day through the jobs step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from common.clock import FixedClock
from privacy.registry import AUDIT_YEARS
from server.jobs import run_jobs
from tests.factories import clock as suite_clock
from tests.factories.audit import entries, verify
from tests.factories.learning import gid, mutate, problems, today
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

REPORT = "{ retentionReport { table rule rows } }"
OVERDUE = "{ overdueLeavers { personId name dateOfLeaving } }"


async def _due(client: httpx.AsyncClient, school: SchoolData) -> dict[str, int]:
    admin = await login(client, school.slug, "admin")
    body = await gql(client, school.slug, REPORT, token=admin)
    return {row["table"]: row["rows"] for row in body["data"]["retentionReport"]}


async def test_a_leaving_date_in_the_future_takes_effect_on_the_day(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LL 11.1, LRS 7.1: a member of staff given a leaving date three days ahead keeps access until then;
    once the date has passed the overdue-leavers report names them, and the leavers jobs step disables
    their account and ends their sessions, after which the report is empty."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    leaving = today() + timedelta(days=3)
    set_ = await mutate(
        client, school.slug, admin, "updateStaff", "staff { dateOfLeaving active } errors { field code }",
        staffId=gid("Staff", school.staff["teacher2"]), dateOfLeaving=str(leaving),
    )  # fmt: skip
    assert set_["errors"] == [] and set_["staff"] == {"dateOfLeaving": str(leaving), "active": True}
    assert (await gql(client, school.slug, OVERDUE, token=admin))["data"]["overdueLeavers"] == []

    clock.set(suite_clock.INSTANT + timedelta(days=11))
    teacher = await login(client, school.slug, "teacher2")  # still in: the step has not run
    admin = await login(client, school.slug, "admin")
    overdue = await gql(client, school.slug, OVERDUE, token=admin)
    assert overdue["data"]["overdueLeavers"] == [
        {
            "personId": gid("Staff", school.staff["teacher2"]),
            "name": "Tess Tutor",
            "dateOfLeaving": str(leaving),
        }
    ]
    report = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["leavers"]
    )
    assert f"{school.id}:1" in report.step("leavers").applied
    assert (await gql(client, school.slug, OVERDUE, token=admin))["data"]["overdueLeavers"] == []
    assert await gql(client, school.slug, "{ viewer { username } }", token=teacher) == {
        "data": {"viewer": None}
    }
    refused = await gql(
        client, school.slug,
        "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { errors { code } } }",
        {"u": "teacher2", "p": "tulip garden songs at dusk"},
    )  # fmt: skip
    assert refused["data"]["login"]["errors"] != []
    assert [e.action for e in await entries(engine, school.id, "person.left")] == ["person.left"]


async def test_retention_rules_report_and_purge_what_is_due(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LL-S2 (v): sessions ended more than 30 days ago are reported due and then purged by the retention
    step, newer ones kept; after the audit period the audit log's personal columns are blanked and the chain
    still verifies."""
    school = await factory.school()
    await login(client, school.slug, "teacher1")
    assert (await _due(client, school))["auth_sessions"] == 0

    clock.set(suite_clock.INSTANT + timedelta(days=32))
    due = await _due(client, school)
    assert due["auth_sessions"] == 2  # teacher1's and the admin's first, expired 12 hours after they began
    report = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["retention"]
    )
    (mine,) = [a for a in report.step("retention").applied if a.startswith(str(school.id))]
    assert "auth_sessions=2" in mine
    assert (await _due(client, school))["auth_sessions"] == 0
    fresh = await login(client, school.slug, "teacher1")
    assert (await gql(client, school.slug, "{ viewer { username } }", token=fresh))["data"]["viewer"]

    clock.set(suite_clock.INSTANT + timedelta(days=AUDIT_YEARS * 365 + 40))
    assert (await _due(client, school))["audit_log"] > 0
    await run_jobs(engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["retention"])
    old = [
        e
        for e in await entries(engine, school.id)
        if e.occurred_at < clock.now() - timedelta(days=AUDIT_YEARS * 365)
    ]
    assert old and all(e.actor_username is None and e.client_address is None for e in old)
    assert (await verify(engine, school.id)).fault is None


async def test_the_reports_are_for_the_schools_admins_only(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S2 (v), LL 11.1: a teacher and an anonymous caller get neither report."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    for query in (REPORT, OVERDUE):
        for token in (teacher, None):
            body = await gql(client, school.slug, query, token=token)
            assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")


async def test_leavers_are_erased_the_configured_time_after_leaving(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LL-S2 (v): with leaver_retention_days set, the retention step erases a pupil that many days after their
    leaving date (an erasure record says why); before then, or with the default 0, the leaver is kept."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    left = await mutate(
        client, school.slug, admin, "deactivatePupil", "pupil { active } errors { code }",
        pupilId=gid("Pupil", school.pupils["pupil2"]),
    )  # fmt: skip
    assert left == {"pupil": {"active": False}, "errors": []}

    async def run(days: int) -> list[str]:
        report = await run_jobs(
            engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["retention"],
            leaver_retention_days=days,
        )  # fmt: skip
        return [a for a in report.step("retention").applied if a.startswith(str(school.id))]

    clock.set(suite_clock.INSTANT + timedelta(days=20))
    assert not any("leavers_erased" in a for a in await run(30))
    clock.set(suite_clock.INSTANT + timedelta(days=40))
    assert not any("leavers_erased" in a for a in await run(0))
    (applied,) = await run(30)
    assert "leavers_erased=1" in applied
    admin = await login(client, school.slug, "admin")
    names = await gql(
        client, school.slug, "{ pupils(first: 50) { edges { node { forename } } } }", token=admin
    )
    assert "PatA2" not in {e["node"]["forename"] for e in names["data"]["pupils"]["edges"]}
    (erased,) = await entries(engine, school.id, "person.erased")
    assert erased.detail["subjectType"] == "PUPIL" and erased.actor_type == "SYSTEM"


PERIODS = "{ retentionPeriods { rule defaultDays minimumDays schoolDays days } }"
SET_PERIOD = "period { rule defaultDays schoolDays days } errors { field code message }"


async def _periods(client: httpx.AsyncClient, school: SchoolData, token: str) -> dict[str, tuple[Any, ...]]:
    body = await gql(client, school.slug, PERIODS, token=token)
    return {
        p["rule"]: (p["defaultDays"], p["minimumDays"], p["schoolDays"], p["days"])
        for p in body["data"]["retentionPeriods"]
    }


async def test_a_school_admin_tightens_retention_within_the_platforms_limits(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """LL-S2 (v): a school admin shortens the expired-session period to 7 days and keeps leavers 30 days after
    leaving (the platform keeps them); a period under the rule's floor, one longer than the platform's default
    and an unknown rule are UserErrors; every change is audited; the report and the retention step apply the
    school's periods to that school only; null goes back to the default."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    await login(client, school.slug, "teacher1")
    await login(client, other.slug, "teacher1")
    before = await _periods(client, school, admin)
    assert before["auth_sessions"] == (30, 1, None, 30)
    assert before["audit_log"] == (AUDIT_YEARS * 365, 365, None, AUDIT_YEARS * 365)
    assert before["leavers"] == (None, 30, None, None)  # the operator keeps leavers by default

    async def set_(rule: str, days: int | None) -> dict[str, Any]:
        return await mutate(
            client, school.slug, admin, "setRetentionPeriod", SET_PERIOD, rule=rule, days=days
        )

    assert problems(await set_("auth_sessions", 0)) == [("days", "BELOW_MINIMUM")]
    assert problems(await set_("auth_sessions", 45)) == [("days", "NOT_SHORTER")]
    assert problems(await set_("audit_log", 100)) == [("days", "BELOW_MINIMUM")]
    assert problems(await set_("leavers", 10)) == [("days", "BELOW_MINIMUM")]
    assert problems(await set_("leavers", 2_000_000_000)) == [("days", "TOO_LONG")]
    unknown = await set_("pupils", 7)
    assert (
        problems(unknown) == [("rule", "UNKNOWN_RULE")] and "auth_sessions" in unknown["errors"][0]["message"]
    )
    done = await set_("auth_sessions", 7)
    assert done == {
        "period": {"rule": "auth_sessions", "defaultDays": 30, "schoolDays": 7, "days": 7},
        "errors": [],
    }
    assert (await set_("leavers", 30))["errors"] == []
    after = await _periods(client, school, admin)
    assert after["auth_sessions"] == (30, 1, 7, 7) and after["leavers"] == (None, 30, 30, 30)
    other_admin = await login(client, other.slug, "admin")
    assert (await _periods(client, other, other_admin))["auth_sessions"] == (30, 1, None, 30)
    audited = await entries(engine, school.id, "retention.period_set")
    assert [(e.detail["rule"], e.detail["days"], e.detail["previous"]) for e in audited] == [
        ("auth_sessions", 7, None),
        ("leavers", 30, None),
    ]

    # A pupil leaves; ten days on, this school's sessions are due and purged, the other school's are not.
    left = await mutate(
        client, school.slug, admin, "deactivatePupil", "pupil { active } errors { code }",
        pupilId=gid("Pupil", school.pupils["pupil2"]),
    )  # fmt: skip
    assert left["errors"] == []
    clock.set(suite_clock.INSTANT + timedelta(days=10))
    assert (await _due(client, school))["auth_sessions"] >= 2
    assert (await _due(client, other))["auth_sessions"] == 0

    async def run() -> list[str]:
        report = await run_jobs(
            engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["retention"]
        )
        return [a for a in report.step("retention").applied if a.startswith((str(school.id), str(other.id)))]

    applied = await run()
    assert len(applied) == 1 and applied[0].startswith(str(school.id)) and "auth_sessions=" in applied[0]
    assert "leavers_erased" not in applied[0]
    clock.set(suite_clock.INSTANT + timedelta(days=40))  # 30 days after leaving: the school's leaver period
    (mine,) = [a for a in await run() if a.startswith(str(school.id))]
    assert "leavers_erased=1" in mine
    (erased,) = await entries(engine, school.id, "person.erased")
    assert erased.detail["subjectType"] == "PUPIL"

    admin = await login(client, school.slug, "admin")
    reset = await mutate(
        client, school.slug, admin, "setRetentionPeriod", SET_PERIOD, rule="auth_sessions", days=None
    )
    assert reset["period"] == {"rule": "auth_sessions", "defaultDays": 30, "schoolDays": None, "days": 30}


async def test_only_a_school_admin_sets_retention_periods(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S2 (v): a teacher, a parent and an anonymous caller neither read nor set the school's retention
    periods; another school's admin sets their own school's only."""
    school = await factory.school()
    other = await factory.school()
    query = (
        "mutation($i: SetRetentionPeriodInput!) { setRetentionPeriod(input: $i) { period { days } "
        "errors { code } } }"
    )
    shorten = {"i": {"rule": "auth_sessions", "days": 7}}
    for token in (
        await login(client, school.slug, "teacher1"),
        await login(client, school.slug, "parent1"),
        None,
    ):
        body = await gql(client, school.slug, query, shorten, token=token)
        assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
        read = await gql(client, school.slug, PERIODS, token=token)
        assert read["data"]["retentionPeriods"] is None
    foreign = await login(client, other.slug, "admin")
    assert (await gql(client, school.slug, query, shorten, token=foreign))["errors"][0]["extensions"][
        "code"
    ] == ("UNAUTHENTICATED")
    mine = await gql(client, other.slug, query, shorten, token=foreign)
    assert mine["data"]["setRetentionPeriod"] == {"period": {"days": 7}, "errors": []}
    admin = await login(client, school.slug, "admin")
    assert (await _periods(client, school, admin))["auth_sessions"] == (30, 1, None, 30)

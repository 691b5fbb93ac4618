"""The partners' change feed for learning rows and for deletions (issue 14): judgements (progress.read) and
achievements (achievements.read) carry change versions as the roster does, each scope opens only its
collection, a deleted row is a tombstone (collection and sourcedId, nothing else) that partners are told of
and that is purged after 30 days, a restricted pupil's rows are never served, and a change that commits
late is never skipped. Over HTTP with partner tokens from authlib's client, on real PostgreSQL."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import Settings
from graph.core.relay import to_global_id
from models.curriculum import Judgement
from models.learning import Achievement
from partners import changes
from server.jobs import run_jobs
from tenants.context import bind
from tests.factories.learning import gid, starter, today
from tests.factories.partners import PartnerFactory, fetch_token, oauth_client
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory
from tests.test_partners_scopes import _learning, _token

LEARNING = """
query($since: String!, $first: Int, $after: String) {
  learningChanges(since: $since, first: $first, after: $after) {
    edges { node { version collection objectId pupilId status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ERASE = "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { errors { field code } } }"
RESTRICT = (
    "mutation($i: RestrictProcessingInput!) { restrictProcessing(input: $i) { errors { field code } } }"
)
EVERY_SCOPE = ["roster.read", "progress.read", "achievements.read"]


@pytest.fixture
def partners(client: httpx.AsyncClient, trusts: TrustFactory) -> PartnerFactory:
    return PartnerFactory(client, trusts)


async def _learning_feed(
    client: httpx.AsyncClient, school: SchoolData, token: str | None, after: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Every learning change after ``after`` (all of them without), paging by 3: (nodes, last cursor)."""
    nodes: list[dict[str, Any]] = []
    while True:
        body = await gql(
            client, school.slug, LEARNING, {"since": "0", "first": 3, "after": after}, token=token
        )
        assert "errors" not in body, body
        page = body["data"]["learningChanges"]
        nodes += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] or after
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, after


async def _roster_feed(
    client: httpx.AsyncClient, school: SchoolData, token: str, since: str = "0"
) -> tuple[list[dict[str, Any]], str]:
    response = await client.get(
        f"/schools/{school.slug}/ims/oneroster/v1p1/changes",
        params={"since": since, "limit": "1000"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["changes"], body["next"]


async def _erase(
    client: httpx.AsyncClient, school: SchoolData, admin: str, person_id: str, reason: str
) -> None:
    """A school admin erases pupil1 (``person_id``, its global id), confirming by name."""
    pupil = school.pupils["pupil1"]
    erased = await gql(
        client, school.slug, ERASE,
        {"i": {"personId": person_id, "reason": reason, "confirmName": f"{pupil.forename} {pupil.surname}"}},
        token=admin,
    )  # fmt: skip
    assert erased["data"]["erasePerson"]["errors"] == [], erased


async def deleted_at_of(owner_engine: AsyncEngine, school: SchoolData) -> datetime:
    """When the school's newest tombstone was written (the trigger's ``now()``): the retention step's clock
    is set from it."""
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school.id)})
        found = (
            await connection.execute(
                text("SELECT max(deleted_at) FROM change_tombstones WHERE school_id = :s"), {"s": school.id}
            )
        ).scalar()
    assert found is not None
    return found  # type: ignore[no-any-return]


async def retention_after(
    engine: AsyncEngine, owner_engine: AsyncEngine, settings: Settings, school: SchoolData, days: int
) -> None:
    """The retention jobs step, ``days`` after the school's newest tombstone was written."""
    report = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=settings.data_dir,
        now=await deleted_at_of(owner_engine, school) + timedelta(days=days), steps=["retention"],
    )  # fmt: skip
    assert report.failed == 0


def _sourced_id(row: Any) -> str:
    """The OneRoster sourcedId of a person (its MIS id) or a class (its external id), else its own id."""
    return str(getattr(row, "source_id", None) or getattr(row, "external_id", None) or row.id)


async def test_each_scope_opens_only_its_learning_changes(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """progress.read is served the judgements, achievements.read the achievements, both scopes both, in
    version order, each with its object's and pupil's ids; roster.read alone, a school's account, an
    anonymous caller and another school's partner get none of them."""
    school, other = await factory.school(), await factory.school()
    ids = await _learning(client, school)
    teacher = await login(client, school.slug, "teacher1")
    history = await gql(
        client, school.slug, "query($p: ID!) { judgementHistory(pupilId: $p) { edges { node { id } } } }",
        {"p": ids["p"]}, token=teacher,
    )  # fmt: skip
    [judgement] = [e["node"]["id"] for e in history["data"]["judgementHistory"]["edges"]]
    record = await gql(
        client, school.slug, "query($p: ID!) { learnerRecord(pupilId: $p) { achievements { id } } }",
        {"p": ids["p"]}, token=teacher,
    )  # fmt: skip
    achievements = [a["id"] for a in record["data"]["learnerRecord"]["achievements"]]
    assert len(achievements) == 1

    progress, _ = await _learning_feed(
        client, school, await _token(client, partners, school, ["progress.read"])
    )
    assert [(n["collection"], n["objectId"], n["pupilId"], n["status"]) for n in progress] == [
        ("judgements", judgement, ids["p"], "active")
    ]
    token = await _token(client, partners, school, ["achievements.read"])
    achieved, _ = await _learning_feed(client, school, token)
    assert [(n["collection"], n["objectId"], n["pupilId"]) for n in achieved] == [
        ("achievements", achievements[0], ids["p"])
    ]
    both, _ = await _learning_feed(client, school, await _token(client, partners, school, EVERY_SCOPE))
    assert sorted(n["objectId"] for n in both) == sorted([judgement, *achievements])
    assert [int(n["version"]) for n in both] == sorted(int(n["version"]) for n in both)

    roster_only = await _token(client, partners, school, ["roster.read"])
    admin = await login(client, school.slug, "admin")
    for caller in (roster_only, admin, teacher, None):
        refused = await gql(client, school.slug, LEARNING, {"since": "0"}, token=caller)
        assert refused["errors"] and (refused["data"] is None or refused["data"]["learningChanges"] is None)
    elsewhere = await _token(client, partners, other, EVERY_SCOPE)
    there, _ = await _learning_feed(client, other, elsewhere)
    assert there == []
    here = await gql(client, school.slug, LEARNING, {"since": "0"}, token=elsewhere)
    assert here.get("errors") and "Judgement" not in str(here.get("data")), here


async def test_an_erased_pupil_is_a_tombstone_in_every_feed_and_nothing_else(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """GDPR Art. 17(2), 19, LL 5.1.6: after a school admin erases a pupil, a partner reading on from where it
    stopped is told to delete their record (users), their judgements and their achievements: each once as
    status deleted with its collection and sourcedId (no pupil, no href), and nothing else of them; a
    partner of another school, and one without the scope, are told nothing."""
    school, other = await factory.school(), await factory.school()
    ids = await _learning(client, school)
    pupil = school.pupils["pupil1"]
    token = await _token(client, partners, school, EVERY_SCOPE)
    roster_only = await _token(client, partners, school, ["roster.read"])
    elsewhere = await _token(client, partners, other, EVERY_SCOPE)
    learned, after = await _learning_feed(client, school, token)
    assert {n["collection"] for n in learned} == {"judgements", "achievements"}
    _, since = await _roster_feed(client, school, token)
    _, roster_only_since = await _roster_feed(client, school, roster_only)
    _, other_since = await _roster_feed(client, other, elsewhere)

    admin = await login(client, school.slug, "admin")
    await _erase(client, school, admin, ids["p"], "Parent's request under Article 17")

    roster, roster_next = await _roster_feed(client, school, token, since)
    parent = school.contacts["parent1"]  # linked to the pupil: its agents no longer name them
    parent_href = f"http://testserver/schools/{school.slug}/ims/oneroster/v1p1/users/{_sourced_id(parent)}"
    assert sorted((c["collection"], c["sourcedId"], c["status"], c["href"]) for c in roster) == sorted(
        [
            ("users", _sourced_id(pupil), "deleted", None),
            ("users", _sourced_id(parent), "active", parent_href),
        ]
    )
    tombstones, learning_next = await _learning_feed(client, school, token, after)
    assert sorted((n["collection"], n["objectId"], n["pupilId"], n["status"]) for n in tombstones) == sorted(
        (n["collection"], n["objectId"], None, "deleted") for n in learned
    )
    # The tombstones were written by the erasure's one transaction: one version.
    assert len({str(c["version"]) for c in roster} | {n["version"] for n in tombstones}) == 1
    # Nothing more on a second read, and nothing for a partner of another school.
    assert (await _roster_feed(client, school, token, roster_next))[0] == []
    assert (await _learning_feed(client, school, token, learning_next))[0] == []
    assert (await _roster_feed(client, other, elsewhere, other_since))[0] == []
    # roster.read alone: told of the person, not of their learning record.
    roster_only_sees, _ = await _roster_feed(client, school, roster_only, roster_only_since)
    assert [(c["collection"], c["sourcedId"]) for c in roster_only_sees] == [
        (c["collection"], c["sourcedId"]) for c in roster
    ]


async def test_a_deleted_class_is_a_tombstone_in_the_roster_feed(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, engine: AsyncEngine
) -> None:
    """A class deleted (no operation of the product deletes one today: classes leave by deactivation, so
    the test deletes the row as the runtime role; the tombstone is the database trigger's, which is what
    is under test) is served once as deleted, by its sourcedId."""
    school = await factory.school()
    token = await _token(client, partners, school, ["roster.read"])
    _, since = await _roster_feed(client, school, token)
    group = school.groups["A"]
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            text("DELETE FROM groups WHERE school_id = :s AND id = :g"), {"s": school.id, "g": group.id}
        )
    served, _ = await _roster_feed(client, school, token, since)
    assert [(c["collection"], c["sourcedId"], c["status"]) for c in served] == [
        ("classes", _sourced_id(group), "deleted")
    ]
    # It stays deleted: the class is not in the classes collection, nor served again.
    classes = await client.get(
        f"/schools/{school.slug}/ims/oneroster/v1p1/classes",
        headers={"authorization": f"Bearer {token}"},
    )
    assert _sourced_id(group) not in {c["sourcedId"] for c in classes.json()["classes"]}


async def test_a_tombstone_is_purged_after_thirty_days_by_the_retention_step(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
) -> None:
    """The tombstone keeps an erased pupil's sourcedId only for its retention period (privacy registry,
    docs/adr/0016): the retention jobs step leaves it 29 days after the deletion and purges it after 31;
    the feed then has nothing of the pupil at all. The clock is the deletion's own time, read from the
    row the database stamped (the trigger's ``now()``), plus the days."""
    school = await factory.school()
    ids = await _learning(client, school)
    pupil = school.pupils["pupil1"]
    partner = await partners.register(scopes=EVERY_SCOPE)
    assert (await partners.approve(school, partner, EVERY_SCOPE))["errors"] == []
    async with oauth_client(client, partner) as oauth:
        token = (await fetch_token(oauth, school))["access_token"]
    admin = await login(client, school.slug, "admin")
    await _erase(client, school, admin, ids["p"], "Retention test")

    for days, left in ((29, 3), (31, 0)):
        await retention_after(engine, owner_engine, settings, school, days)
        # The same run purges the partner's expired token rows (their own rule): a fresh token.
        async with oauth_client(client, partner) as oauth:
            token = (await fetch_token(oauth, school))["access_token"]
        roster, _ = await _roster_feed(client, school, token)
        learning, _ = await _learning_feed(client, school, token)
        deleted = [c for c in roster + learning if c["status"] == "deleted"]
        assert len(deleted) == left, (days, deleted)
    assert _sourced_id(pupil) not in {c["sourcedId"] for c in roster}


async def test_a_restricted_pupils_learning_rows_and_their_tombstones_are_not_served(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, engine: AsyncEngine
) -> None:
    """LL-S2 (xiii): while a pupil's processing is restricted, neither their judgements and achievements nor
    the tombstone of one deleted meanwhile is served; once the pupil is erased, the tombstones are (the
    erasure empties the tombstone's pupil, restamping it above what the partner has read)."""
    school = await factory.school()
    ids = await _learning(client, school)
    token = await _token(client, partners, school, EVERY_SCOPE)
    before, after = await _learning_feed(client, school, token)
    assert len(before) == 2
    admin = await login(client, school.slug, "admin")
    restricted = await gql(
        client, school.slug, RESTRICT,
        {"i": {"personId": ids["p"], "kind": "RESTRICTION", "reason": "Contested accuracy"}}, token=admin,
    )  # fmt: skip
    assert restricted["data"]["restrictProcessing"]["errors"] == [], restricted
    assert (await _learning_feed(client, school, token))[0] == []
    # A judgement of theirs deleted while they are restricted (no operation does it today: the row is
    # deleted as the runtime role): its tombstone stays hidden too.
    judgement_id = uuid.UUID(_raw_id(before, "judgements"))
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            text("DELETE FROM judgements WHERE school_id = :s AND id = :j"),
            {"s": school.id, "j": judgement_id},
        )
    assert (await _learning_feed(client, school, token, after))[0] == []

    await _erase(client, school, admin, ids["p"], "Parent's request")
    told, _ = await _learning_feed(client, school, token, after)
    assert sorted((n["collection"], n["status"]) for n in told) == [
        ("achievements", "deleted"),
        ("judgements", "deleted"),
    ]
    assert to_global_id("Judgement", judgement_id) in {n["objectId"] for n in told}


LIFT = "mutation($i: LiftRestrictionInput!) { liftRestriction(input: $i) { errors { field code } } }"


async def test_a_lifted_restriction_serves_the_persons_rows_again_after_what_the_partner_has_read(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """LL-S2 (xiii), GDPR Art. 19: a partner that read the feed while a pupil was restricted went past the
    versions of the pupil's record, judgement and achievement without them; once the restriction is
    lifted, asking for the changes after where it stopped serves all three again (restamped), and no other
    pupil's rows. An objection lifted changes nothing in the feed (objecting pupils are served)."""
    school = await factory.school()
    ids = await _learning(client, school)
    pupil = school.pupils["pupil1"]
    token = await _token(client, partners, school, EVERY_SCOPE)
    admin = await login(client, school.slug, "admin")
    person = {"personId": ids["p"], "kind": "RESTRICTION"}
    restricted = await gql(
        client, school.slug, RESTRICT, {"i": {**person, "reason": "Contested"}}, token=admin
    )
    assert restricted["data"]["restrictProcessing"]["errors"] == [], restricted

    learning, learning_read = await _learning_feed(client, school, token)
    roster, roster_read = await _roster_feed(client, school, token)
    assert learning == []
    assert _sourced_id(pupil) not in {c["sourcedId"] for c in roster}
    assert len({c["sourcedId"] for c in roster}) > 1  # the school's other persons and classes were read

    lifted = await gql(client, school.slug, LIFT, {"i": person}, token=admin)
    assert lifted["data"]["liftRestriction"]["errors"] == [], lifted
    again, _ = await _learning_feed(client, school, token, learning_read)
    assert sorted((n["collection"], n["pupilId"], n["status"]) for n in again) == [
        ("achievements", ids["p"], "active"),
        ("judgements", ids["p"], "active"),
    ]
    roster_again, _ = await _roster_feed(client, school, token, roster_read)
    assert [(c["collection"], c["sourcedId"], c["status"]) for c in roster_again] == [
        ("users", _sourced_id(pupil), "active")
    ]

    objection = {"personId": ids["p"], "kind": "OBJECTION"}
    objected = await gql(
        client, school.slug, RESTRICT, {"i": {**objection, "reason": "Statistics"}}, token=admin
    )
    assert objected["data"]["restrictProcessing"]["errors"] == [], objected
    _, read_up_to = await _roster_feed(client, school, token, roster_read)
    assert (await gql(client, school.slug, LIFT, {"i": objection}, token=admin))["data"]["liftRestriction"][
        "errors"
    ] == []
    assert (await _roster_feed(client, school, token, read_up_to))[0] == []


def _raw_id(nodes: list[dict[str, Any]], collection: str) -> str:
    """The database id inside a feed node's global id."""
    import base64

    [node] = [n for n in nodes if n["collection"] == collection]
    encoded = node["objectId"]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode().split(":", 1)[1]


async def test_the_learning_feed_never_skips_a_change_that_commits_late(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, engine: AsyncEngine
) -> None:
    """Two concurrent writers of one school's learning rows: the first (a judgement) holds its transaction
    open; the second (an achievement) does not wait for it (no lock) and commits first, with the higher
    version; the feed serves neither while the first runs, then each once, in version order. (The writers
    are held open mid-transaction, which no HTTP request can do, so they insert through the models; the
    versions are the database trigger's, which is what is under test.)"""
    school = await factory.school()
    token = await _token(client, partners, school, EVERY_SCOPE)
    start, after = await _learning_feed(client, school, token)
    assert start == []
    ladder = starter("Y4-MATHS")
    pupil = school.pupils["pupil1"]
    teacher = school.accounts["teacher1"].id
    judgement = Judgement(
        school_id=school.id, pupil_id=pupil.id, ladder_id=ladder.id, rung_id=ladder.rung_ids[0],
        level="SECURE", assessed_on=today(), recorded_by=teacher,
    )  # fmt: skip
    achievement = Achievement(
        school_id=school.id, pupil_id=pupil.id, kind="AWARD", title="Star of the week",
        achieved_on=today(), recorded_by=teacher,
    )  # fmt: skip
    async with AsyncSession(engine) as early:
        await early.begin()
        await bind(early, [school.id])
        early.add(judgement)
        await early.flush()  # the early writer has its version, uncommitted
        judged = judgement.id
        async with AsyncSession(engine) as late, late.begin():
            await bind(late, [school.id])
            await late.execute(text("SET LOCAL lock_timeout = '100ms'"))
            late.add(achievement)
            await late.flush()
            achieved = achievement.id
        while_running, cursor = await _learning_feed(client, school, token, after)
        assert while_running == [] and cursor == after
        await early.commit()
    served, served_next = await _learning_feed(client, school, token, after)
    assert [(n["collection"], n["objectId"]) for n in served] == [
        ("judgements", gid("Judgement", judged)),
        ("achievements", gid("Achievement", achieved)),
    ]
    assert int(served[0]["version"]) < int(served[1]["version"])
    assert (await _learning_feed(client, school, token, served_next))[0] == []


def test_the_feed_and_the_tombstone_trigger_name_the_same_tables() -> None:
    """The feed's declarations (partners.changes.FED) and migration 0017's tombstone triggers agree on
    every table's collection and sourcedId column, so a deleted row's tombstone names what the feed served."""
    path = Path(__file__).parents[1] / "migrations/versions/0017_learning_change_versions_and_tombstones.py"
    spec = importlib.util.spec_from_file_location("migration_0017", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    declared = {(f.model.__tablename__, f.collection, f.sourced_id or "") for f in changes.FED}
    assert {(t, c, s) for t, c, s, _ in migration.TOMBSTONED} == declared
    assert set(migration.COLLECTIONS) == {f.collection for f in changes.FED}

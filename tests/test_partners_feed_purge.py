"""The change feed after its tombstones are purged (issue 14, migration 0031): a consumer whose position is
before a purged deletion may have missed it, and is refused (REST 410 in the OneRoster error shape, GraphQL
SINCE_TOO_OLD) instead of being served a feed with the deletion silently gone; the start (since 0) is
always served, and a consumer that read on from there is not refused again for the same purge; one that
had read past the deletion, and the consumers of another school, are served as before. Over HTTP with
partner tokens from authlib's client; the purge is the retention jobs step's, on real PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import Settings
from graph.core.relay import to_global_id
from tenants.context import bind
from tests.factories.audit import entries
from tests.factories.partners import PartnerFactory, fetch_token, oauth_client
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory
from tests.test_partners_changes import (
    EVERY_SCOPE,
    LEARNING,
    _erase,
    _learning_feed,
    _roster_feed,
    _sourced_id,
    retention_after,
)
from tests.test_partners_scopes import _learning

ROSTER = """
query($since: String!, $first: Int, $after: String) {
  rosterChanges(since: $since, first: $first, after: $after) {
    edges { node { version collection sourcedId status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
DEACTIVATE = "mutation($i: DeactivatePupilInput!) { deactivatePupil(input: $i) { errors { code } } }"


@pytest.fixture
def partners(client: httpx.AsyncClient, trusts: TrustFactory) -> PartnerFactory:
    return PartnerFactory(client, trusts)


async def _changes(client: httpx.AsyncClient, school: SchoolData, token: str, since: str) -> httpx.Response:
    return await client.get(
        f"/schools/{school.slug}/ims/oneroster/v1p1/changes",
        params={"since": since, "limit": "1000"},
        headers={"authorization": f"Bearer {token}"},
    )


async def _roster_connection(
    client: httpx.AsyncClient, school: SchoolData, token: str, after: str | None
) -> dict[str, Any]:
    return await gql(client, school.slug, ROSTER, {"since": "0", "first": 50, "after": after}, token=token)


async def _partner_token(
    client: httpx.AsyncClient, partners: PartnerFactory, school: SchoolData
) -> tuple[Any, str]:
    partner = await partners.register(scopes=EVERY_SCOPE)
    assert (await partners.approve(school, partner, EVERY_SCOPE))["errors"] == []
    return partner, await _fresh_token(client, partner, school)


async def _fresh_token(client: httpx.AsyncClient, partner: Any, school: SchoolData) -> str:
    async with oauth_client(client, partner) as oauth:
        token: str = (await fetch_token(oauth, school))["access_token"]
    return token


async def test_a_consumer_that_may_have_missed_a_purged_deletion_is_told_to_read_again_from_the_start(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
) -> None:
    """GDPR Art. 17(2), 19, LL 5.1.6: a partner last in step before a pupil was erased, back after the
    tombstones' 30 days, would have kept the pupil's record; it is refused at both doors, for the roster
    and the learning feed alike, whether it gives its position or a bare version, and told to read from
    since 0. Reading from there serves the school as it is (nothing of the pupil) and pages on without
    being refused. A consumer that had read past the deletion is served as before; so is a consumer of
    another school, whose feed no purge here touched."""
    school, other = await factory.school(), await factory.school()
    ids = await _learning(client, school)
    pupil = school.pupils["pupil1"]
    partner, token = await _partner_token(client, partners, school)
    other_partner, other_token = await _partner_token(client, partners, other)

    # In step before the erasure: the REST position, the GraphQL cursors of both feeds, a bare version.
    before, stale = await _roster_feed(client, school, token)
    stale_version = str(max(c["version"] for c in before))
    _, stale_learning = await _learning_feed(client, school, token)
    stale_roster = (await _roster_connection(client, school, token, None))["data"]["rosterChanges"]
    stale_cursor = stale_roster["pageInfo"]["endCursor"]
    _, other_since = await _roster_feed(client, other, other_token)

    admin = await login(client, school.slug, "admin")
    await _erase(client, school, admin, ids["p"], "Parent's request under Article 17")
    # A later change (another pupil leaves), which a consumer reading on is served past the deletion.
    left = await gql(
        client, school.slug, DEACTIVATE, {"i": {"pupilId": to_global_id("Pupil", school.pupils["pupil2"].id)}},
        token=admin,
    )  # fmt: skip
    assert left["data"]["deactivatePupil"]["errors"] == [], left
    read_on, current = await _roster_feed(client, school, token, stale)
    assert ("users", _sourced_id(pupil), "deleted") in {
        (c["collection"], c["sourcedId"], c["status"]) for c in read_on
    }
    assert read_on[-1]["sourcedId"] != _sourced_id(pupil)  # its position is past the deletion's version

    # The retention step, 31 days after the deletion, purges the tombstones (the pupil's and their records').
    await retention_after(engine, owner_engine, settings, school, 31)
    token = await _fresh_token(client, partner, school)  # the run purged the expired token rows too
    other_token = await _fresh_token(client, other_partner, other)

    for since in (stale, stale_version):
        refused = await _changes(client, school, token, since)
        assert refused.status_code == 410, refused.text
        body = refused.json()
        assert body["imsx_codeMajor"] == "failure"
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invaliddata"
        assert "since=0" in body["imsx_description"], body
    for query, after in ((ROSTER, stale_cursor), (LEARNING, stale_learning)):
        refused_gql = await gql(
            client, school.slug, query, {"since": "0", "first": 50, "after": after}, token=token
        )
        assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in refused_gql["errors"]] == [
            ("SINCE_TOO_OLD", "after")
        ], refused_gql
    # Each refusal at the REST door is in the school's audit chain, the partner's, with why.
    refusals = [
        (e.actor_type, e.outcome, e.detail)
        for e in await entries(engine, school.id, "partner.oneroster.read")
        if e.outcome == "REJECTED"
    ]
    assert (
        refusals
        == [("PARTNER", "REJECTED", {"collection": "changes", "error": "invaliddata", "status": 410})] * 2
    )
    bare = await gql(client, school.slug, ROSTER, {"since": stale_version}, token=token)
    assert [e["extensions"]["code"] for e in bare["errors"]] == ["SINCE_TOO_OLD"], bare

    # From the start: the school as it is, nothing of the erased pupil; then on from its position.
    whole, resumed = await _roster_feed(client, school, token, "0")
    assert _sourced_id(pupil) not in {c["sourcedId"] for c in whole}
    assert _sourced_id(school.pupils["pupil2"]) in {c["sourcedId"] for c in whole}
    assert (await _roster_feed(client, school, token, resumed))[0] == []
    first = (await gql(client, school.slug, ROSTER, {"since": "0", "first": 2}, token=token))["data"]
    assert first["rosterChanges"]["pageInfo"]["hasNextPage"], first
    paged = await _roster_connection(client, school, token, first["rosterChanges"]["pageInfo"]["endCursor"])
    assert "errors" not in paged, paged
    learning, _ = await _learning_feed(client, school, token)
    assert learning == []  # the pupil's judgement and achievement: deleted, and their tombstones purged

    # Read past the deletion before the purge: served (nothing new); another school: served.
    assert (await _roster_feed(client, school, token, current))[0] == []
    assert (await _roster_feed(client, other, other_token, other_since))[0] == []


async def test_a_purge_refuses_only_the_feeds_of_its_collections(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
) -> None:
    """The purged versions are kept per collection: a class's tombstone purged refuses a roster consumer
    from before its deletion, not a learning consumer at the same position. (No operation of the product
    deletes a class, classes leave by deactivation: the test deletes the row as the runtime role, as
    tests/test_partners_changes.py does; the tombstone, its purge and the refusal are the product's.)"""
    school = await factory.school()
    await _learning(client, school)
    partner, token = await _partner_token(client, partners, school)
    _, roster_since = await _roster_feed(client, school, token)
    _, learning_after = await _learning_feed(client, school, token)
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        deleted = await session.execute(
            text("DELETE FROM groups WHERE school_id = :s AND id = :g"),
            {"s": school.id, "g": school.groups["A"].id},
        )
        assert deleted.rowcount == 1  # type: ignore[attr-defined]
    await retention_after(engine, owner_engine, settings, school, 31)
    token = await _fresh_token(client, partner, school)
    assert (await _changes(client, school, token, roster_since)).status_code == 410
    learning, _ = await _learning_feed(client, school, token, learning_after)
    assert learning == []

"""OneRoster person pages read by position (issue 14, ADR 17): a consumer paging by ``offset`` gets the
same objects, totals and links whether a page is read from a remembered position or counted afresh, and
a change to the roster between two pages (here: a pupil's processing restricted) is never hidden by a
remembered position or total."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.core.relay import to_global_id
from models import Pupil
from tenants.context import bind
from tenants.scoping import scoped_update
from tests.factories.schools import SchoolData, gql, login
from tests.test_partners import partners, reader, restrict_processing, roster_url  # noqa: F401 - fixtures

GENERAL = "filter=status%3D%27active%27"
"""A filter every person passes: the same listing read by filter, sort and offset (the general plan)."""


async def _page(client: httpx.AsyncClient, school: SchoolData, query: str) -> tuple[list[Any], str, str]:
    response = await client.get(roster_url(school, f"students?{query}"))
    assert response.status_code == 200, response.text
    return response.json()["students"], response.headers["x-total-count"], response.headers["link"]


async def test_pages_by_position_are_the_pages_by_offset_even_when_the_roster_changes(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    school, client = reader
    every, total, _ = await _page(client, school, f"limit=1000&{GENERAL}")
    assert int(total) == len(school.pupils) == len(every) >= 6
    assert [s["sourcedId"] for s in every] == sorted(s["sourcedId"] for s in every)

    paged: list[Any] = []
    url: str | None = roster_url(school, "students?limit=2")
    while url:  # the second page on are read from the position the previous one ended at
        response = await client.get(url)
        assert response.headers["x-total-count"] == total
        paged += response.json()["students"]
        nexts = [p for p in response.headers["link"].split(", ") if 'rel="next"' in p]
        url = nexts[0].split(";")[0].strip("<>") if nexts else None
    assert paged == every  # object for object, key for key

    for offset in (2, 4):  # the same page by position, by offset with a filter, and by a fresh offset
        by_position = await _page(client, school, f"limit=2&offset={offset}")
        by_filter = await _page(client, school, f"limit=2&offset={offset}&{GENERAL}")
        assert by_position[:2] == by_filter[:2] == (every[offset : offset + 2], total)

    # The first pupil's processing is restricted between two pages: the remembered position and total
    # describe a roster that no longer is, and the next page must not be read from them.
    first = next(p for p in school.pupils.values() if (p.source_id or str(p.id)) == every[0]["sourcedId"])
    await restrict_processing(client, school, first.id)

    after, after_total, links = await _page(client, school, "limit=2&offset=2")
    assert after_total == str(len(every) - 1)
    assert after == every[3:5]  # not every[2:4], where the remembered position would have started
    assert (after, after_total) == (await _page(client, school, f"limit=2&offset=2&{GENERAL}"))[:2]
    assert every[0]["sourcedId"] not in [s["sourcedId"] for s in after]
    assert 'rel="last"' in links and f"offset={((len(every) - 2) // 2) * 2}" in links


async def test_persons_with_and_without_a_source_id_page_in_one_sourced_id_order(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
    engine: AsyncEngine,
) -> None:
    """ADR 17: a person's sourcedId is its source id, or for a row made in schoolgraph its own id. The
    keyed plan reads the two apart (rows with a source id through the (school_id, source_id) index, from
    a position by an index condition; the others by their id's text) and merges them: every page read
    from a remembered position is the page the general plan sorts and counts, the two kinds interleaved
    in one sourcedId order."""
    school, client = reader
    pupils = sorted(school.pupils.values(), key=lambda p: str(p.id))
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        for n, pupil in enumerate(pupils[::2]):  # source ids that sort among the others' uuids
            await session.execute(
                scoped_update(Pupil, school.id)
                .where(Pupil.id == pupil.id)
                .values(source_id=f"{'08f'[n % 3]}{n}-mis")
            )
    every, total, _ = await _page(client, school, f"limit=1000&{GENERAL}")
    sourced = [s["sourcedId"] for s in every]
    assert sourced == sorted(sourced) and int(total) == len(every)
    assert {s.endswith("-mis") for s in sourced} == {True, False}
    for collection in ("students", "users"):
        listing = (await client.get(roster_url(school, f"{collection}?limit=1000&{GENERAL}"))).json()[
            collection
        ]
        paged: list[Any] = []
        url: str | None = roster_url(school, f"{collection}?limit=3")
        while url:
            response = await client.get(url)
            paged += response.json()[collection]
            nexts = [p for p in response.headers["link"].split(", ") if 'rel="next"' in p]
            url = nexts[0].split(";")[0].strip("<>") if nexts else None
        assert paged == listing, collection


async def test_a_change_that_commits_late_is_never_hidden_by_a_remembered_position(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
    engine: AsyncEngine,
) -> None:
    """Change versions follow the order writers started (migration 0015): a writer that started early and
    commits late leaves a version *below* one already seen. Here the early writer deactivates the first
    pupil and stays open; a later writer changes another pupil and commits; the partner pages through.
    The first page's stamp is not settled (a lower version may still commit), so no position is kept on
    it; once the early writer commits, page 2 is the one counting the offset afresh gives. (The writers
    are held open mid-transaction, which no HTTP request can do, so they change rows through the models:
    the versions are the database trigger's, which is what is under test.)"""
    school, client = reader
    every, total, _ = await _page(client, school, f"limit=1000&{GENERAL}")
    by_source = {p.source_id or str(p.id): p for p in school.pupils.values()}
    first, other = by_source[every[0]["sourcedId"]], by_source[every[-1]["sourcedId"]]

    async with AsyncSession(engine) as early:
        await early.begin()
        await bind(early, [school.id])
        leaving = await early.get(Pupil, (school.id, first.id))
        assert leaving is not None
        leaving.active = False
        await early.flush()  # the early writer holds its (lower) version, uncommitted
        async with AsyncSession(engine) as late, late.begin():
            await bind(late, [school.id])
            changed = await late.get(Pupil, (school.id, other.id))
            assert changed is not None
            changed.email = "late@example.org"
        assert await _page(client, school, "limit=2") == (
            every[:2],
            total,
            (await _page(client, school, "limit=2"))[2],
        )
        await early.commit()

    after, after_total, _ = await _page(client, school, "limit=2&offset=2")
    assert after_total == str(len(every) - 1)
    assert after == every[3:5]  # the offset counted afresh, without the leaver
    assert (after, after_total) == (await _page(client, school, f"limit=2&offset=2&{GENERAL}"))[:2]


CHANGES = """
query($since: String!, $first: Int, $after: String) {
  rosterChanges(since: $since, first: $first, after: $after) {
    edges { cursor node { version collection sourcedId status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _connection(
    client: httpx.AsyncClient, school: SchoolData, since: str, after: str | None = None, first: int = 4
) -> dict[str, Any]:
    body = await gql(client, school.slug, CHANGES, {"since": since, "first": first, "after": after})
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["rosterChanges"]
    return connection


async def test_the_change_feed_as_a_graphql_connection(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    """Issue 14: the feed the REST provider serves, as a connection paged by its cursors: every person and
    class once in version order, then after the last cursor only what changed, a leaver as a tombstone;
    only a partner with roster.read reads it (an account, even the school admin, and an anonymous caller
    are refused); a version that is not one is a clear error."""
    school, client = reader
    rest = (await client.get(roster_url(school, "changes?since=0&limit=1000"))).json()["changes"]
    served: list[dict[str, Any]] = []
    after = None
    while True:
        page = await _connection(client, school, "0", after)
        served += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert [(c["version"], c["collection"], c["sourcedId"], c["status"]) for c in served] == [
        (str(c["version"]), c["collection"], c["sourcedId"], c["status"]) for c in rest
    ]
    last = served[-1]["version"]
    assert (await _connection(client, school, "0", after))["edges"] == []  # nothing after the last page
    # `since` is the first version wanted: every change of the last version (one transaction's writes
    # share their writer's version, migration 0015), which ends the feed.
    of_last = [node for node in served if node["version"] == last]
    assert of_last == served[-len(of_last) :]
    assert [e["node"] for e in (await _connection(client, school, last, first=100))["edges"]] == of_last

    partner = client.headers.pop("authorization")
    admin = await login(client, school.slug, "admin")
    left = await gql(
        client,
        school.slug,
        "mutation($i: DeactivatePupilInput!) { deactivatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": to_global_id("Pupil", school.pupils["pupil1"].id)}},
        token=admin,
    )
    assert left["data"]["deactivatePupil"]["errors"] == []
    for token in (admin, None):
        refused = await gql(client, school.slug, CHANGES, {"since": "0"}, token=token)
        assert refused["data"] is None or refused["data"]["rosterChanges"] is None
        assert refused["errors"], refused
    client.headers["authorization"] = partner

    since_then = await _connection(client, school, "0", after)  # from where the consumer stopped
    pupil1, parent1 = school.pupils["pupil1"], school.contacts["parent1"]
    # The leaver's parent too (its agents no longer name the leaver): one version, in sourcedId order.
    assert [(e["node"]["sourcedId"], e["node"]["status"]) for e in since_then["edges"]] == sorted(
        [
            (pupil1.source_id or str(pupil1.id), "tobedeleted"),
            (parent1.source_id or str(parent1.id), "active"),
        ]
    )
    assert int(since_then["edges"][0]["node"]["version"]) > int(last)
    bad = await gql(client, school.slug, CHANGES, {"since": "yesterday"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_VERSION", bad

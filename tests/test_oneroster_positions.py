"""A consumer's second full sync of a OneRoster person collection (issue 14, ADR 17): its first page is
read with its count like the first sync's (one statement shape for every first page) and, the roster
unchanged, keeps the positions the first sync remembered, so its next pages are read from them; a roster
changed in between starts the listing afresh, and the first page shows the change."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Pupil
from partners.oneroster import users
from server.runtime import Runtime
from tenants.context import bind
from tenants.scoping import scoped_update
from tests.factories.schools import SchoolData
from tests.test_partners import partners, reader, roster_url  # noqa: F401 - fixtures


async def _sync(client: httpx.AsyncClient, school: SchoolData) -> tuple[list[Any], list[str]]:
    objects: list[Any] = []
    totals: list[str] = []
    url: str | None = roster_url(school, "students?limit=2")
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        objects += response.json()["students"]
        totals.append(response.headers["x-total-count"])
        nexts = [p for p in response.headers["link"].split(", ") if 'rel="next"' in p]
        url = nexts[0].split(";")[0].strip("<>") if nexts else None
    return objects, totals


async def test_a_second_sync_keeps_the_remembered_positions_until_the_roster_changes(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
    runtime: Runtime,
    engine: AsyncEngine,
) -> None:
    school, client = reader
    first, totals = await _sync(client, school)
    assert len(first) == len(school.pupils) >= 6 and set(totals) == {str(len(first))}
    listing = runtime.oneroster_positions.get(school.id, "students")
    assert listing is not None
    remembered = dict(listing.after)
    # A stamp is trusted only below the cluster's oldest running transaction (migration 0015): while
    # another session's transaction is open, every page is read afresh and nothing remembered holds.
    settled = listing.stamp != users.UNSETTLED
    if settled:
        assert sorted(remembered) == list(range(2, len(first) + 1, 2))  # every page's end, by offset

    shapes = users._shape.cache_info().misses
    second, totals = await _sync(client, school)
    assert users._shape.cache_info().misses == shapes  # no statement the first sync did not use
    assert second == first and set(totals) == {str(len(first))}
    kept = runtime.oneroster_positions.get(school.id, "students")
    assert kept is not None
    if settled and kept.stamp == listing.stamp:  # the first page did not start the listing over
        assert kept is listing and kept.after == remembered

    renamed = next(p for p in school.pupils.values() if (p.source_id or str(p.id)) == first[0]["sourcedId"])
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            scoped_update(Pupil, school.id).where(Pupil.id == renamed.id).values(forename="Renamed")
        )
    page = await client.get(roster_url(school, "students?limit=2"))
    assert page.json()["students"][0]["givenName"] == "Renamed"
    fresh = runtime.oneroster_positions.get(school.id, "students")
    assert fresh is not None and fresh.after == {2: page.json()["students"][1]["sourcedId"]}
    if settled:  # a new listing, at the new stamp, holding only what was read since
        assert fresh is not listing and fresh.stamp != listing.stamp
    third, _ = await _sync(client, school)
    assert [s["sourcedId"] for s in third] == [s["sourcedId"] for s in first]
    assert third[0]["givenName"] == "Renamed" and third[1:] == first[1:]

"""A OneRoster reference leads to what it names. Every object the provider serves refers to others by
GUIDRef (``{href, sourcedId, type}``: an enrolment's user, class and school, a class's course, terms and
school, a user's orgs and agents); a consumer written to the specification follows the ``href``. Over HTTP
with a partner's token, on real PostgreSQL, for a school that imported a package with every kind of
reference (terms, classes, a teacher, pupils and a parent linked to one, the school's org)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories.partners import PartnerFactory
from tests.factories.schools import SchoolFactory
from tests.test_partners import COLLECTIONS, partners, roster_url  # noqa: F401 - fixtures
from tests.test_partners_feed_shows import _as_partner, _imported_school


def references(value: Any) -> list[dict[str, str]]:
    """Every GUIDRef in a served object (or list of them), at any depth."""
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    if not isinstance(value, dict):
        return []
    own = [value] if value.keys() == {"href", "sourcedId", "type"} else []
    return own + [ref for item in value.values() for ref in references(item)]


async def test_every_reference_leads_to_the_object_it_names(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
) -> None:
    """Each reference of every collection, followed as a consumer would (its ``href`` as given), answers 200
    with exactly one object of the reference's type and sourcedId. Until this test an enrolment's class
    pointed at ``.../classs/<id>`` (the type with an "s"), which answers 404."""
    school, _ = await _imported_school(client, factory)
    await _as_partner(client, partners, school)
    found: dict[str, dict[str, str]] = {}
    for collection in COLLECTIONS:
        response = await client.get(roster_url(school, collection), params={"limit": "1000"})
        assert response.status_code == 200, (collection, response.text)
        found |= {ref["href"]: ref for ref in references(response.json()[collection])}
    assert {ref["type"] for ref in found.values()} == {"org", "academicSession", "course", "class", "user"}
    for href, ref in sorted(found.items()):
        response = await client.get(href)
        assert response.status_code == 200, (ref, response.text)
        body = response.json()
        assert list(body) == [ref["type"]], (ref, body)
        assert body[ref["type"]]["sourcedId"] == ref["sourcedId"], (ref, body)

"""The OneRoster person pages PostgreSQL builds as JSON text (issue 14, ADR 17) are, byte for byte, what
the response encoder would write for the same objects, in the specification's key order, with the
school's org and no grades in every object (the statement's last segment, computed once per statement),
and a contact's agents and role from its links; for every plan (keyed from the start, from a remembered
position, past an offset; general: filter, sort, descending) and every person collection."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.factories.schools import SchoolData
from tests.test_partners import partners, reader, roster_url  # noqa: F401 - fixtures

KEYS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "username",
    "userIds",
    "enabledUser",
    "givenName",
    "familyName",
    "middleName",
    "role",
    "identifier",
    "email",
    "sms",
    "phone",
    "agents",
    "orgs",
    "grades",
]

QUERIES = (
    "limit=1000",  # keyed, from the start, with the count
    "limit=2",  # keyed, from the start (the listing known)
    "limit=2&offset=2",  # keyed, from a remembered position
    "limit=2&offset=3",  # keyed, past an offset no page ended at
    "limit=1000&filter=status%3D%27active%27",  # general
    "limit=3&sort=familyName&orderBy=desc",  # general, sorted, descending
    "limit=1000&filter=role%3D%27parent%27%20OR%20role%3D%27teacher%27",  # general, OR
)


def _sourced(row: Any) -> str:
    return row.source_id or str(row.id)


async def test_person_pages_are_the_encoders_bytes_with_the_orgs_agents_and_roles(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    school, client = reader
    orgs = await client.get(roster_url(school, "orgs"))
    org_id = orgs.json()["orgs"][0]["sourcedId"]
    seen: dict[str, dict[str, Any]] = {}
    for collection in ("users", "students", "teachers"):
        for query in QUERIES:
            response = await client.get(roster_url(school, f"{collection}?{query}"))
            assert response.status_code == 200, (collection, query, response.text)
            body = response.content
            parsed = orjson.loads(body)
            assert body == orjson.dumps(parsed), (collection, query)  # the encoder's bytes, key order kept
            objects = parsed[collection]
            if "offset" not in query and "OR" not in query:
                assert objects, (collection, query)
            base = str(response.url).split(f"/{collection}?")[0]
            org = [{"href": f"{base}/orgs/{org_id}", "sourcedId": org_id, "type": "org"}]
            for obj in objects:
                assert list(obj) == KEYS, (collection, query)
                assert obj["orgs"] == org and obj["grades"] == [], (collection, query, obj)
                assert seen.setdefault(obj["sourcedId"], obj) == obj  # the same object from every plan
    pupils = {_sourced(p): p for p in school.pupils.values()}
    parent = school.contacts["parent1"]
    served_parent = seen[_sourced(parent)]
    linked = sorted(sid for sid, obj in seen.items() if sid in pupils and any(
        agent["sourcedId"] == _sourced(parent) for agent in obj["agents"]
    ))  # fmt: skip
    assert linked, "parent1 is some pupil's agent"
    assert served_parent["role"] == "parent"
    assert [a["sourcedId"] for a in served_parent["agents"]] == linked
    assert {a["type"] for a in served_parent["agents"]} == {"user"}
    assert all(a["href"].endswith(f"/users/{a['sourcedId']}") for a in served_parent["agents"])
    pupil = school.pupils["pupil1"]
    served_pupil = seen[_sourced(pupil)]
    assert served_pupil["role"] == "student" and served_pupil["familyName"] == pupil.surname
    assert {"type": "UPN", "identifier": pupil.upn} in served_pupil["userIds"]
    assert {s["role"] for s in seen.values() if s["sourcedId"] not in pupils} >= {"parent", "teacher"}

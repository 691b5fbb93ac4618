"""Connections page to the end: every row once, in order, for each role that may read the list.

Page 2 of ``pupils`` and ``staff`` used to fail with ``operator does not exist: uuid > character varying``
(the cursor's key was compared as text with a uuid column); the cursors also carried pupils' and staff's
names, which land in URLs and access logs. Each list here is walked with a small page size to its end and
compared with the whole list read at once.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import httpx
import pytest

from tests.factories.schools import SchoolData, SchoolFactory, gql, login

LISTS = {
    "pupils": "pupils(first: $first, after: $after, includeInactive: true) { edges { cursor node { id forename surname } } pageInfo { hasNextPage endCursor } }",
    "staff": "staff(first: $first, after: $after, includeInactive: true) { edges { cursor node { id forename surname } } pageInfo { hasNextPage endCursor } }",
    "groups": "groups(first: $first, after: $after, includeInactive: true) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } }",
}


REFUSED = {("parent1", "staff"), ("pupil1", "staff")}


async def walk(
    client: httpx.AsyncClient, school: SchoolData, token: str, field: str, first: int
) -> list[dict[str, Any]]:
    """Every node of the list, page after page; asserts the page size and the cursors on the way."""
    query = f"query($first: Int, $after: String) {{ {LISTS[field]} }}"
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        body = await gql(client, school.slug, query, {"first": first, "after": after}, token=token)
        assert "errors" not in body, body
        page = body["data"][field]
        assert len(page["edges"]) <= first
        for edge in page["edges"]:
            cursor = json.loads(base64.urlsafe_b64decode(edge["cursor"]))
            for value in edge["node"].values():
                if field != "groups":
                    # The cursor of a list of people carries no one's name.
                    assert value not in cursor or value == edge["node"]["id"], (cursor, edge["node"])
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    raise AssertionError("the list never ended")


async def test_every_people_list_pages_to_its_end_for_each_role(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """Page after page, 2 rows at a time: the same rows in the same order as one page of everything."""
    school = await factory.school(pupils_per_group=4)
    await factory.school(pupils_per_group=2)  # a neighbour whose rows must never appear
    for username in ("admin", "teacher1", "senco", "parent1", "pupil1"):
        token = await login(client, school.slug, username)
        for field in LISTS:
            query = f"query($first: Int, $after: String) {{ {LISTS[field]} }}"
            whole = await gql(client, school.slug, query, {"first": 100, "after": None}, token=token)
            if "errors" in whole:
                # A list the role may not read at all is refused whole, never served a page at a time.
                assert (username, field) in REFUSED, whole
                assert whole["data"] == {field: None}
                assert [e["extensions"]["code"] for e in whole["errors"]] == ["FORBIDDEN"]
                continue
            assert (username, field) not in REFUSED
            expected = [edge["node"] for edge in whole["data"][field]["edges"]]
            assert await walk(client, school, token, field, first=2) == expected, (username, field)
            assert await walk(client, school, token, field, first=1) == expected, (username, field)
    admin = await login(client, school.slug, "admin")
    pupils = await walk(client, school, admin, "pupils", first=3)
    assert sorted(p["id"] for p in pupils) == sorted(
        p["id"] for p in (await walk(client, school, admin, "pupils", first=100))
    )
    assert len(pupils) == len(school.pupils) == 8
    assert [(p["surname"], p["forename"]) for p in pupils] == sorted(
        (p["surname"], p["forename"]) for p in pupils
    )
    assert len(await walk(client, school, admin, "staff", first=1)) == len(school.staff)


async def test_a_teacher_pages_through_only_their_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school(pupils_per_group=5)
    token = await login(client, school.slug, "teacher1")
    pupils = await walk(client, school, token, "pupils", first=2)
    in_a = {str(p.id) for key, p in school.pupils.items() if "B" not in key}
    assert len(pupils) == 5
    assert {p["forename"] for p in pupils} == {f"PatA{i}" for i in range(1, 6)}
    assert len(in_a) == 5


async def test_bad_connection_arguments_are_refused_with_their_codes(
    client: httpx.AsyncClient, factory: SchoolFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The client hears the code and the argument; nothing is logged as a failure (it is the client's)."""
    school = await factory.school()
    token = await login(client, school.slug, "admin")
    query = f"query($first: Int, $after: String) {{ {LISTS['pupils']} }}"
    someone_elses = base64.urlsafe_b64encode(json.dumps(["Pupil0001", "PatA1", "x"]).encode()).decode()
    for first, after, code in (
        (0, None, "INVALID_PAGE_SIZE"),
        (-1, None, "INVALID_PAGE_SIZE"),
        (1000, None, "INVALID_PAGE_SIZE"),
        (2, "not a cursor", "INVALID_CURSOR"),
        (2, someone_elses, "INVALID_CURSOR"),
        (2, base64.urlsafe_b64encode(b'["not-a-uuid"]').decode(), "INVALID_CURSOR"),
    ):
        body = await gql(client, school.slug, query, {"first": first, "after": after}, token=token)
        assert body["data"] == {"pupils": None}, body
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
        assert body["errors"][0]["extensions"]["field"] == (
            "first" if code == "INVALID_PAGE_SIZE" else "after"
        )
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

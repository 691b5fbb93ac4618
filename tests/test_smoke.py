"""End to end through the HTTP edge: sign in, read the viewer, see pupils."""

from __future__ import annotations

import httpx

from tests.factories.schools import SchoolFactory, gql, login


async def test_login_and_viewer(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    body = await gql(
        client,
        school.slug,
        "{ viewer { username roles } pupils { edges { node { forename upn } } } }",
        token=token,
    )
    assert body["data"]["viewer"] == {"username": "teacher1", "roles": ["STAFF"]}
    # teacher1 teaches class A: its three pupils and none of class B's; a teacher's view has no UPN.
    pupils = sorted((e["node"]["forename"], e["node"]["upn"]) for e in body["data"]["pupils"]["edges"])
    assert pupils == [("PatA1", None), ("PatA2", None), ("PatA3", None)]

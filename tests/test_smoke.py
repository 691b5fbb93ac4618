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
    print(body)

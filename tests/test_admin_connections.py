"""The trust's and the platform's connections page to their end: the operator's ``trusts`` and ``schools``
and a trust admin's ``accountEvents``, page after page, give the same rows in the same order as larger
pages; a caller who may not read them (anonymous, a token of another audience) is refused whole."""

from __future__ import annotations

from typing import Any

import httpx

from graph.core.relay import to_global_id
from tests.factories.schools import SchoolFactory, login
from tests.factories.trusts import TrustFactory, platform_login, post, trust_login


async def _walk(
    client: httpx.AsyncClient,
    path: str,
    field: str,
    args: str,
    first: int,
    token: str | None,
    **variables: Any,
) -> list[str] | None:
    """Every cursor of the connection, page after page; None when it is refused."""
    declared = "".join(f", ${name}: ID!" for name in variables)
    query = (
        f"query($first: Int, $after: String{declared}) {{ {field}({args}first: $first, after: $after) "
        "{ edges { cursor } pageInfo { hasNextPage endCursor } } }"
    )
    cursors: list[str] = []
    after: str | None = None
    for _ in range(1000):
        body = await post(client, path, query, {"first": first, "after": after, **variables}, token=token)
        if body["data"][field] is None:
            assert after is None and body["errors"], body
            return None
        page = body["data"][field]
        assert len(page["edges"]) <= first
        cursors += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(set(cursors)) == len(cursors)
            return cursors
        after = page["pageInfo"]["endCursor"]
    raise AssertionError(f"{field} never ended")


async def test_the_operators_lists_page_to_their_end(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    for _ in range(3):
        await trusts.trust()
        await factory.school()
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    trust = await trusts.trust()
    trust_token = await trust_login(client, trust.slug)
    for field, args in (("trusts", ""), ("schools", "")):
        whole = await _walk(client, "/platform/graphql", field, args, 100, token)
        assert whole is not None and len(whole) >= 3
        for first in (3, 7):
            assert await _walk(client, "/platform/graphql", field, args, first, token) == whole, (
                field,
                first,
            )
        for stranger in (None, trust_token):  # anonymous, and a trust's token at the platform
            assert await _walk(client, "/platform/graphql", field, args, 7, stranger) is None


async def test_a_trust_admins_account_events_page_to_their_end(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    trust = await trusts.trust()
    school = await factory.school()
    await trusts.join(school, trust)
    for username in ("admin", "teacher1", "teacher2", "pupil1", "parent1"):
        await login(client, school.slug, username)
    token = await trust_login(client, trust.slug)
    school_id = to_global_id("School", school.id)
    path = f"/trusts/{trust.slug}/graphql"
    whole = await _walk(client, path, "accountEvents", "schoolId: $s, ", 100, token, s=school_id)
    assert whole is not None and len(whole) >= 5
    for first in (1, 2):
        assert (
            await _walk(client, path, "accountEvents", "schoolId: $s, ", first, token, s=school_id) == whole
        )
    assert await _walk(client, path, "accountEvents", "schoolId: $s, ", 2, None, s=school_id) is None

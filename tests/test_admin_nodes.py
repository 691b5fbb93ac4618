"""``node(id)`` on the trust and platform endpoints: every object with an id implements Node and is fetched
by it (Relay's object identification, for the admin consoles' refetching), with the scope of the fields that
list it. An operator fetches any object of the platform; a trust admin only its own trust's; another trust's
admin, a school's token and an anonymous caller get null."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType

from common.settings import Settings
from graph.core.relay import to_global_id
from graph.platform.schema import build_schema as build_platform_schema
from graph.trust.schema import build_schema as build_trust_schema
from tests.factories import clock
from tests.factories.schools import SchoolFactory, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login, trust_gql, trust_login

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"

REFERENCES = {"SchoolRef", "TrustRef"}
"""Partial views carrying the ids of School and Trust, which ``node`` returns whole."""


def _typed_ids(value: Any) -> set[tuple[str, str]]:
    """Every (``__typename``, ``id``) pair anywhere in a response value."""
    found: set[tuple[str, str]] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("id"), str) and "__typename" in item:
                found.add((item["__typename"], item["id"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("build", [build_platform_schema, build_trust_schema], ids=["platform", "trust"])
def test_every_object_with_an_id_implements_node(build: Any) -> None:
    schema = build(Settings())
    without = [
        name
        for name, kind in schema._schema.type_map.items()
        if isinstance(kind, GraphQLObjectType)
        and "id" in kind.fields
        and name not in REFERENCES
        and not name.endswith("Payload")
        and "Node" not in {i.name for i in kind.interfaces}
    ]
    assert without == []


async def _platform(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> dict[str, Any]:
    """A trust with two schools and a licence covering both (with its first invoice), one school suspended,
    the other proposed to move to a second trust, and a registered partner: made by the operator's own
    mutations."""
    operator = await platform_login(client, (await trusts.operator()).username)
    trust, successor = await trusts.trust(), await trusts.trust()
    staying, moving = await factory.school(), await factory.school()
    for school in (staying, moving):
        await trusts.join(school, trust, effective_from=clock.platform_day() - timedelta(days=400))
    made = await platform_gql(
        client,
        """mutation($l: CreateLicenceInput!, $n: ProposeNovationInput!, $s: ID!, $p: RegisterPartnerInput!) {
          l: createLicence(input: $l) { errors { code } }
          n: proposeNovation(input: $n) { errors { code } }
          s: suspendSchool(input: {schoolId: $s, reason: DATA_BREACH}) { errors { code } }
          p: registerPartner(input: $p) { errors { code } } }""",
        {
            "l": {
                "licensee": {"trustId": to_global_id("Trust", trust.id)},
                "schoolIds": [to_global_id("School", s.id) for s in (staying, moving)],
                "termStart": str(clock.platform_day()),
                "annualFeePence": 120_000,
            },
            "n": {
                "schoolId": to_global_id("School", moving.id),
                "toTrust": successor.slug,
                "effectiveDate": str(clock.platform_day() + timedelta(days=40)),
                "reason": "TRUST_TRANSFER",
            },
            "s": to_global_id("School", staying.id),
            "p": {
                "name": "Nodes MIS",
                "contactName": "Dana",
                "contactEmail": "dana@mis.example",
                "privacyNoticeUrl": "https://mis.example/privacy",
                "allowedScopes": ["roster.read"],
            },
        },
        token=operator,
    )
    assert all(made["data"][alias]["errors"] == [] for alias in "lnsp"), made
    return {"operator": operator, "trust": trust, "successor": successor, "schools": (staying, moving)}


PLATFORM_LISTING = """{
  viewer { __typename id }
  trust(slug: $slug) { __typename id admins { __typename id }
    licences { __typename id invoices { __typename id } }
    schools { __typename id schoolAdmins { __typename id } suspensions { __typename id }
      novations { __typename id } } }
  partners { __typename id }
}"""


async def test_an_operator_fetches_every_platform_object_by_its_id(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    made = await _platform(client, factory, trusts)
    operator = made["operator"]
    listing = await platform_gql(
        client, "query($slug: String!) " + PLATFORM_LISTING, {"slug": made["trust"].slug}, token=operator
    )
    assert "errors" not in listing, listing
    listed = _typed_ids(listing["data"])
    kinds = {typename for typename, _ in listed}
    assert kinds == {
        "Operator", "Trust", "TrustAdmin", "Licence", "Invoice", "School", "SchoolAdmin", "Suspension",
        "Novation", "Partner",
    }  # fmt: skip
    for typename, global_id in listed:
        body = await platform_gql(client, NODE, {"id": global_id}, token=operator)
        assert body["data"]["node"] == {"__typename": typename, "id": global_id}, (typename, body)

    # Ids of nothing, or not ids at all, are null; so is another operator's account.
    other_operator = to_global_id("Operator", (await trusts.operator()).id)
    for unknown in (other_operator, to_global_id("Trust", made["schools"][0].id), "not-an-id"):
        body = await platform_gql(client, NODE, {"id": unknown}, token=operator)
        assert body == {"data": {"node": None}}, unknown

    # Nobody but an operator: anonymous, a trust admin's or a school admin's token.
    trust_id = to_global_id("Trust", made["trust"].id)
    anonymous = await platform_gql(client, NODE, {"id": trust_id})
    assert anonymous["data"]["node"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for token in (
        await trust_login(client, made["trust"].slug),
        await login(client, made["schools"][1].slug, "admin"),
    ):
        refused = await platform_gql(client, NODE, {"id": trust_id}, token=token)
        assert refused["data"]["node"] is None and refused["errors"], refused


TRUST_LISTING = """{
  viewer { __typename id }
  schools { __typename id schoolAdmins { __typename id } licence { __typename id invoices { __typename id } } }
  novations(openOnly: false) { __typename id }
}"""


async def test_a_trust_admin_fetches_its_own_trusts_objects_and_nothing_else(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    made = await _platform(client, factory, trusts)
    trust = made["trust"]
    token = await trust_login(client, trust.slug)
    listing = await trust_gql(client, trust.slug, TRUST_LISTING, token=token)
    assert "errors" not in listing, listing
    listed = _typed_ids(listing["data"])
    assert {typename for typename, _ in listed} == {
        "TrustAdmin", "School", "SchoolAdmin", "Licence", "Invoice", "Novation",
    }  # fmt: skip
    for typename, global_id in listed:
        body = await trust_gql(client, trust.slug, NODE, {"id": global_id}, token=token)
        assert body["data"]["node"] == {"__typename": typename, "id": global_id}, (typename, body)

    # The operator's kinds (a partner, a suspension) are not the trust's to fetch.
    platform_only = _typed_ids(
        (
            await platform_gql(
                client,
                "query($slug: String!) " + PLATFORM_LISTING,
                {"slug": trust.slug},
                token=made["operator"],
            )
        )["data"]
    )
    for typename, global_id in platform_only:
        if typename in {"Partner", "Suspension", "Operator", "Trust"}:
            body = await trust_gql(client, trust.slug, NODE, {"id": global_id}, token=token)
            assert body == {"data": {"node": None}}, typename

    # Another trust's admin gets null for every one of them (even the school moving to the successor is
    # not the successor's until the novation takes effect: only the novation itself is shared with it).
    stranger = await trusts.trust()
    theirs = await trust_login(client, stranger.slug)
    successor = await trust_login(client, made["successor"].slug)
    for typename, global_id in listed:
        body = await trust_gql(client, stranger.slug, NODE, {"id": global_id}, token=theirs)
        assert body == {"data": {"node": None}}, typename
        shared = await trust_gql(client, made["successor"].slug, NODE, {"id": global_id}, token=successor)
        assert (shared["data"]["node"] is not None) == (typename == "Novation"), (typename, shared)

    # An anonymous caller and a school's token are refused.
    school_id = to_global_id("School", made["schools"][1].id)  # [0] is suspended: its admin cannot sign in
    school_token = await login(client, made["schools"][1].slug, "admin")
    for caller in (None, school_token):
        refused = await trust_gql(client, trust.slug, NODE, {"id": school_id}, token=caller)
        assert refused["data"]["node"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["UNAUTHENTICATED"]

"""Integration partners and the licence terms (issue 14, LL 21): while a school's Super-Users have not accepted
the licence terms in force, a partner approved there is refused everything, as the school's users are, over
a real HTTP server with authlib's OAuth2 client obtaining the token; once they accept, it is served."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.runtime import Runtime
from tests.factories.apps import served
from tests.factories.audit import entries
from tests.factories.partners import AsyncOAuth2Client, PartnerFactory
from tests.factories.people import new_school
from tests.factories.schools import SchoolFactory, login
from tests.factories.trusts import TrustFactory
from tests.test_agreements import (  # noqa: F401 - _documents_removed: the published documents go afterwards
    ACCEPT,
    _documents_removed,
    field,
    nominate,
    operator_token,
    published,
)

PUPILS = "{ pupils(first: 50) { edges { node { surname } } } }"


@pytest.fixture
async def base_url(runtime: Runtime) -> AsyncIterator[str]:
    async with served(runtime) as url:
        yield url


async def test_a_partner_is_refused_until_the_school_accepts_the_licence_terms(
    client: httpx.AsyncClient,
    base_url: str,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
) -> None:
    """LL 21, LL 10.2: terms in force and not accepted: the partner's token is issued (as a user still signs
    in), but its OneRoster reads, its change feed, its roster push and its GraphQL reads are refused with
    TERMS_NOT_ACCEPTED and recorded as denied; after a Super-User accepts, the very next request is served."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    await nominate(client, operator, school, "admin")
    partners = PartnerFactory(client, trusts)
    partner = await partners.register(scopes=("roster.read", "roster.write"))
    assert (await partners.approve(school, partner, ["roster.read", "roster.write"]))["errors"] == []
    terms = await published(client, operator, "LICENCE_TERMS", "2027-1")

    async with AsyncOAuth2Client(
        client_id=partner.client_id, client_secret=partner.secret, base_url=base_url
    ) as oauth:
        token = await oauth.fetch_token(
            f"{base_url}/oauth/token", grant_type="client_credentials", school=school.slug
        )
        assert token["token_type"].lower() == "bearer"
        prefix = f"/schools/{school.slug}/ims/oneroster/v1p1"
        for method, path in (
            ("GET", "/users"),
            ("GET", "/students?limit=5"),
            ("GET", f"/users/{school.pupils['pupil1'].source_id or school.pupils['pupil1'].id}"),
            ("GET", "/changes?since=0"),
            ("POST", "/packages"),
        ):
            refused = await oauth.request(
                method, f"{prefix}{path}", content=b"PK", headers={"content-type": "application/zip"}
            )
            assert refused.status_code == 403, (path, refused.text)
            body = refused.json()
            assert body["imsx_codeMajor"] == "failure"
            assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "forbidden"
            assert "TERMS_NOT_ACCEPTED" in body["imsx_description"]
            assert "users" not in body and "surname" not in refused.text
        graphql = await oauth.post(f"/schools/{school.slug}/graphql", json={"query": PUPILS})
        assert graphql.status_code == 403
        assert graphql.json()["errors"][0]["extensions"] == {
            "code": "FORBIDDEN",
            "reason": "TERMS_NOT_ACCEPTED",
        }
        assert "data" not in graphql.json() or graphql.json()["data"] is None

        denied = await entries(engine, school.id, "partner.oneroster.read")
        assert len(denied) == 5
        assert {(e.outcome, e.actor_type, e.detail["reason"]) for e in denied} == {
            ("DENIED", "PARTNER", "TERMS_NOT_ACCEPTED")
        }
        assert not await entries(engine, school.id, "read.pupils")

        admin = await login(client, school.slug, "admin")
        accepted = await field(client, school, admin, ACCEPT, ids=[terms])
        assert accepted["errors"] == []

        served = await oauth.get(f"{prefix}/students?limit=100")
        assert served.status_code == 200, served.text
        assert sorted(s["familyName"] for s in served.json()["students"]) == sorted(
            p.surname for p in school.pupils.values()
        )
        read = await oauth.post(f"/schools/{school.slug}/graphql", json={"query": PUPILS})
        assert read.status_code == 200 and "errors" not in read.json(), read.text
        assert len(read.json()["data"]["pupils"]["edges"]) == len(school.pupils)

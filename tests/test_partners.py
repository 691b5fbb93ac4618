"""Integration partners (issue 14): registry, approval, OAuth2 client credentials and the OneRoster provider,
over HTTP with authlib's OAuth2 client, on real PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from server.runtime import Runtime
from tests.factories.partners import PartnerFactory, fetch_token, oauth_client
from tests.factories.schools import SchoolFactory
from tests.factories.trusts import TrustFactory

ONEROSTER = "/ims/oneroster/v1p1"


@pytest.fixture
def partners(client: httpx.AsyncClient, trusts: TrustFactory) -> PartnerFactory:
    return PartnerFactory(client, trusts)


async def test_an_approved_partner_reads_the_roster(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, runtime: Runtime
) -> None:
    school = await factory.school()
    partner = await partners.register()
    approved = await partners.approve(school, partner, ["roster.read"])
    assert approved["errors"] == [] and approved["partner"]["approval"]["scopes"] == ["roster.read"]
    async with oauth_client(client, partner) as oauth:
        token = await fetch_token(oauth, school)
        assert token["scope"] == "roster.read" and token["token_type"] == "Bearer"
        response = await oauth.get(f"/schools/{school.slug}{ONEROSTER}/students?limit=2&sort=familyName")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["students"]) == 2
    assert int(response.headers["x-total-count"]) == len(school.pupils)
    assert 'rel="next"' in response.headers["link"]

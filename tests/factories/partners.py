"""Integration partners, made through the product's own doors: the operator registers a partner and issues
its secret at the platform endpoint, a school admin approves it at the school endpoint, and the partner gets
its tokens from ``/oauth/token`` with authlib's OAuth2 client over the app (a real client library)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib 1.9 announces a move of its httpx integration to "httpx2", a package the project does not
    # use; the integration itself is unchanged, and the suite runs with warnings as errors.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.factories.schools import SchoolData, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login

REGISTER = """
mutation($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { partner { id clientId allowedScopes } errors { field code message } }
}"""
ISSUE_SECRET = """
mutation($id: ID!) {
  issuePartnerSecret(input: {partnerId: $id}) { clientSecret previousSecretsValidUntil errors { field code message } }
}"""
ADD_KEY = """
mutation($id: ID!, $jwk: JSON!) {
  addPartnerKey(input: {partnerId: $id, jwk: $jwk}) { key { kid } errors { field code message } }
}"""
APPROVE = """
mutation($id: ID!, $scopes: [String!]!) {
  approvePartner(input: {partnerId: $id, scopes: $scopes}) {
    partner { name approval { scopes } } errors { field code message }
  }
}"""
REVOKE = """
mutation($id: ID!) {
  revokePartner(input: {partnerId: $id}) { partner { name approval { scopes } } errors { field code message } }
}"""

TOKEN_URL = "http://testserver/oauth/token"

__all__ = ["AsyncOAuth2Client", "PartnerData", "PartnerFactory", "fetch_token", "oauth_client"]


@dataclass
class PartnerData:
    id: str
    client_id: str
    secret: str
    operator_token: str


class PartnerFactory:
    def __init__(self, client: httpx.AsyncClient, trusts: TrustFactory) -> None:
        self.client, self.trusts = client, trusts
        self._operator_token: str | None = None

    async def operator_token(self) -> str:
        if self._operator_token is None:
            operator = await self.trusts.operator()
            self._operator_token = await platform_login(self.client, operator.username)
        return self._operator_token

    async def register(
        self, *, name: str = "Acme MIS", scopes: Sequence[str] = ("roster.read",)
    ) -> PartnerData:
        token = await self.operator_token()
        body = await platform_gql(
            self.client,
            REGISTER,
            {
                "input": {
                    "name": name,
                    "contactName": "Dana Developer",
                    "contactEmail": "dana@acme.example",
                    "privacyNoticeUrl": "https://acme.example/privacy",
                    "allowedScopes": list(scopes),
                }
            },
            token=token,
        )
        payload = body["data"]["registerPartner"]
        assert payload["errors"] == [], payload
        partner = payload["partner"]
        secret = await self.issue_secret(partner["id"])
        return PartnerData(partner["id"], partner["clientId"], secret, token)

    async def issue_secret(self, partner_id: str) -> str:
        body = await platform_gql(
            self.client, ISSUE_SECRET, {"id": partner_id}, token=await self.operator_token()
        )
        payload = body["data"]["issuePartnerSecret"]
        assert payload["errors"] == [], payload
        secret: str = payload["clientSecret"]
        return secret

    async def approve(
        self, school: SchoolData, partner: PartnerData, scopes: Sequence[str]
    ) -> dict[str, Any]:
        admin = await login(self.client, school.slug, "admin")
        body = await gql(
            self.client, school.slug, APPROVE, {"id": partner.id, "scopes": list(scopes)}, token=admin
        )
        payload: dict[str, Any] = body["data"]["approvePartner"]
        return payload

    async def revoke(self, school: SchoolData, partner: PartnerData) -> dict[str, Any]:
        admin = await login(self.client, school.slug, "admin")
        body = await gql(self.client, school.slug, REVOKE, {"id": partner.id}, token=admin)
        payload: dict[str, Any] = body["data"]["revokePartner"]
        return payload


@asynccontextmanager
async def oauth_client(
    app_client: httpx.AsyncClient, partner: PartnerData, *, secret: Any = None, **kwargs: Any
) -> AsyncIterator[AsyncOAuth2Client]:
    """authlib's OAuth2 client for the partner, over the same app as ``app_client``."""
    async with AsyncOAuth2Client(
        client_id=partner.client_id,
        client_secret=secret or partner.secret,
        token_endpoint=TOKEN_URL,
        transport=app_client._transport,
        base_url="http://testserver",
        **kwargs,
    ) as client:
        yield client


async def fetch_token(
    client: AsyncOAuth2Client, school: SchoolData, scope: str | None = None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"grant_type": "client_credentials", "school": school.slug}
    if scope is not None:
        kwargs["scope"] = scope
    token: dict[str, Any] = await client.fetch_token(TOKEN_URL, **kwargs)
    return token

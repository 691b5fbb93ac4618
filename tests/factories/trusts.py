"""Factories for trusts, trust admins and operators, and helpers for the trust and platform endpoints.

Like the school factory, every call builds fresh rows with unique slugs and usernames, so tests never see
each other's trusts. Accounts are made ACTIVE with the shared test password.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.service import AuthRuntime
from models.platform import OperatorAccount, TrustAdminAccount
from subscriptions.provisioning import create_trust, join_trust
from tenants.context import bound
from tests.factories import clock
from tests.factories.schools import PASSWORD, SchoolData

_serial = itertools.count(1)


@dataclass
class TrustData:
    id: uuid.UUID
    slug: str
    name: str
    kind: str
    admins: dict[str, TrustAdminAccount] = field(default_factory=dict)


@dataclass
class OperatorData:
    id: uuid.UUID
    username: str


class TrustFactory:
    def __init__(self, engine: AsyncEngine, auth: AuthRuntime) -> None:
        self.engine, self.auth = engine, auth
        self._hash: str | None = None

    def password_hash(self) -> str:
        if self._hash is None:
            self._hash = self.auth.hasher.hash(PASSWORD)
        return self._hash

    async def trust(
        self, *, kind: str = "MULTI_ACADEMY_TRUST", admins: tuple[str, ...] = ("trustadmin",)
    ) -> TrustData:
        n = next(_serial)
        slug = f"trust-{uuid.uuid4().hex[:10]}"
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            trust = await create_trust(session, slug=slug, name=f"Test Trust {n}", kind=kind, now=clock.now())
            data = TrustData(trust.id, slug, trust.name, kind)
            for username in admins:
                account = TrustAdminAccount(
                    trust_id=trust.id,
                    username=username,
                    display_name=f"{username.title()} {n}",
                    email=f"{username}@{slug}.example",
                    password_hash=self.password_hash(),
                    status="ACTIVE",
                    created_at=clock.now(),
                )
                session.add(account)
                data.admins[username] = account
        return data

    async def operator(self) -> OperatorData:
        username = f"operator-{uuid.uuid4().hex[:8]}"
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            account = OperatorAccount(
                username=username,
                display_name="Olive Operator",
                email=f"{username}@platform.example",
                password_hash=self.password_hash(),
                status="ACTIVE",
                created_at=clock.now(),
            )
            session.add(account)
        return OperatorData(account.id, username)

    async def join(self, school: SchoolData, trust: TrustData, *, effective_from: date | None = None) -> None:
        """Make ``trust`` the school's trust from ``effective_from`` (default: a year ago)."""
        now = clock.now()
        start = effective_from or date(now.year - 1, now.month, 1)
        async with (
            AsyncSession(self.engine, expire_on_commit=False) as session,
            session.begin(),
            bound(session, [school.id]),
        ):
            await join_trust(session, school.id, trust.id, effective_from=start, now=now)

    async def trust_admin(self, trust: TrustData, username: str) -> TrustAdminAccount:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            return (
                await session.execute(
                    select(TrustAdminAccount).where(
                        TrustAdminAccount.trust_id == trust.id, TrustAdminAccount.username == username
                    )
                )
            ).scalar_one()


async def post(
    client: httpx.AsyncClient,
    path: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    expect_status: int | None = 200,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(path, json={"query": query, "variables": variables or {}}, headers=headers)
    if expect_status is not None:
        assert response.status_code == expect_status, response.text
    body: dict[str, Any] = response.json()
    return body


async def platform_gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    return await post(client, "/platform/graphql", query, variables, token=token)


async def trust_gql(
    client: httpx.AsyncClient,
    slug: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    return await post(client, f"/trusts/{slug}/graphql", query, variables, token=token)


ADMIN_LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { accessToken refreshToken errors { field code message } }
}
"""


async def platform_login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    body = await platform_gql(client, ADMIN_LOGIN, {"u": username, "p": password})
    payload = body["data"]["login"]
    assert payload["errors"] == [], payload
    token: str = payload["accessToken"]
    return token


async def trust_login(
    client: httpx.AsyncClient, slug: str, username: str = "trustadmin", password: str = PASSWORD
) -> str:
    body = await trust_gql(client, slug, ADMIN_LOGIN, {"u": username, "p": password})
    payload = body["data"]["login"]
    assert payload["errors"] == [], payload
    token: str = payload["accessToken"]
    return token

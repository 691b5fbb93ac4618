"""Operating the server: liveness and readiness (the database and the migrations' head), and the sign-in
throttle keyed by (school, address) with the client's address taken from trusted proxies only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from server.app import create_app
from server.caller import forwarded_client
from server.database import DatabaseUrls, create_engine, runtime_url_for
from server.health import migrations_head
from server.migrate import upgrade
from server.runtime import Runtime, build_runtime
from tests.factories.databases import scratch_database
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory

LOGIN = """mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) {
  accessToken errors { code } } }"""


def _client(runtime: Runtime, address: str = "192.0.2.10") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _with(runtime: Runtime, **changes: Any) -> Runtime:
    settings = dataclasses.replace(runtime.settings, **changes)
    return build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)


@pytest.fixture
async def database_down(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The runtime with its database unreachable (nothing listens on port 1)."""
    engine = create_engine(
        make_url("postgresql+asyncpg://schoolgraph_app@127.0.0.1:1/none"), runtime.settings
    )
    yield build_runtime(runtime.settings, engine, runtime.auth.keys, clock=runtime.clock)
    await engine.dispose()


async def test_ready_when_the_database_answers_at_the_migrations_head(client: httpx.AsyncClient) -> None:
    head = migrations_head()
    assert (await client.get("/livez")).json() == {"status": "ok"}
    for path in ("/readyz", "/healthz"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "database": "up",
            "migrations": {"database": head, "code": head},
        }


async def test_not_ready_while_the_database_is_down(database_down: Runtime) -> None:
    """/healthz used to answer ok with the database down; it and /readyz now answer 503, while /livez
    still answers (the process is alive: restarting it would not help)."""
    async with _client(database_down) as client:
        assert (await client.get("/livez")).status_code == 200
        for path in ("/readyz", "/healthz"):
            response = await client.get(path)
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable" and body["database"] == "down"
            assert "Traceback" not in response.text


async def test_not_ready_while_the_database_is_behind_the_code(
    runtime: Runtime, owner_engine: AsyncEngine, database_urls: DatabaseUrls
) -> None:
    """A deploy whose migration step has not run: the database answers, at an older revision, and the
    replica says so instead of failing on its first request."""
    async with scratch_database(owner_engine, database_urls.owner) as owner_url:
        await anyio.to_thread.run_sync(lambda: upgrade(owner_url, runtime.settings, "0006"))
        engine = create_engine(runtime_url_for(owner_url, runtime.settings), runtime.settings, pool_size=1)
        try:
            behind = build_runtime(runtime.settings, engine, runtime.auth.keys, clock=runtime.clock)
            async with _client(behind) as client:
                response = await client.get("/readyz")
                assert response.status_code == 503
                assert response.json() == {
                    "status": "unavailable",
                    "database": "up",
                    "migrations": {"database": "0006", "code": migrations_head()},
                }
        finally:
            await engine.dispose()


async def _login(
    client: httpx.AsyncClient, school: SchoolData, username: str, password: str, **headers: str
) -> str | None:
    response = await client.post(
        f"/schools/{school.slug}/graphql",
        json={"query": LOGIN, "variables": {"u": username, "p": password}},
        headers={name.replace("_", "-"): value for name, value in headers.items()},
    )
    payload = response.json()["data"]["login"]
    found: str | None = payload["accessToken"] or payload["errors"][0]["code"]
    return found


async def test_failed_tries_at_one_school_do_not_lock_out_another_schools_users_from_the_same_address(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    """LRS 5.11's per-address throttle counts per school: a trust's schools behind one network address
    (or one provider's NAT) each keep their own count."""
    limited = _with(runtime, address_failure_limit=3)
    school, neighbour = await factory.school(), await factory.school()
    async with _client(limited, "198.51.100.20") as client:
        for username in ("teacher1", "teacher2", "nobody"):
            assert await _login(client, school, username, "wrong password guess") == "INVALID_CREDENTIALS"
        # The address is now refused at this school, even with the right password...
        assert await _login(client, school, "admin", PASSWORD) == "TOO_MANY_ATTEMPTS"
        # ...and not at the other school, from the very same address.
        token = await _login(client, neighbour, "teacher1", PASSWORD)
        assert token is not None and token != "TOO_MANY_ATTEMPTS" and len(token) > 40


async def test_the_client_address_comes_from_trusted_proxies_only(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    """Behind a trusted proxy, each forwarded client has its own count; a peer that is not a trusted proxy
    cannot choose its address by sending X-Forwarded-For."""
    proxied = _with(runtime, address_failure_limit=2, trusted_proxies=("10.0.0.0/8",))
    school = await factory.school()
    async with _client(proxied, "10.0.0.5") as proxy:
        for _ in range(2):
            failed = await _login(proxy, school, "teacher1", "wrong", x_forwarded_for="203.0.113.1")
            assert failed == "INVALID_CREDENTIALS"
        assert (
            await _login(proxy, school, "admin", PASSWORD, x_forwarded_for="203.0.113.1")
            == "TOO_MANY_ATTEMPTS"
        )
        # Another client behind the same proxy is not affected.
        assert len(await _login(proxy, school, "admin", PASSWORD, x_forwarded_for="203.0.113.2") or "") > 40
    async with _client(proxied, "192.0.2.99") as direct:
        for n in range(2):
            spoofed = f"203.0.113.{100 + n}"  # a new address each time: would dodge the count if believed
            assert (
                await _login(direct, school, "teacher2", "wrong", x_forwarded_for=spoofed)
                == "INVALID_CREDENTIALS"
            )
        assert (
            await _login(direct, school, "admin", PASSWORD, x_forwarded_for="203.0.113.200")
            == "TOO_MANY_ATTEMPTS"
        )


def test_forwarded_for_is_read_from_the_right_past_trusted_proxies() -> None:
    trusted = ("10.0.0.0/8", "192.168.1.1")
    assert forwarded_client("10.0.0.1", "6.6.6.6, 203.0.113.5", trusted) == "203.0.113.5"
    assert forwarded_client("10.0.0.1", "203.0.113.5, 192.168.1.1", trusted) == "203.0.113.5"
    assert forwarded_client("10.0.0.1", "not-an-ip, 203.0.113.5", trusted) == "203.0.113.5"
    assert forwarded_client("10.0.0.1", "203.0.113.5, junk", trusted) == "10.0.0.1"
    assert forwarded_client("192.0.2.1", "203.0.113.5", trusted) == "192.0.2.1"
    assert forwarded_client("10.0.0.1", None, trusted) == "10.0.0.1"
    assert forwarded_client("10.0.0.1", "203.0.113.5", ()) == "10.0.0.1"

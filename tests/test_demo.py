"""`make run` end to end: the real command serves the demo, and every demo role signs in at every school."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import REPO_ROOT
from server import demo
from server.database import DatabaseUrls

PASSWORD = "violet harbour lanterns 8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def demo_server(
    owner_engine: AsyncEngine, database_urls: DatabaseUrls, tmp_path: os.PathLike[str]
) -> AsyncIterator[str]:
    # A database of this run's own, so that concurrent runs on one server never drop each other's.
    demo_db = f"demo_{uuid.uuid4().hex[:12]}"
    autocommit = owner_engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{demo_db}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{demo_db}"'))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_urls.owner.set(database=demo_db).render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(tmp_path),
        "SCHOOLGRAPH_PORT": str(port),
        "SCHOOLGRAPH_DEMO_PASSWORD": PASSWORD,
        "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
        "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
        "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - our own interpreter; Popen only starts it
        [sys.executable, "-m", "server.cli", "serve", "--demo"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.poll() is not None:
                    break
                try:
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        yield base
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
        async with autocommit.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{demo_db}" WITH (FORCE)'))
    assert "Password for every demo user" in output
    for spec in demo.SCHOOLS:
        assert f"/schools/{spec.slug}/graphql" in output


LOGIN = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken errors { code } } }"
VIEWER = "{ viewer { username roles } school { name } }"


async def test_each_demo_role_signs_in_at_each_demo_school(demo_server: str) -> None:
    """LL 4.3: the demo's school admin, staff, pupils and parent each sign in at each school's own URL."""
    expected_roles = {"admin": "SCHOOL_ADMIN", "teacher1": "STAFF", "teacher2": "STAFF", "pupil1": "PUPIL",
                      f"pupil{demo.PUPILS_PER_SCHOOL}": "PUPIL", "parent1": "PARENT"}  # fmt: skip
    async with httpx.AsyncClient(base_url=demo_server) as client:
        for spec in demo.SCHOOLS:
            url = f"/schools/{spec.slug}/graphql"
            for username, role in expected_roles.items():
                login = (
                    await client.post(url, json={"query": LOGIN, "variables": {"u": username, "p": PASSWORD}})
                ).json()
                assert login["data"]["login"]["errors"] == [], (spec.slug, username, login)
                token = login["data"]["login"]["accessToken"]
                viewer = (
                    await client.post(
                        url, json={"query": VIEWER}, headers={"authorization": f"Bearer {token}"}
                    )
                ).json()
                assert viewer["data"] == {
                    "viewer": {"username": username, "roles": [role]},
                    "school": {"name": spec.name},
                }
            teacher = (
                await client.post(url, json={"query": LOGIN, "variables": {"u": "teacher1", "p": PASSWORD}})
            ).json()
            token = teacher["data"]["login"]["accessToken"]
            pupils = (
                await client.post(
                    url,
                    json={"query": "{ pupils { edges { node { id } } } }"},
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert len(pupils["data"]["pupils"]["edges"]) == demo.PUPILS_PER_SCHOOL // 2
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert jwks["keys"] and all("d" not in key for key in jwks["keys"])

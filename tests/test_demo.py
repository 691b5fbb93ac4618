"""`make run` end to end: the real command serves the demo, and every demo role signs in at every school."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import anyio
import httpx
import pytest
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import REPO_ROOT
from server import demo
from server.database import DatabaseUrls
from tests.factories.databases import scratch_database

PASSWORD = "violet harbour lanterns 8"


READY_WITHIN = 120.0
"""Seconds the command may take to migrate, seed and listen on a busy machine before the test fails."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Output:
    """The server's output, read line by line as it comes and kept for the checks.

    Read on a thread of its own: an undrained pipe fills up with the access log and stalls the server.
    ``listening`` is set once uvicorn says it is accepting connections, or when the output ends (the
    process exited), whichever comes first.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if "Uvicorn running on" in line:
                self.listening.set()
        self.listening.set()

    def text(self) -> str:
        return "".join(self.lines)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@pytest.fixture
async def demo_server(
    owner_engine: AsyncEngine, database_urls: DatabaseUrls, tmp_path: os.PathLike[str]
) -> AsyncIterator[str]:
    async with scratch_database(owner_engine, database_urls.owner) as demo_db:
        async for base in _serve_demo(demo_db, tmp_path):
            yield base


async def _serve_demo(database: URL, data_dir: os.PathLike[str]) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(data_dir),
        "SCHOOLGRAPH_PORT": str(port),
        "SCHOOLGRAPH_DEMO_PASSWORD": PASSWORD,
        "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
        "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
        "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
    }
    # Two steps, as `make run` and the compose file take them: the owner migrates, the server never does.
    not_migrated = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-m", "server.cli", "serve"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
    )
    assert not_migrated.returncode == 2, not_migrated
    assert "schoolgraph db upgrade" in " ".join(not_migrated.stdout.split()), not_migrated.stdout
    upgraded = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-m", "server.cli", "db", "upgrade"], cwd=REPO_ROOT, env=env, capture_output=True
        )
    )
    assert upgraded.returncode == 0, upgraded
    process = subprocess.Popen(  # noqa: ASYNC220 - our own interpreter; Popen only starts it
        [sys.executable, "-m", "server.cli", "serve", "--demo"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = _Output(process.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready when the server says it listens; then it must answer its health check.
        listening = await anyio.to_thread.run_sync(output.listening.wait, READY_WITHIN)
        assert listening and process.poll() is None, f"the demo server did not start:\n{output.text()}"
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{base}/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "ok"), output.text()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        output.join(timeout=30)
        process.stdout.close()
    printed = output.text()
    assert "Password for every demo user" in printed
    for spec in demo.SCHOOLS:
        assert f"/schools/{spec.slug}/graphql" in printed
    assert f"Integration partner {demo.DEMO_PARTNER}" in printed and "/oauth/token" in printed
    for trust in demo.TRUSTS:
        assert f"trust admin {demo.TRUST_ADMIN} at {base}/trusts/{trust.slug}/graphql" in printed
    assert f"Platform operator {demo.OPERATOR} at {base}/platform/graphql" in printed


LOGIN = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken errors { code } } }"
VIEWER = "{ viewer { username roles } school { name } }"


async def test_each_demo_role_signs_in_at_each_demo_school(demo_server: str) -> None:
    """The demo's school admin, staff, pupils and parent each sign in at each school's own URL."""
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
                # Documents accepted (LL 21, LL 3.1): a field no pending acceptance would let through.
                ladders = (
                    await client.post(
                        url,
                        json={"query": "{ ladders(first: 1) { edges { cursor } } }"},
                        headers={"authorization": f"Bearer {token}"},
                    )
                ).json()
                assert "errors" not in ladders, (spec.slug, username, ladders)
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


async def test_the_demo_leaves_a_few_pupils_without_consent(demo_server: str) -> None:
    """LL 6.3.2: the demo's pupils without a parent's consent cannot sign in, and each school's consent
    report names exactly them; the others have consent (pupil1's given digitally by parent1)."""
    missing = {f"pupil{n}" for n in demo.WITHOUT_CONSENT}
    async with httpx.AsyncClient(base_url=demo_server) as client:
        for spec in demo.SCHOOLS:
            url = f"/schools/{spec.slug}/graphql"

            async def login(username: str, url: str = url) -> dict[str, Any]:
                body = await client.post(
                    url, json={"query": LOGIN, "variables": {"u": username, "p": PASSWORD}}
                )
                payload: dict[str, Any] = body.json()["data"]["login"]
                return payload

            for username in sorted(missing):
                assert [e["code"] for e in (await login(username))["errors"]] == ["PARENTAL_CONSENT_REQUIRED"]
            admin = (await login("admin"))["accessToken"]
            query = "{ consentReport { counts { withoutConsent } withoutConsent { account { username } } } }"
            report = (
                await client.post(url, json={"query": query}, headers={"authorization": f"Bearer {admin}"})
            ).json()["data"]["consentReport"]
            assert report["counts"]["withoutConsent"] == len(missing)
            assert {p["account"]["username"] for p in report["withoutConsent"]} == missing
            # LL 3.1: nobody accepted the user policies for them either; the school accepted its terms.
            query = "{ acceptanceReport { licenceAcceptedAt outstanding { document { kind } accounts { username } } } }"
            acceptances = (
                await client.post(url, json={"query": query}, headers={"authorization": f"Bearer {admin}"})
            ).json()["data"]["acceptanceReport"]
            assert acceptances["licenceAcceptedAt"] is not None
            assert {
                o["document"]["kind"]: {a["username"] for a in o["accounts"]}
                for o in acceptances["outstanding"]
            } == {kind: missing for kind in ("ACCEPTABLE_USE", "LRS_AGREEMENT", "PRIVACY_NOTICE")}


async def test_the_demo_partner_gets_a_token_and_reads_oneroster_over_a_real_socket(
    demo_server: str, tmp_path: os.PathLike[str]
) -> None:
    """The seeded "Demo MIS" partner, with the client id and secret the demo printed, gets a token from
    /oauth/token with authlib's OAuth2 client over a real socket and reads oakfield-primary's students
    through the OneRoster provider; riverside-academy never approved it."""
    from tests.factories.partners import AsyncOAuth2Client

    client_id, secret = (Path(tmp_path) / "demo-partner.txt").read_text().split()
    async with AsyncOAuth2Client(client_id, secret, base_url=demo_server) as oauth:
        token = await oauth.fetch_token(
            f"{demo_server}/oauth/token", grant_type="client_credentials", school=demo.OAKFIELD.slug
        )
        assert token["scope"] == "roster.read"
        students = await oauth.get(f"/schools/{demo.OAKFIELD.slug}/ims/oneroster/v1p1/students?limit=100")
        elsewhere = await oauth.get(f"/schools/{demo.RIVERSIDE.slug}/ims/oneroster/v1p1/students")
    assert students.status_code == 200, students.text
    assert len(students.json()["students"]) == demo.PUPILS_PER_SCHOOL
    assert students.headers["x-total-count"] == str(demo.PUPILS_PER_SCHOOL)
    assert elsewhere.status_code == 401


async def test_the_demo_trust_admins_and_operator_sign_in_at_their_endpoints(demo_server: str) -> None:
    """The demo's trust admin signs in at each trust's URL and sees exactly that trust's schools (and
    nothing at the other trust's, whose admin has the same username); its operator signs in at the
    platform and sees both trusts. Each endpoint of the three has someone to try it as."""
    login = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken errors { code } } }"
    expected = {
        "oakfield-learning-trust": {demo.OAKFIELD.slug, demo.RIVERSIDE.slug},
        "hillshire-county-council": {demo.HILLCREST.slug},
    }
    async with httpx.AsyncClient(base_url=demo_server) as client:

        async def ask(url: str, query: str, token: str | None = None) -> dict[str, Any]:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            body: dict[str, Any] = (await client.post(url, json={"query": query}, headers=headers)).json()
            return body

        async def signed_in(url: str, username: str) -> str:
            response = await client.post(
                url, json={"query": login, "variables": {"u": username, "p": PASSWORD}}
            )
            payload = response.json()["data"]["login"]
            assert payload["errors"] == [], (url, payload)
            token: str = payload["accessToken"]
            return token

        tokens = {}
        for slug, schools in expected.items():
            url = f"/trusts/{slug}/graphql"
            tokens[slug] = await signed_in(url, demo.TRUST_ADMIN)
            body = await ask(url, "{ viewer { username } schools { slug } }", tokens[slug])
            assert body["data"]["viewer"] == {"username": demo.TRUST_ADMIN}
            assert {s["slug"] for s in body["data"]["schools"]} == schools
        elsewhere = await ask(
            "/trusts/hillshire-county-council/graphql",
            "{ schools { slug } }",
            tokens["oakfield-learning-trust"],
        )
        assert not (elsewhere.get("data") or {}).get("schools"), elsewhere
        operator = await signed_in("/platform/graphql", demo.OPERATOR)
        body = await ask("/platform/graphql", "{ viewer { username } trusts { nodes { slug } } }", operator)
        assert body["data"]["viewer"] == {"username": demo.OPERATOR}
        assert {t["slug"] for t in body["data"]["trusts"]["nodes"]} == set(expected)

# ruff: noqa: S603, S607 - node and npm, found on PATH, with fixed arguments of this test
"""The client libraries' real behaviour against a real server (uvicorn on 127.0.0.1): graphql-request
(sign-in, a connection paged to its end by its cursors, an error code), Apollo Client with
apollo-upload-client (a File becomes a GraphQL multipart request) and Apollo's persisted-query link
(hash, PersistedQueryNotFound, document), and relay-compiler over schema.graphql (@refetchable on the
Node types, a @connection). The npm packages are pinned in tests/clients/package-lock.json and installed
at test time into tests/clients/node_modules (git-ignored); without node or the registry the tests are
skipped, saying why.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from common.settings import REPO_ROOT
from server.persisted import APQ_STORE, sha256_hex
from server.runtime import Runtime
from tests.factories.apps import served
from tests.factories.schools import PASSWORD, SchoolFactory, gql, login

CLIENTS = REPO_ROOT / "tests" / "clients"


def _node_packages() -> str | None:
    """Why the Node tests cannot run here, or None once the pinned packages are installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed here"
    if not (CLIENTS / "node_modules" / "relay-compiler").exists():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, capture_output=True, text=True, check=False
        )
        if installed.returncode != 0:
            return f"the pinned npm packages could not be installed: {installed.stderr.strip()[-300:]}"
    return None


MISSING = _node_packages()
needs_node = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture
async def base_url(runtime: Runtime) -> AsyncIterator[str]:
    async with served(runtime) as url:
        yield url


@needs_node
async def test_graphql_request_and_apollo_with_uploads_and_persisted_queries(
    base_url: str, factory: SchoolFactory
) -> None:
    school = await factory.school(pupils_per_group=4)
    process = await asyncio.create_subprocess_exec(
        "node", "clients.mjs", base_url, school.slug, "admin", PASSWORD,
        cwd=CLIENTS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    got = json.loads(stdout)

    async with httpx.AsyncClient(base_url=base_url) as client:
        token = await login(client, school.slug, "admin")
        everyone = await gql(
            client, school.slug, "{ pupils(first: 100) { edges { node { id } } } }", token=token
        )
        listing = await gql(
            client,
            school.slug,
            "{ content(first: 100, subject: null) { edges { node { id title } } } }",
            token=token,
        )
    # graphql-request paged the pupils two at a time to the end: every pupil once, in the server's order.
    assert got["pupils"] == [edge["node"]["id"] for edge in everyone["data"]["pupils"]["edges"]]
    assert len(got["pupils"]) == 8
    assert got["badPageSize"] == "INVALID_PAGE_SIZE"
    # Apollo's upload link: the file arrived as a file and is the school's content now.
    upload = got["upload"]
    assert upload["errors"] == []
    assert upload["content"]["fileName"] == "spellings.txt" and upload["content"]["byteSize"] == 47
    assert {"id": upload["content"]["id"], "title": "From Apollo"} in [
        edge["node"] for edge in listing["data"]["content"]["edges"]
    ]
    # Apollo's persisted-query link: the hash alone, then (PersistedQueryNotFound) the document with it.
    persisted = got["persisted"]
    assert persisted["username"] == "admin"
    first, second = persisted["requests"]
    digest = first["body"]["extensions"]["persistedQuery"]["sha256Hash"]
    assert "query" not in first["body"]
    assert second["body"]["query"] and sha256_hex(second["body"]["query"]) == digest
    assert APQ_STORE.get(digest) == second["body"]["query"]


@needs_node
def test_relay_compiler_accepts_refetchable_node_types_and_connections(tmp_path: Path) -> None:
    output = tmp_path / "__generated__"
    output.mkdir()
    config = json.loads((CLIENTS / "relay.config.json").read_text())
    config.update(
        src=str(CLIENTS / "src"), schema=str(REPO_ROOT / "schema.graphql"), artifactDirectory=str(output)
    )
    (tmp_path / "relay.config.json").write_text(json.dumps(config))
    compiled = subprocess.run(
        [str(CLIENTS / "node_modules" / ".bin" / "relay-compiler"), str(tmp_path / "relay.config.json")],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    refetch = (output / "ClassViewLadderRefetchQuery.graphql.js").read_text()
    assert "node(id: $id)" in refetch and "...ClassView_ladder" in refetch
    assert (output / "ClassViewPupilsPaginationQuery.graphql.js").exists()

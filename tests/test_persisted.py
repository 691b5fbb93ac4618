"""Persisted queries (Apollo's APQ protocol, and registered operations that production can require), GET
caching where it is safe, and response compression negotiated by Accept-Encoding."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
import zstandard

from common.settings import SettingsError, load_settings
from server.app import create_app
from server.persisted import APQ_STORE
from server.runtime import Runtime, build_runtime
from tests.factories.schools import SchoolData, SchoolFactory, login

PUBLIC = "query SchoolName { school { name slug } }"


def _sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def _client(runtime: Runtime, **changes: Any) -> httpx.AsyncClient:
    settings = dataclasses.replace(runtime.settings, **changes)
    app = create_app(build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock))
    transport = httpx.ASGITransport(app=app, client=(f"pq-{uuid.uuid4().hex[:12]}", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_automatic_persisted_queries_as_apollos_link_sends_them(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    query = f"query Mine{uuid.uuid4().hex[:8]} {{ school {{ slug }} }}"  # a document no test sent before
    digest = _sha(query)
    unknown = await client.post(url, json={"extensions": _apq(digest), "variables": {}})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.post(url, json={"query": query, "extensions": _apq(digest)})
    assert registered.json() == {"data": {"school": {"slug": school.slug}}}
    by_hash = await client.post(url, json={"extensions": _apq(digest)})
    assert by_hash.json() == {"data": {"school": {"slug": school.slug}}}
    assert APQ_STORE.get(digest) == query
    wrong = await client.post(url, json={"query": query, "extensions": _apq("0" * 64)})
    assert wrong.status_code == 400 and _code(wrong) == "PERSISTED_QUERY_HASH_MISMATCH"
    malformed = await client.post(url, json={"extensions": {"persistedQuery": {"version": 2}}})
    assert malformed.status_code == 400 and _code(malformed) == "BAD_REQUEST"


async def test_production_takes_gets_by_hash_and_lets_shared_caches_keep_anonymous_ones(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    school: SchoolData = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    async with _client(runtime, environment="production") as client:
        await client.post(url, json={"query": PUBLIC, "extensions": _apq(_sha(PUBLIC))})
        params = {"extensions": json.dumps(_apq(_sha(PUBLIC))), "operationName": "SchoolName"}
        anonymous = await client.get(url, params=params)
        assert anonymous.status_code == 200
        assert anonymous.json() == {"data": {"school": {"name": school.name, "slug": school.slug}}}
        assert anonymous.headers["cache-control"] == "public, max-age=60"
        assert "Authorization" in anonymous.headers["vary"] and "Accept-Encoding" in anonymous.headers["vary"]
        token = await login(client, school.slug, "teacher1")
        signed_in = await client.get(url, params=params, headers={"authorization": f"Bearer {token}"})
        assert signed_in.status_code == 200 and signed_in.headers["cache-control"] == "no-store"
        text = await client.get(url, params={"query": PUBLIC})
        assert text.status_code == 405 and text.headers["allow"] == "POST"
        mutation = "mutation { logout { ok } }"
        await client.post(url, json={"query": mutation, "extensions": _apq(_sha(mutation))})
        by_get = await client.get(url, params={"extensions": json.dumps(_apq(_sha(mutation)))})
        assert by_get.status_code == 405  # GET runs queries only


async def test_registered_operations_only(runtime: Runtime, factory: SchoolFactory, tmp_path: Path) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    operations = tmp_path / "operations.json"
    operations.write_text(json.dumps({_sha(PUBLIC): PUBLIC}))
    async with _client(
        runtime, persisted_queries="registered", registered_operations_file=operations
    ) as client:
        by_hash = await client.post(url, json={"extensions": _apq(_sha(PUBLIC))})
        assert by_hash.json()["data"]["school"]["slug"] == school.slug
        by_text = await client.post(url, json={"query": PUBLIC})
        assert by_text.json()["data"]["school"]["slug"] == school.slug
        other = "{ school { name } }"
        refused = await client.post(url, json={"query": other})
        assert refused.status_code == 400 and _code(refused) == "PERSISTED_QUERY_REQUIRED"
        learnt = await client.post(url, json={"query": other, "extensions": _apq(_sha(other))})
        assert _code(learnt) == "PERSISTED_QUERY_REQUIRED"
        unknown = await client.post(url, json={"extensions": _apq(_sha(other))})
        assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"0" * 64: PUBLIC}))
    with pytest.raises(RuntimeError, match="does not have that SHA-256"):
        _client(runtime, persisted_queries="registered", registered_operations_file=wrong)
    with pytest.raises(SettingsError, match="SCHOOLGRAPH_REGISTERED_OPERATIONS"):
        load_settings({"SCHOOLGRAPH_PERSISTED_QUERIES": "registered"})
    async with _client(runtime, persisted_queries="off") as client:
        off = await client.post(url, json={"extensions": _apq(_sha(PUBLIC))})
        assert off.status_code == 400 and _code(off) == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_responses_are_compressed_as_the_client_asks(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    token = await login(client, school.slug, "teacher1")
    body = {"query": "{ ladders(first: 50) { edges { node { id title rungs { code statement } } } } }"}
    headers = {"authorization": f"Bearer {token}"}
    plain = await client.post(url, json=body, headers={**headers, "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 10_000
    decoders = {
        "zstd": zstandard.ZstdDecompressor().decompressobj().decompress,
        "br": brotli.decompress,
        "gzip": gzip.decompress,
    }
    for accept, expected in (
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br", "br"),
        ("zstd;q=0, gzip", "gzip"),
    ):
        async with client.stream(
            "POST", url, json=body, headers={**headers, "accept-encoding": accept}
        ) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.headers["content-encoding"] == expected, accept
        assert "Accept-Encoding" in response.headers["vary"]
        assert len(raw) < len(plain.content) / 3
        assert json.loads(decoders[expected](raw)) == plain.json()
    small = await client.post(url, json={"query": "{ __typename }"}, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers and small.json() == {"data": {"__typename": "Query"}}

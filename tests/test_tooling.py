"""What frontend tools need from the server: the standard introspection query in development (GraphiQL's
docs, GraphQL Code Generator and graphql-inspector from a URL), none in production, and GraphiQL served
by the app itself with its vendored assets and no storage of tokens in the browser."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import build_client_schema, build_schema, get_introspection_query

from common.settings import REPO_ROOT
from server.app import create_app
from server.runtime import Runtime, build_runtime
from tests.factories.schools import SchoolData, SchoolFactory
from tests.factories.trusts import TrustFactory

INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)
"""The query GraphiQL 3, GraphQL Code Generator and graphql-inspector send (graphql-js's, every option on)."""


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(f"tool-{uuid.uuid4().hex[:12]}", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def production(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(runtime.settings, environment="production")
    async with _client(build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)) as c:
        yield c


async def _endpoints(factory: SchoolFactory, trusts: TrustFactory) -> dict[str, str]:
    school: SchoolData = await factory.school()
    trust = await trusts.trust()
    return {
        "schema.graphql": f"/schools/{school.slug}/graphql",
        "trust.graphql": f"/trusts/{trust.slug}/graphql",
        "platform.graphql": "/platform/graphql",
    }


async def test_development_answers_the_standard_introspection_query(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Anonymous, at each endpoint: the result builds a client schema with exactly the types and fields of
    the exported SDL, and the custom scalars carry their specifiedByURL for codegen to map."""
    for exported, url in (await _endpoints(factory, trusts)).items():
        response = await client.post(url, json={"query": INTROSPECTION})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        served = build_client_schema(body["data"])
        sdl = build_schema((REPO_ROOT / exported).read_text(encoding="utf-8"))
        assert set(served.type_map) == set(sdl.type_map)
        for name, kind in sdl.type_map.items():
            fields = getattr(kind, "fields", None)
            if fields is not None and not name.startswith("__"):
                assert set(getattr(served.type_map[name], "fields", {})) == set(fields), name
        date = served.type_map["DateTime"]
        assert (
            getattr(date, "specified_by_url", None)
            == "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
        )
        assert getattr(date, "description", "")


async def test_production_refuses_introspection(
    production: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    for url in (await _endpoints(factory, trusts)).values():
        response = await production.post(url, json={"query": INTROSPECTION})
        body = response.json()
        assert response.status_code == 400
        assert "data" not in body
        assert any("introspection" in error["message"].lower() for error in body["errors"])


async def test_graphiql_is_served_from_the_app_with_no_cdn_and_no_stored_tokens(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school()
    page = await client.get(f"/schools/{school.slug}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "http://" not in html and "https://" not in html  # nothing from another origin
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assets = [
        "/graphiql-assets/react.production.min.js",
        "/graphiql-assets/react-dom.production.min.js",
        "/graphiql-assets/graphiql.min.js",
        "/graphiql-assets/graphiql.min.css",
        "/graphiql-assets/start.js",
    ]
    for asset in assets:
        assert f'"{asset}"' in html
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert served.content == (REPO_ROOT / "server/static/graphiql" / asset.rsplit("/", 1)[1]).read_bytes()
    start = (await client.get("/graphiql-assets/start.js")).text
    # GraphiQL's storage is an in-memory Map and headers are not persisted: no token reaches localStorage.
    assert "storage: storage" in start and "shouldPersistHeaders: false" in start
    code = [line for line in start.splitlines() if not line.lstrip().startswith("//")]
    assert "new Map()" in start and not any("localStorage" in line for line in code)


async def test_production_serves_no_graphiql(production: httpx.AsyncClient, factory: SchoolFactory) -> None:
    school = await factory.school()
    page = await production.get(f"/schools/{school.slug}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert (await production.get("/graphiql-assets/graphiql.min.js")).status_code == 404

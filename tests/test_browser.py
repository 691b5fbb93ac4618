"""A frontend on another origin: CORS from an allow-list, and the browser session whose refresh token lives
in an HttpOnly cookie that only a request passing the CSRF checks can use. Bearer tokens stay the default."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.runtime import Runtime, build_runtime
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory

APP = "https://app.example.org"
EVIL = "https://evil.example"
LOGIN = """mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) {
  accessToken refreshToken csrfToken errors { code } } }"""
REFRESH = """mutation($t: String) { refreshToken(input: {refreshToken: $t}) {
  accessToken refreshToken csrfToken errors { field code message } } }"""
VIEWER = "{ viewer { username } }"


@pytest.fixture
async def browser(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(runtime.settings, cors_origins=(APP,))
    app = create_app(build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock))
    transport = httpx.ASGITransport(app=app, client=(f"web-{uuid.uuid4().hex[:12]}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _set_cookies(response: httpx.Response) -> dict[str, Any]:
    """The response's Set-Cookie headers by name: value and attributes (lower-cased)."""
    found: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            flags = {part.strip().lower() for part in header.split(";")[1:]}
            found[name] = {"value": morsel.value, "flags": flags, "header": header}
    return found


async def _post(
    client: httpx.AsyncClient, school: SchoolData, query: str, variables: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(
        f"/schools/{school.slug}/graphql",
        json={"query": query, "variables": variables},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


async def test_cors_answers_listed_origins_only(browser: httpx.AsyncClient, factory: SchoolFactory) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization, x-csrf-token, apollo-require-preflight",
    }
    allowed = await browser.options(url, headers={"origin": APP, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert {"authorization", "x-csrf-token", "apollo-require-preflight"} <= {
        h.strip() for h in allowed.headers["access-control-allow-headers"].lower().split(",")
    }
    refused = await browser.options(url, headers={"origin": EVIL, **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    ours = await _post(browser, school, VIEWER, {}, origin=APP)
    assert ours.headers["access-control-allow-origin"] == APP
    assert ours.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in ours.headers["access-control-expose-headers"].lower()
    assert ours.json() == {"data": {"viewer": None}}
    theirs = await _post(browser, school, VIEWER, {}, origin=EVIL)
    assert "access-control-allow-origin" not in theirs.headers
    assert "access-control-allow-credentials" not in theirs.headers


async def test_without_an_allow_list_no_origin_is_answered(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school()
    response = await client.options(
        f"/schools/{school.slug}/graphql",
        headers={"origin": APP, "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 405


async def test_bearer_tokens_stay_the_default(browser: httpx.AsyncClient, factory: SchoolFactory) -> None:
    school = await factory.school()
    response = await _post(browser, school, LOGIN, {"u": "teacher1", "p": PASSWORD})
    payload = response.json()["data"]["login"]
    assert payload["refreshToken"] and payload["csrfToken"] is None
    assert _set_cookies(response) == {}


async def test_a_browser_session_keeps_the_refresh_token_in_an_httponly_cookie_behind_csrf(
    browser: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school, other = await factory.school(), await factory.school()
    name = f"__Host-schoolgraph-refresh-{school.slug}"
    login = await _post(
        browser, school, LOGIN, {"u": "teacher1", "p": PASSWORD}, origin=APP, x_session_transport="cookie"
    )
    payload = login.json()["data"]["login"]
    assert payload["errors"] == [] and payload["accessToken"]
    assert payload["refreshToken"] is None  # never readable by the page's script
    cookie = _set_cookies(login)[name]
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= cookie["flags"]
    assert not any(flag.startswith("domain") for flag in cookie["flags"])
    jar = f"{name}={cookie['value']}"
    csrf = payload["csrfToken"]

    # The cookie alone is refused: no CSRF header, a wrong one, or the right one from an unlisted origin.
    for headers in (
        {"origin": APP},
        {"origin": APP, "x_csrf_token": "guess"},
        {"origin": EVIL, "x_csrf_token": csrf},
    ):
        refused = await _post(browser, school, REFRESH, {"t": None}, cookie=jar, **headers)
        body = refused.json()["data"]["refreshToken"]
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("refreshToken", "CSRF_FAILED")]
        assert body["accessToken"] is None and _set_cookies(refused) == {}

    # The app's request: a new access token that works, and the cookie rotated with a new CSRF token.
    refreshed = await _post(browser, school, REFRESH, {"t": None}, cookie=jar, origin=APP, x_csrf_token=csrf)
    body = refreshed.json()["data"]["refreshToken"]
    assert body["errors"] == [] and body["refreshToken"] is None
    rotated = _set_cookies(refreshed)[name]
    assert rotated["value"] != cookie["value"] and body["csrfToken"] not in (None, csrf)
    viewer = await browser.post(
        f"/schools/{school.slug}/graphql",
        json={"query": VIEWER},
        headers={"authorization": f"Bearer {body['accessToken']}"},
    )
    assert viewer.json() == {"data": {"viewer": {"username": "teacher1"}}}

    # The rotated cookie is worth nothing at another school, even named as that school's.
    elsewhere = await _post(
        browser, other, REFRESH, {"t": None},
        cookie=f"__Host-schoolgraph-refresh-{other.slug}={rotated['value']}", origin=APP,
        x_csrf_token=body["csrfToken"],
    )  # fmt: skip
    assert elsewhere.json()["data"]["refreshToken"]["accessToken"] is None

    # Logging out clears the cookie.
    jar = f"{name}={rotated['value']}"
    logout = await browser.post(
        f"/schools/{school.slug}/graphql",
        json={"query": "mutation { logout { ok } }"},
        headers={"authorization": f"Bearer {body['accessToken']}", "cookie": jar, "origin": APP},
    )
    assert logout.json() == {"data": {"logout": {"ok": True}}}
    cleared = _set_cookies(logout)[name]
    assert cleared["value"] == "" and "max-age=0" in cleared["flags"]
    # And the session is over: the old cookie no longer refreshes.
    after = await _post(
        browser, school, REFRESH, {"t": None}, cookie=jar, origin=APP, x_csrf_token=body["csrfToken"]
    )
    assert after.json()["data"]["refreshToken"]["accessToken"] is None

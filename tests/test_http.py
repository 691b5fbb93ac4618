"""The HTTP edge over a real socket: uvicorn serves the app on 127.0.0.1 and httpx talks to it.

What is proved here is what only the HTTP layer can get wrong: the published signing keys, the
GraphQL-over-HTTP rules (POST JSON, GET for queries only, status codes and media types), tenant resolution
(404 unknown, 403 suspended), security headers, and that an unexpected error never leaks its internals.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import auth.service
import server.http
from common.settings import Settings
from graph.core.relay import to_global_id
from models import Account
from models.platform import PlatformAuditEntry
from server.jobs import run_jobs
from server.runtime import Runtime, build_runtime
from tenants.context import bind
from tenants.scoping import scoped
from tests.factories import clock
from tests.factories.apps import served
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory
from tests.factories.trusts import TrustData, TrustFactory, platform_gql, platform_login

GRAPHQL_RESPONSE = "application/graphql-response+json"
Restore = Callable[[], Awaitable[None]]
"""Gives a school its access back through the platform."""
LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { accessToken refreshToken errors { field code message } }
}
"""


async def _serve(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with served(runtime) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client of the app served by uvicorn on a free port of 127.0.0.1."""
    async for client in _serve(runtime):
        yield client


async def post(
    http: httpx.AsyncClient,
    slug: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"authorization": f"Bearer {token}"} if token else {}
    all_headers.update(headers or {})
    return await http.post(
        f"/schools/{slug}/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
    )


async def sign_in(http: httpx.AsyncClient, slug: str, username: str) -> str:
    response = await post(http, slug, LOGIN, {"u": username, "p": PASSWORD})
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["login"]
    assert payload["errors"] == []
    token: str = payload["accessToken"]
    return token


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def assert_request_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    return body


# --- signing keys ---------------------------------------------------------------------------------------


async def test_jwks_publishes_public_keys_only(http: httpx.AsyncClient) -> None:
    """The signing keys are published for verification, never their private part"""
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert media_type(response) == "application/json"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["x"] and key["y"]
        assert key.get("use") == "sig" and key.get("alg") == "ES256"
        assert "d" not in key
    # Cacheable for verifiers: one Cache-Control header, not contradicted by the default no-store.
    assert response.headers.get_list("cache-control") == ["public, max-age=300"]


async def test_token_kid_is_in_jwks_and_verifies_with_it(
    http: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """An access token is signed by a published key, so anyone can verify it with the JWKS alone"""
    school = await factory.school()
    token = await sign_in(http, school.slug, "teacher1")
    header_segment = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4)))
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"]).claims
    assert claims["aud"] == f"school:{school.id}"
    assert claims["sub"] == str(school.accounts["teacher1"].id)


# --- GraphQL over HTTP ----------------------------------------------------------------------------------


async def test_post_json_query(http: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """The school's own URL serves GraphQL over HTTP: POST with JSON"""
    school = await factory.school()
    response = await post(http, school.slug, "{ school { name slug } }")
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"school": {"name": school.name, "slug": school.slug}}}
    assert response.headers["x-request-id"]
    # A client that only accepts application/json gets it.
    legacy = await post(http, school.slug, "{ school { slug } }", headers={"accept": "application/json"})
    assert legacy.status_code == 200 and media_type(legacy) == "application/json"
    assert legacy.json() == {"data": {"school": {"slug": school.slug}}}


async def test_get_query(http: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Queries may be sent with GET"""
    school = await factory.school()
    token = await sign_in(http, school.slug, "teacher1")
    response = await http.get(
        f"/schools/{school.slug}/graphql",
        params={
            "query": "query Me($n: Int) { viewer { username } pupils(first: $n) { edges { node { id } } } }",
            "variables": json.dumps({"n": 2}),
            "operationName": "Me",
        },
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["viewer"] == {"username": "teacher1"}
    assert len(body["data"]["pupils"]["edges"]) == 2


async def test_get_mutation_is_refused_and_not_run(
    http: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A mutation over GET (a link, a prefetch) is refused with 405 and changes nothing, e.g. no logout"""
    school = await factory.school()
    token = await sign_in(http, school.slug, "teacher1")
    response = await http.get(
        f"/schools/{school.slug}/graphql",
        params={"query": "mutation { logout { ok } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    body = assert_request_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in body["errors"][0]["message"]
    assert response.headers["allow"] == "POST"
    # The session is intact.
    me = await post(http, school.slug, "{ viewer { username } }", token=token)
    assert me.json()["data"]["viewer"] == {"username": "teacher1"}
    # A document holding a query and a mutation: the mutation is still refused over GET.
    response = await http.get(
        f"/schools/{school.slug}/graphql",
        params={
            "query": "query Q { viewer { username } } mutation M { logout { ok } }",
            "operationName": "M",
        },
        headers={"authorization": f"Bearer {token}"},
    )
    assert_request_error(response, 405, "METHOD_NOT_ALLOWED")
    me = await post(http, school.slug, "{ viewer { username } }", token=token)
    assert me.json()["data"]["viewer"] == {"username": "teacher1"}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code", "words"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST", "not valid JSON"),
        (b'["query"]', "application/json", 400, "BAD_REQUEST", "must be a JSON object"),
        (b'{"variables": {}}', "application/json", 400, "BAD_REQUEST", "'query' parameter is required"),
        (
            b'{"query": "{ school { slug } }", "variables": [1]}',
            "application/json",
            400,
            "BAD_REQUEST",
            "'variables'",
        ),
        (
            b'{"query": "{ school { slug } }", "operationName": 3}',
            "application/json",
            400,
            "BAD_REQUEST",
            "'operationName'",
        ),
        (b"{ school { slug } }", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"),
    ],
)
async def test_malformed_requests_are_precise_json_errors(
    http: httpx.AsyncClient,
    factory: SchoolFactory,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
    words: str,
) -> None:
    """A request the endpoint cannot run gets a JSON error saying what is wrong, never a 500"""
    school = await factory.school()
    response = await http.post(
        f"/schools/{school.slug}/graphql", content=content, headers={"content-type": content_type}
    )
    body = assert_request_error(response, status, code)
    assert media_type(response) == GRAPHQL_RESPONSE
    assert words in body["errors"][0]["message"]


async def test_get_with_bad_variables(http: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """GET parameters are validated like a POST body"""
    school = await factory.school()
    response = await http.get(
        f"/schools/{school.slug}/graphql", params={"query": "{ school { slug } }", "variables": "{nope"}
    )
    body = assert_request_error(response, 400, "BAD_REQUEST")
    assert "'variables'" in body["errors"][0]["message"]


async def test_syntax_and_validation_errors_are_400(http: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """A document that does not parse or validate is a request error: 400, graphql-response+json"""
    school = await factory.school()
    for query in ("{ school { slug }", "{ school { nonexistent } }"):
        response = await post(http, school.slug, query)
        assert response.status_code == 400, response.text
        assert media_type(response) == GRAPHQL_RESPONSE
        body = response.json()
        assert "data" not in body and body["errors"]
        assert "Traceback" not in response.text
    # Legacy application/json clients get 200 with the errors, as GraphQL-over-HTTP allows.
    legacy = await post(http, school.slug, "{ school { slug }", headers={"accept": "application/json"})
    assert legacy.status_code == 200 and media_type(legacy) == "application/json"
    assert legacy.json()["errors"]


async def test_unknown_operation_name_is_a_request_error(
    http: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """An operationName the document does not define is a 400 naming it, not a 500"""
    school = await factory.school()
    document = "query A { school { slug } } query B { school { name } }"
    response = await http.post(
        f"/schools/{school.slug}/graphql", json={"query": document, "operationName": "Nope"}
    )
    body = assert_request_error(response, 400, "BAD_REQUEST")
    assert "Nope" in body["errors"][0]["message"]
    response = await http.post(
        f"/schools/{school.slug}/graphql", json={"query": document, "operationName": "B"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"school": {"name": school.name}}}


async def test_refused_field_keeps_data_null_with_status_200(
    http: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """A non-admin's refused mutation is a FORBIDDEN field error (data null, 200), not a request error"""
    school = await factory.school()
    token = await sign_in(http, school.slug, "teacher1")
    response = await post(
        http,
        school.slug,
        "mutation($p: ID!) { issueParentCode(input: {pupilId: $p}) { code } }",
        {"p": "UHVwaWw6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"},
        token=token,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["issueParentCode"]


# --- tenants --------------------------------------------------------------------------------------------


async def test_unknown_school_is_404(http: httpx.AsyncClient) -> None:
    """An address that names no school is 404"""
    response = await post(http, f"no-such-school-{uuid.uuid4().hex[:8]}", "{ school { slug } }")
    body = assert_request_error(response, 404, "NOT_FOUND")
    assert "No school" in body["errors"][0]["message"]


async def _suspend(http: httpx.AsyncClient, operator: str, school: SchoolData) -> Restore:
    """An operator suspends the school on a data breach (LL-A 9.1); lifting it restores access."""
    school_id = to_global_id("School", school.id)
    done = await platform_gql(
        http,
        "mutation($s: ID!) { suspendSchool(input: {schoolId: $s, reason: DATA_BREACH}) { errors { code } } }",
        {"s": school_id},
        token=operator,
    )
    assert done["data"]["suspendSchool"]["errors"] == []

    async def lift() -> None:
        lifted = await platform_gql(
            http,
            "mutation($s: ID!) { liftSuspension(input: {schoolId: $s}) { errors { code } } }",
            {"s": school_id},
            token=operator,
        )
        assert lifted["data"]["liftSuspension"]["errors"] == []

    return lift


async def _leave_unpaid(
    http: httpx.AsyncClient,
    operator: str,
    school: SchoolData,
    trust: TrustData,
    engine: AsyncEngine,
    data_dir: Path,
) -> Restore:
    """The school's first invoice, due today, is still unpaid tomorrow when the jobs run (LL 15.4); paying
    restores access."""
    created = await platform_gql(
        http,
        "mutation($i: CreateLicenceInput!) { createLicence(input: $i) { licence { invoices { id } } "
        "errors { code } } }",
        {
            "i": {
                "licensee": {"trustId": to_global_id("Trust", trust.id)},
                "schoolIds": [to_global_id("School", school.id)],
                "termStart": str(clock.platform_day()),
                "firstInvoiceDueOn": str(clock.platform_day()),
                "annualFeePence": 120_000,
            }
        },
        token=operator,
    )
    assert created["data"]["createLicence"]["errors"] == [], created
    invoice = created["data"]["createLicence"]["licence"]["invoices"][0]["id"]
    report = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=data_dir,
        now=clock.now() + timedelta(days=1),
        steps=["non_payment"],
    )
    assert f"{school.id}:suspended" in report.step("non_payment").applied

    async def pay() -> None:
        paid = await platform_gql(
            http,
            'mutation($i: ID!) { recordPayment(input: {invoiceId: $i, reference: "BACS 1"}) { errors { code } } }',
            {"i": invoice},
            token=operator,
        )
        assert paid["data"]["recordPayment"]["errors"] == []

    return pay


async def _terminate(http: httpx.AsyncClient, operator: str, school: SchoolData) -> None:
    """An operator terminates the school for non-payment (LL 5.1.3): there is no way back."""
    done = await platform_gql(
        http,
        "mutation($i: TerminateSchoolInput!) { terminateSchool(input: $i) { errors { code } } }",
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "NON_PAYMENT",
                "confirmSlug": school.slug,
            }
        },
        token=operator,
    )
    assert done["data"]["terminateSchool"]["errors"] == []


@pytest.mark.parametrize(
    ("how", "status", "expected_reason"),
    [
        ("suspended", "suspended", "DATA_BREACH"),
        ("unpaid", "suspended", "LICENCE_UNPAID"),
        ("terminated", "terminated", "NON_PAYMENT"),
    ],
)
async def test_a_school_without_access_is_403_with_its_reason(
    http: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
    how: str,
    status: str,
    expected_reason: str,
) -> None:
    """A school that lost its access through the platform (an operator's suspension, an unpaid invoice,
    a termination) is refused at the edge with 403 and the reason, for a token issued before, a sign-in
    and a GET alike; once the suspension is lifted or the invoice paid, signing in works again."""
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    operator = await platform_login(http, (await trusts.operator()).username)
    token = await sign_in(http, school.slug, "admin")
    restore: Restore | None = None
    if how == "suspended":
        restore = await _suspend(http, operator, school)
    elif how == "unpaid":
        restore = await _leave_unpaid(http, operator, school, trust, engine, settings.data_dir)
    else:
        await _terminate(http, operator, school)
    for response in (
        await post(http, school.slug, "{ viewer { username } }", token=token),
        await post(http, school.slug, LOGIN, {"u": "admin", "p": PASSWORD}),
        await http.get(f"/schools/{school.slug}/graphql", params={"query": "{ school { slug } }"}),
    ):
        body = assert_request_error(response, 403, "FORBIDDEN")
        assert body["errors"][0]["extensions"]["reason"] == expected_reason
        assert status in body["errors"][0]["message"]
        assert response.headers["x-content-type-options"] == "nosniff"
    if restore is None:
        return
    await restore()
    again = await sign_in(http, school.slug, "admin")
    response = await post(http, school.slug, "{ viewer { username } }", token=again)
    assert response.json()["data"]["viewer"] == {"username": "admin"}


# --- headers and faults ---------------------------------------------------------------------------------


async def test_security_headers(http: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Every response carries the security headers (nosniff, no framing, no caching of data)"""
    school = await factory.school()
    for response in (
        await post(http, school.slug, "{ school { slug } }"),
        await post(http, "no-such-school", "{ school { slug } }"),
        await http.get("/.well-known/jwks.json"),
        await http.get("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        # HSTS only in production (tests run over plain HTTP).
        assert "strict-transport-security" not in response.headers
    graphql = await post(http, school.slug, "{ school { slug } }")
    assert graphql.headers.get_list("cache-control") == ["no-store"]


async def test_hsts_in_production(runtime: Runtime) -> None:
    """LL-S2 P2: in production every response enforces HTTPS through HSTS"""
    production = build_runtime(
        dataclasses.replace(runtime.settings, environment="production"),
        runtime.engine,
        runtime.auth.keys,
        clock=runtime.clock,
    )
    async for http in _serve(production):
        response = await http.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "includeSubDomains" in response.headers["strict-transport-security"]


async def test_unexpected_error_is_masked_with_a_request_id(
    http: httpx.AsyncClient, factory: SchoolFactory, monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine
) -> None:
    """An unexpected error is masked to a request id: no stack trace or internals reach the client"""
    school = await factory.school()

    async def explode(*args: Any, **kwargs: Any) -> Any:
        session = args[0]
        # A write before the failure: the request's transaction must roll it back.
        await session.execute(update(Account).where(Account.username == "teacher1").values(failed_logins=99))
        raise RuntimeError("secret internals: connection string postgres://app:hunter2@db")

    monkeypatch.setattr(auth.service, "login", explode)
    response = await post(
        http, school.slug, LOGIN, {"u": "teacher1", "p": PASSWORD}, headers={"x-request-id": "req-test-123"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-test-123"}
    assert "req-test-123" in error["message"]
    assert response.headers["x-request-id"] == "req-test-123"
    for leak in ("Traceback", "secret internals", "hunter2", "RuntimeError", 'File "'):
        assert leak not in response.text
    monkeypatch.undo()
    # Nothing the failed request wrote was kept.
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school.id])
        account = (
            await session.execute(scoped(Account, school.id).where(Account.username == "teacher1"))
        ).scalar_one()
    assert account.failed_logins == 0


async def test_failure_outside_graphql_is_a_masked_500(
    http: httpx.AsyncClient, factory: SchoolFactory, monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine
) -> None:
    """Even a failure before execution (tenant lookup) answers a masked 500 with a request id, and is
    recorded (LRS 5.1) in the platform log, no school's being known yet: ``request.failed`` with the
    code, status and path, by an anonymous caller, and nothing of the error's text."""
    school = await factory.school()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(server.http, "enter_school_as", broken)
    response = await post(http, school.slug, "{ school { slug } }")
    body = assert_request_error(response, 500, "INTERNAL_SERVER_ERROR")
    request_id = body["errors"][0]["extensions"]["requestId"]
    assert request_id and request_id in body["errors"][0]["message"]
    assert response.headers["x-request-id"] == request_id
    for leak in ("Traceback", "secret internals", "RuntimeError"):
        assert leak not in response.text
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        stmt = select(PlatformAuditEntry).where(PlatformAuditEntry.request_id == request_id)
        recorded = list((await session.execute(stmt)).scalars())
    assert [(e.action, e.outcome, e.actor_type) for e in recorded] == [
        ("request.failed", "FAILED", "ANONYMOUS")
    ]
    assert recorded[0].detail == {
        "code": "INTERNAL_SERVER_ERROR",
        "status": 500,
        "path": f"/schools/{school.slug}/graphql",
    }


async def test_request_id_from_the_client_only_when_plain(
    http: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """The request id is one the client can quote; a forged, odd one is replaced"""
    school = await factory.school()
    plain = await post(http, school.slug, "{ school { slug } }", headers={"x-request-id": "abc-123"})
    assert plain.headers["x-request-id"] == "abc-123"
    odd = await post(http, school.slug, "{ school { slug } }", headers={"x-request-id": "x" * 200})
    assert odd.headers["x-request-id"] != "x" * 200
    assert len(odd.headers["x-request-id"]) == 32

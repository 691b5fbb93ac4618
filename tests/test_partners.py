"""Integration partners (issue 14): the operator's registry, a school's approval, OAuth 2.0 client
credentials with revocation, introspection and metadata, and the OneRoster 1.1 provider, over HTTP with
authlib's OAuth2 client obtaining the tokens, on real PostgreSQL."""

from __future__ import annotations

import base64
import io
import logging
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.tokens import SigningKeys
from common.clock import FixedClock
from graph.core.relay import to_global_id
from models import Pupil
from models.audit import AuditEntry
from models.platform import PlatformAuditEntry
from roster.export import export_oneroster
from roster.service import school_ref
from server.runtime import Runtime
from tenants.context import bind
from tests.factories.apps import app_client, with_settings
from tests.factories.audit import sequence
from tests.factories.partners import (
    ADD_KEY,
    TOKEN_URL,
    PartnerData,
    PartnerFactory,
    fetch_token,
    oauth_client,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql

ONEROSTER = "/ims/oneroster/v1p1"
COLLECTIONS = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "students",
    "teachers",
    "enrollments",
    "demographics",
    "schools",
    "terms",
    "gradingPeriods",
)


@pytest.fixture
def partners(client: httpx.AsyncClient, trusts: TrustFactory) -> PartnerFactory:
    return PartnerFactory(client, trusts)


def roster_url(school: SchoolData, path: str) -> str:
    return f"/schools/{school.slug}{ONEROSTER}/{path}"


async def approved(
    partners: PartnerFactory, school: SchoolData, scopes: tuple[str, ...] = ("roster.read",), **kw: Any
) -> PartnerData:
    partner = await partners.register(scopes=kw.pop("allowed", scopes))
    payload = await partners.approve(school, partner, list(scopes))
    assert payload["errors"] == [], payload
    return partner


def basic(partner: PartnerData, secret: str | None = None) -> dict[str, str]:
    raw = f"{partner.client_id}:{secret or partner.secret}".encode()
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


async def token_request(
    client: httpx.AsyncClient, form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("/oauth/token", data=form, headers=headers or {})


# --- the registry and the school's approval ---------------------------------------------------------------


async def test_operator_registers_a_partner_and_bad_input_writes_nothing(
    client: httpx.AsyncClient, partners: PartnerFactory
) -> None:
    """Every problem of a registration is reported on its field, and nothing is registered."""
    token = await partners.operator_token()
    body = await platform_gql(
        client,
        "mutation($i: RegisterPartnerInput!) { registerPartner(input: $i) { partner { id } "
        "errors { field code } } }",
        {
            "i": {
                "name": " ",
                "contactName": "Dana",
                "contactEmail": "not-an-address",
                "privacyNoticeUrl": "http://insecure.example/privacy",
                "allowedScopes": ["roster.read", "everything"],
            }
        },
        token=token,
    )
    payload = body["data"]["registerPartner"]
    assert payload["partner"] is None
    assert {(e["field"], e["code"]) for e in payload["errors"]} == {
        ("name", "INVALID"),
        ("contactEmail", "INVALID"),
        ("privacyNoticeUrl", "INVALID"),
        ("allowedScopes", "UNKNOWN_SCOPE"),
    }
    listed = await platform_gql(client, "{ partners { name } }", token=token)
    assert " " not in [p["name"] for p in listed["data"]["partners"]]


async def test_only_operators_register_and_only_school_admins_approve(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """Default deny: a school admin at the platform endpoint, a teacher, and an anonymous caller get
    nothing of the registry, the directory or the approvals."""
    school = await factory.school()
    partner = await partners.register()
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    refused = await platform_gql(client, "{ partners { clientId } }", token=admin)
    assert refused["data"]["partners"] is None
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for token, code in ((teacher, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        listed = await gql(client, school.slug, "{ partnerDirectory { name } }", token=token)
        assert listed["data"]["partnerDirectory"] is None
        assert listed["errors"][0]["extensions"]["code"] == code
        tried = await gql(
            client,
            school.slug,
            'mutation($id: ID!) { approvePartner(input: {partnerId: $id, scopes: ["roster.read"]}) '
            "{ errors { code } } }",
            {"id": partner.id},
            token=token,
        )
        assert tried.get("data") is None or tried["data"]["approvePartner"] is None
        assert tried["errors"][0]["extensions"]["code"] == code
    directory = await gql(
        client, school.slug, "{ partnerDirectory { clientId approval { scopes } } }", token=admin
    )
    mine = [p for p in directory["data"]["partnerDirectory"] if p["clientId"] == partner.client_id]
    assert mine == [{"clientId": partner.client_id, "approval": None}]


async def test_the_directory_says_exactly_what_each_scope_exposes(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """LL 10.2: a Super-User sees, per scope, the collections and fields it opens (generated from the
    provider's declarations) before approving a subset of the partner's scopes."""
    school = await factory.school()
    partner = await partners.register(scopes=("roster.read", "roster.extended.read", "progress.read"))
    admin = await login(client, school.slug, "admin")
    body = await gql(
        client,
        school.slug,
        "{ partnerDirectory { clientId scopes { scope exposes { api collection fields } } } }",
        token=admin,
    )
    entry = next(p for p in body["data"]["partnerDirectory"] if p["clientId"] == partner.client_id)
    scopes = {
        s["scope"]: {e["collection"]: e["fields"] for e in s["exposes"] if e["api"] == "ONEROSTER"}
        for s in entry["scopes"]
    }
    graphql = {
        s["scope"]: {e["collection"]: e["fields"] for e in s["exposes"] if e["api"] == "GRAPHQL"}
        for s in entry["scopes"]
    }
    assert "upn" in graphql["roster.read"]["Pupil"] and "pupils" in graphql["roster.read"]["Query"]
    assert "dateOfLeaving" not in graphql["roster.read"]["Pupil"]
    assert graphql["progress.read"] == {
        "Query": ["ladders", "ladder", "levelScale", "pupilProgress", "judgementHistory", "learningChanges"],
        **{k: v for k, v in graphql["progress.read"].items() if k != "Query"},
    }
    assert set(graphql["progress.read"]["PupilProgress"]) >= {"levels", "latest", "secureShare"}
    assert "note" not in graphql["progress.read"]["Judgement"]
    assert graphql["roster.extended.read"] == {}
    assert set(scopes) == {"roster.read", "roster.extended.read", "progress.read"}
    assert set(scopes["roster.read"]) == set(COLLECTIONS)
    assert "birthDate" in scopes["roster.read"]["demographics"]
    assert "metadata" not in scopes["roster.read"]["demographics"]
    assert scopes["roster.extended.read"] == {
        "demographics": [
            "metadata.uk.senStatus",
            "metadata.uk.pupilPremium",
            "metadata.uk.eal",
            "metadata.uk.lookedAfter",
        ]
    }
    beyond = await partners.approve(school, partner, ["roster.read", "roster.write"])
    assert [(e["field"], e["code"]) for e in beyond["errors"]] == [("scopes", "SCOPE_NOT_ALLOWED")]


# --- tokens ----------------------------------------------------------------------------------------------


async def test_client_secret_post_and_basic_both_get_a_token_bound_to_the_school(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, runtime: Runtime
) -> None:
    school = await factory.school()
    partner = await approved(partners, school, ("roster.read",), allowed=("roster.read", "progress.read"))
    async with oauth_client(client, partner, token_endpoint_auth_method="client_secret_post") as oauth:
        token = await fetch_token(oauth, school)
    assert token["scope"] == "roster.read" and token["expires_in"] == 900
    introspected = await client.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=basic(partner)
    )
    claims = introspected.json()
    assert claims["active"] is True
    assert claims["aud"] == f"school:{school.id}" and claims["client_id"] == partner.client_id
    assert claims["scope"] == "roster.read"


async def test_private_key_jwt_authenticates_and_an_assertion_is_used_once(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, clock: FixedClock
) -> None:
    """RFC 7523: the partner signs an assertion with its private key; the operator registered only the
    public key. A replayed assertion is refused."""
    school = await factory.school()
    partner = await approved(partners, school)
    private = ECKey.generate_key("P-256", auto_kid=True)

    def times() -> dict[str, int]:
        # The assertion's times on the suite's clock (the library would read the host's).
        now = int(clock.now().timestamp())
        return {"iat": now, "exp": now + 300}

    public = private.as_dict(private=False)
    added = await platform_gql(
        client, ADD_KEY, {"id": partner.id, "jwk": public}, token=partner.operator_token
    )
    assert added["data"]["addPartnerKey"]["errors"] == []
    leaked = await platform_gql(
        client,
        ADD_KEY,
        {"id": partner.id, "jwk": private.as_dict(private=True)},
        token=partner.operator_token,
    )
    assert leaked["data"]["addPartnerKey"]["errors"][0]["code"] == "INVALID_KEY"
    async with oauth_client(
        client,
        partner,
        secret=private,
        token_endpoint_auth_method=PrivateKeyJWT(TOKEN_URL, alg="ES256", claims=times()),
    ) as oauth:
        token = await fetch_token(oauth, school)
        response = await oauth.get(roster_url(school, "orgs"))
    assert token["scope"] == "roster.read"
    assert response.status_code == 200 and response.json()["orgs"][0]["name"] == school.name
    # The same assertion twice: the second is a replay.
    signed = PrivateKeyJWT(TOKEN_URL, alg="ES256", claims=times())
    assertion = signed.sign(
        type(
            "Auth",
            (),
            {"client_id": partner.client_id, "client_secret": private},
        )(),
        TOKEN_URL,
    )
    form = {
        "grant_type": "client_credentials",
        "school": school.slug,
        "client_id": partner.client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert (await token_request(client, form)).status_code == 200
    replay = await token_request(client, form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "authorization_code", "code": "x"}, True, 400, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "a", "password": "b"}, True, 400, "unsupported_grant_type"),
        ({}, True, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, True, 400, "invalid_request"),  # no school
        (
            {"grant_type": "client_credentials", "school": "SCHOOL", "scope": "roster.write"},
            True,
            400,
            "invalid_scope",
        ),
        (
            {"grant_type": "client_credentials", "school": "SCHOOL", "scope": "everything"},
            True,
            400,
            "invalid_scope",
        ),
        ({"grant_type": "client_credentials", "school": "no-such-school"}, True, 400, "invalid_target"),
        ({"grant_type": "client_credentials", "school": "SCHOOL"}, False, 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "school": "SCHOOL", "client_secret": "x"},
            True,
            400,
            "invalid_request",
        ),
    ],
)
async def test_bad_token_requests_get_the_rfc_error(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    form: dict[str, str],
    auth: bool,
    status: int,
    error: str,
) -> None:
    """RFC 6749 5.2 (and RFC 8707 for the school): each refusal has its error code, never a 500."""
    school = await factory.school()
    partner = await approved(partners, school, ("roster.read",), allowed=("roster.read", "roster.write"))
    filled = {k: (school.slug if v == "SCHOOL" else v) for k, v in form.items()}
    response = await token_request(client, filled, basic(partner) if auth else None)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert "access_token" not in response.json()


async def test_a_form_that_is_not_a_form_is_an_invalid_request(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    school = await factory.school()
    partner = await approved(partners, school)
    response = await client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "school": school.slug},
        headers=basic(partner),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    twice = await client.post(
        "/oauth/token",
        content=f"grant_type=client_credentials&school={school.slug}&school={school.slug}",
        headers={**basic(partner), "content-type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and "more than once" in twice.json()["error_description"]


async def test_a_wrong_secret_is_refused_audited_and_throttled(
    runtime: Runtime, engine: AsyncEngine, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Failed client authentication is counted against the address (refused with 429 once throttled)
    and recorded in the platform log with the client id it claimed, never the secret it tried."""
    strict = with_settings(runtime, address_failure_limit=3)
    school = await factory.school()
    async with app_client(strict) as client:
        partners = PartnerFactory(client, trusts)
        partner = await approved(partners, school)
        wrong = "wrong-" + uuid.uuid4().hex
        form = {"grant_type": "client_credentials", "school": school.slug}
        for _ in range(3):
            refused = await token_request(client, form, basic(partner, wrong))
            assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
            assert refused.headers["www-authenticate"].startswith("Basic ")
        throttled = await token_request(client, form, basic(partner))  # even the right secret, for now
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    async with AsyncSession(engine) as session:
        rows = (
            (
                await session.execute(
                    select(PlatformAuditEntry).where(
                        PlatformAuditEntry.action == "partner.client_authentication"
                    )
                )
            )
            .scalars()
            .all()
        )
    mine = [r for r in rows if r.detail.get("clientId") == partner.client_id]
    assert len(mine) == 3 and {r.outcome for r in mine} == {"DENIED"}
    assert all(wrong not in str(r.detail) and partner.secret not in str(r.detail) for r in mine)


async def test_a_rotated_secret_works_until_the_overlap_ends(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory, clock: FixedClock
) -> None:
    school = await factory.school()
    partner = await approved(partners, school)
    new_secret = await partners.issue_secret(partner.id)
    form = {"grant_type": "client_credentials", "school": school.slug}
    assert (await token_request(client, form, basic(partner))).status_code == 200  # the old, in the overlap
    assert (await token_request(client, form, basic(partner, new_secret))).status_code == 200
    clock.advance(timedelta(hours=24, seconds=1))
    old = await token_request(client, form, basic(partner))
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    assert (await token_request(client, form, basic(partner, new_secret))).status_code == 200


async def test_revoking_the_approval_refuses_the_very_next_request(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """LL 10.2: a school withdraws its approval and the partner's unexpired token stops working at once."""
    school = await factory.school()
    partner = await approved(partners, school)
    async with oauth_client(client, partner) as oauth:
        await fetch_token(oauth, school)
        assert (await oauth.get(roster_url(school, "users"))).status_code == 200
        revoked = await partners.revoke(school, partner)
        assert revoked["errors"] == [] and revoked["partner"]["approval"] is None
        refused = await oauth.get(roster_url(school, "users"))
        assert refused.status_code == 401
        assert refused.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
            "unauthorisedrequest"
        )
        again = await token_request(
            client, {"grant_type": "client_credentials", "school": school.slug}, basic(partner)
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_target"


async def test_rfc7009_revocation_and_rfc7662_introspection(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """A revoked token is refused; introspection tells its holder, and tells another client nothing."""
    school = await factory.school()
    partner = await approved(partners, school)
    other = await approved(partners, school)
    async with oauth_client(client, partner) as oauth:
        token = (await fetch_token(oauth, school))["access_token"]
    theirs = await client.post("/oauth/introspect", data={"token": token}, headers=basic(other))
    assert theirs.json() == {"active": False}
    mine = await client.post("/oauth/introspect", data={"token": token}, headers=basic(partner))
    assert mine.json()["active"] is True
    not_theirs = await client.post("/oauth/revoke", data={"token": token}, headers=basic(other))
    assert not_theirs.status_code == 200
    assert (
        await client.get(roster_url(school, "orgs"), headers={"authorization": f"Bearer {token}"})
    ).status_code == 200
    revoked = await client.post("/oauth/revoke", data={"token": token}, headers=basic(partner))
    assert revoked.status_code == 200
    after = await client.post("/oauth/introspect", data={"token": token}, headers=basic(partner))
    assert after.json() == {"active": False}
    refused = await client.get(roster_url(school, "orgs"), headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    garbage = await client.post("/oauth/revoke", data={"token": "not-a-token"}, headers=basic(partner))
    assert garbage.status_code == 200


async def test_server_metadata(client: httpx.AsyncClient) -> None:
    """RFC 8414: what a client library needs to find the endpoints and methods (validated by authlib's
    RFC 8414 validator when served over https, as in production)."""
    metadata = (await client.get("https://testserver/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == "https://testserver"
    assert metadata["token_endpoint"] == "https://testserver/oauth/token"
    assert metadata["revocation_endpoint"] == "https://testserver/oauth/revoke"
    assert metadata["introspection_endpoint"] == "https://testserver/oauth/introspect"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert "roster.read" in metadata["scopes_supported"]
    # Every URL it names is served (a service_documentation link to a page the server did not serve was,
    # until 2026-12-05): the key set, the endpoints answering a request without credentials as the RFCs
    # say (RFC 6749 5.2, RFC 7009 2.1, RFC 7662 2.1: invalid_client), not 404.
    urls = {key: value for key, value in metadata.items() if isinstance(value, str) and "://" in value}
    assert set(urls) == {
        "issuer",
        "token_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
    }
    assert (await client.get(urls["jwks_uri"])).json()["keys"]
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        response = await client.post(urls[key], data={"grant_type": "client_credentials", "token": "x"})
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", key


# --- isolation between schools and scopes -----------------------------------------------------------------


async def test_a_partner_approved_at_school_a_gets_nothing_at_school_b(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    mine, theirs = await factory.school(), await factory.school()
    partner = await approved(partners, mine)
    async with oauth_client(client, partner) as oauth:
        token = await fetch_token(oauth, mine)
        for collection in COLLECTIONS:
            response = await oauth.get(roster_url(theirs, collection))
            assert response.status_code == 401, (collection, response.text)
            assert theirs.name not in response.text
    refused = await token_request(
        client, {"grant_type": "client_credentials", "school": theirs.slug}, basic(partner)
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    # Nor at the other school's GraphQL endpoint: there it is no caller at all.
    body = await gql(
        client, theirs.slug, "{ pupils { edges { node { surname } } } }", token=token["access_token"]
    )
    assert body["data"]["pupils"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_every_collection_needs_roster_read(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """A token without roster.read (a partner approved for progress only) reads no collection; an
    anonymous caller neither."""
    school = await factory.school()
    partner = await approved(partners, school, ("progress.read",), allowed=("roster.read", "progress.read"))
    async with oauth_client(client, partner) as oauth:
        token = await fetch_token(oauth, school)
        assert token["scope"] == "progress.read"
        for collection in COLLECTIONS:
            response = await oauth.get(roster_url(school, collection))
            assert response.status_code == 403, collection
            assert response.json()["imsx_codeMajor"] == "failure"
            assert (await client.get(roster_url(school, collection))).status_code == 401


async def test_extended_data_only_with_the_scope_and_the_schools_opt_in(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    """LL-A 3.2: a partner sees pupils' extended data only while the school has opted in, and only with
    roster.extended.read approved."""
    school = await factory.school()
    basic_partner = await approved(partners, school, ("roster.read",))
    extended_partner = await approved(
        partners,
        school,
        ("roster.read", "roster.extended.read"),
        allowed=("roster.read", "roster.extended.read"),
    )

    async def metadata(partner: PartnerData) -> list[Any]:
        async with oauth_client(client, partner) as oauth:
            await fetch_token(oauth, school)
            response = await oauth.get(roster_url(school, "demographics"))
        assert response.status_code == 200, response.text
        return [d.get("metadata") for d in response.json()["demographics"]]

    assert set(map(str, await metadata(extended_partner))) == {"None"}  # not opted in yet
    admin = await login(client, school.slug, "admin")
    opted = await gql(
        client, school.slug, "mutation { optInToExtendedData { errors { code } } }", token=admin
    )
    assert opted["data"]["optInToExtendedData"]["errors"] == []
    assert set(map(str, await metadata(basic_partner))) == {"None"}
    shown = await metadata(extended_partner)
    assert shown and all(
        set(m) == {"uk.senStatus", "uk.pupilPremium", "uk.eal", "uk.lookedAfter"} for m in shown
    )


# --- the OneRoster provider -------------------------------------------------------------------------------


@pytest.fixture
async def reader(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> tuple[SchoolData, httpx.AsyncClient]:
    school = await factory.school(pupils_per_group=4)
    partner = await approved(partners, school)
    async with oauth_client(client, partner) as oauth:
        token = await fetch_token(oauth, school)
    client.headers["authorization"] = f"Bearer {token['access_token']}"
    return school, client


async def test_every_collection_and_object_in_the_specifications_shape(
    reader: tuple[SchoolData, httpx.AsyncClient],
) -> None:
    school, client = reader
    for collection in COLLECTIONS:
        response = await client.get(roster_url(school, collection))
        assert response.status_code == 200, (collection, response.text)
        objects = response.json()[collection]
        assert int(response.headers["x-total-count"]) == len(objects)
        if collection in ("academicSessions", "terms", "gradingPeriods"):  # the factory's school has none
            assert objects == []
            continue
        assert objects, collection
        first = objects[0]
        assert first["status"] == "active" and first["sourcedId"]
        single = await client.get(roster_url(school, f"{collection}/{first['sourcedId']}"))
        assert single.status_code == 200, (collection, single.text)
        (key,) = single.json()
        assert single.json()[key] == first
    users = (await client.get(roster_url(school, "users?limit=1000"))).json()["users"]
    pupil = school.pupils["pupil1"]
    student = next(u for u in users if u["sourcedId"] == (pupil.source_id or str(pupil.id)))
    assert student["role"] == "student" and student["familyName"] == pupil.surname
    assert student["orgs"][0]["type"] == "org"
    assert {"type": "UPN", "identifier": pupil.upn} in student["userIds"]
    teachers = (await client.get(roster_url(school, "teachers"))).json()["teachers"]
    assert teachers and {t["role"] for t in teachers} == {"teacher"}
    enrollment = (await client.get(roster_url(school, "enrollments"))).json()["enrollments"][0]
    assert enrollment["user"]["type"] == "user" and enrollment["class"]["type"] == "class"


async def test_the_provider_and_the_csv_export_agree(
    reader: tuple[SchoolData, httpx.AsyncClient], engine: AsyncEngine
) -> None:
    """The same users, classes and enrolments (by sourcedId, with the same roles) through either door."""
    school, client = reader
    from audit.recorder import AuditTrail
    from common.events import Actor, attach

    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        attach(
            session,
            AuditTrail(actor=Actor("SYSTEM"), request_id="t", client_address=None, school_id=school.id),
        )
        out = io.BytesIO()
        await export_oneroster(session, await school_ref(session, school.id), out)
        await session.rollback()
    archive = zipfile.ZipFile(out)

    def csv_rows(name: str) -> list[dict[str, str]]:
        import csv

        return list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))

    for collection, file, columns in (
        ("users", "users.csv", ("sourcedId", "role", "givenName", "familyName", "email")),
        ("classes", "classes.csv", ("sourcedId", "title", "classType")),
        ("enrollments", "enrollments.csv", ("sourcedId", "role")),
        ("academicSessions", "academicSessions.csv", ("sourcedId", "title", "startDate")),
    ):
        served = (await client.get(roster_url(school, f"{collection}?limit=1000"))).json()[collection]
        exported = csv_rows(file)
        assert sorted(tuple(o[c] for c in columns) for o in served) == sorted(
            tuple(r[c] for c in columns) for r in exported
        ), collection


async def test_paging_filter_sort_and_fields(reader: tuple[SchoolData, httpx.AsyncClient]) -> None:
    school, client = reader
    every = (await client.get(roster_url(school, "students?limit=1000&sort=familyName"))).json()["students"]
    total = len(school.pupils)
    assert len(every) == total
    assert [s["familyName"] for s in every] == sorted(s["familyName"] for s in every)
    pages: list[dict[str, Any]] = []
    url: str | None = roster_url(school, "students?limit=3&sort=familyName")
    while url:
        response = await client.get(url)
        assert response.headers["x-total-count"] == str(total)
        pages += response.json()["students"]
        nexts = [p for p in response.headers["link"].split(", ") if 'rel="next"' in p]
        url = nexts[0].split(";")[0].strip("<>") if nexts else None
    assert [p["sourcedId"] for p in pages] == [s["sourcedId"] for s in every]
    descending = (await client.get(roster_url(school, "students?sort=familyName&orderBy=desc"))).json()
    assert [s["familyName"] for s in descending["students"]] == sorted(
        (s["familyName"] for s in every), reverse=True
    )
    pupil = school.pupils["pupil1"]
    one = await client.get(
        roster_url(school, "users"),
        params={
            "filter": f"familyName='{pupil.surname}' AND givenName='{pupil.forename}' AND role='student'"
        },
    )
    assert [u["givenName"] for u in one.json()["users"]] == [pupil.forename]
    assert one.headers["x-total-count"] == "1"
    either = await client.get(
        roster_url(school, "users"), params={"filter": f"role='teacher' OR familyName='{pupil.surname}'"}
    )
    assert {u["role"] for u in either.json()["users"]} == {"teacher", "student"}
    contains = await client.get(
        roster_url(school, "users"), params={"filter": f"familyName~'{pupil.surname[1:4].lower()}'"}
    )
    assert pupil.surname in [u["familyName"] for u in contains.json()["users"]]
    fields = await client.get(
        roster_url(school, "users"), params={"fields": "sourcedId,givenName", "limit": "2"}
    )
    assert [set(u) for u in fields.json()["users"]] == [{"sourcedId", "givenName"}] * 2
    after = await client.get(roster_url(school, "users"), params={"filter": "dateLastModified>'2100-01-01'"})
    assert after.json()["users"] == [] and after.headers["x-total-count"] == "0"


@pytest.mark.parametrize(
    ("query", "status", "code_minor"),
    [
        ({"filter": "familyName='Smith"}, 400, "invalid_filter_field"),
        ({"filter": "password='x'"}, 400, "invalid_filter_field"),
        ({"filter": "familyName='a' AND role='b' OR role='c'"}, 400, "invalid_filter_field"),
        ({"filter": "familyName like 'a'"}, 400, "invalid_filter_field"),
        ({"sort": "password"}, 400, "invaliddata"),
        ({"orderBy": "sideways"}, 400, "invaliddata"),
        ({"limit": "0"}, 400, "invaliddata"),
        ({"limit": "1001"}, 400, "invaliddata"),
        ({"limit": "-1"}, 400, "invaliddata"),
        ({"offset": "x"}, 400, "invaliddata"),
        ({"fields": "sourcedId,password"}, 400, "invalid_selection_field"),
    ],
)
async def test_bad_parameters_get_the_specifications_error(
    reader: tuple[SchoolData, httpx.AsyncClient], query: dict[str, str], status: int, code_minor: str
) -> None:
    school, client = reader
    response = await client.get(roster_url(school, "users"), params=query)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == code_minor
    assert body["imsx_description"]


async def test_unknown_collections_and_objects_are_unknownobject(
    reader: tuple[SchoolData, httpx.AsyncClient],
) -> None:
    school, client = reader
    for path in ("lineItems", "users/no-such-user", "classes/no-such-class"):
        response = await client.get(roster_url(school, path))
        assert response.status_code == 404, path
        assert (
            response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
            == "unknownobject"
        )


async def test_the_rate_limit_answers_429_with_retry_after(
    runtime: Runtime, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    limited = with_settings(runtime, partner_rate_limit=2)
    school = await factory.school()
    async with app_client(limited) as client:
        partners = PartnerFactory(client, trusts)
        partner = await approved(partners, school)
        async with oauth_client(client, partner) as oauth:
            await fetch_token(oauth, school)
            assert [(await oauth.get(roster_url(school, "orgs"))).status_code for _ in range(2)] == [200, 200]
            refused = await oauth.get(roster_url(school, "orgs"))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (
        refused.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
        == "server_busy"
    )


# --- the audit --------------------------------------------------------------------------------------------


async def test_partner_requests_are_in_the_schools_chain_and_the_pupil_access_report(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """LRS 5.1, LRS 7.3: every partner request is recorded with actor PARTNER, the pupils it returned are
    in their access report, and neither the token nor the secret is in the audit or the logs."""
    caplog.set_level(logging.DEBUG)
    school = await factory.school()
    partner = await approved(partners, school)
    async with oauth_client(client, partner) as oauth:
        token = (await fetch_token(oauth, school))["access_token"]
        assert (await oauth.get(roster_url(school, "students"))).status_code == 200
        assert (await oauth.get(roster_url(school, "users?filter=bad"))).status_code == 400
    admin = await login(client, school.slug, "admin")
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    report = await gql(
        client,
        school.slug,
        "query($p: ID!) { pupilAccessReport(pupilId: $p) { edges { node { actorType actorUsername action } } } }",
        {"p": pupil},
        token=admin,
    )
    nodes = [e["node"] for e in report["data"]["pupilAccessReport"]["edges"]]
    assert {"actorType": "PARTNER", "actorUsername": partner.client_id, "action": "read.pupils"} in nodes
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school.id])
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.actor_type == "PARTNER")))
            .scalars()
            .all()
        )
        everything = (await session.execute(text("SELECT detail::text FROM audit_log"))).scalars().all()
    actions = [(e.action, e.outcome) for e in entries]
    assert ("partner.token_issued", "SUCCESS") in actions
    assert ("partner.oneroster.read", "SUCCESS") in actions
    assert ("partner.oneroster.read", "REJECTED") in actions
    for secret in (token, partner.secret):
        assert not any(secret in detail for detail in everything)
        assert secret not in caplog.text
    async with AsyncSession(engine) as session:
        platform = (await session.execute(text("SELECT detail::text FROM platform_audit"))).scalars().all()
    assert not any(partner.secret in d or token in d for d in platform)


# --- GraphQL: the school endpoint accepts partner tokens, fields declare the scopes that read them -------


PROGRESS_FIELDS = ("pupil", "ladder", "levels", "latest", "secureCount", "secureShare", "currentRung")


def test_every_field_admits_a_partner_exactly_by_its_declared_scopes() -> None:
    """Default deny for partners across the whole school schema: a field's policy admits a partner
    granted a scope exactly when the policy declares that scope, whatever else it checks; the fields that
    declare roster.read are the roster a OneRoster consumer reads, progress.read the ladders and the
    pupils' progress and judgements (not a judgement's note or assessor), achievements.read the learning
    record's achievements (not its goals); no mutation declares any."""
    import uuid as _uuid

    from graphql import GraphQLObjectType

    from auth.principal import Principal, Role
    from common.settings import Settings
    from graph.permissions import POLICY_KEY
    from graph.school.schema import build_schema
    from partners.scopes import SCOPES

    schema = build_schema(Settings())
    opened: dict[str, set[str]] = {}
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field_name, field in named.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is None or POLICY_KEY not in definition.metadata:
                continue
            policy = definition.metadata[POLICY_KEY]
            for scope in SCOPES:
                partner = Principal(
                    account_id=_uuid.uuid4(),
                    username="sgp_x",
                    school_id=_uuid.uuid4(),
                    role=Role.PARTNER,
                    session_id=_uuid.uuid4(),
                    pupil_scope=None,
                    group_scope=None,
                    teacher_scope=None,
                    scopes=frozenset({scope}),
                )
                admitted = policy(
                    partner, type("Row", (), {"id": _uuid.uuid4(), "pupil_id": _uuid.uuid4()})()
                )
                assert admitted == (scope in policy.scopes), f"{named.name}.{field_name} {scope}"
                if admitted:
                    opened.setdefault(scope, set()).add(f"{named.name}.{field_name}")
    assert set(opened) == {"roster.read", "progress.read", "achievements.read"}
    assert opened["progress.read"] == {
        *(
            f"Query.{f}"
            for f in (
                "ladders",
                "ladder",
                "levelScale",
                "pupilProgress",
                "judgementHistory",
                "learningChanges",
            )
        ),
        *(f"Judgement.{f}" for f in ("level", "assessedOn", "recordedAt", "pupil", "rung")),
        *(f"PupilProgress.{f}" for f in PROGRESS_FIELDS),
    }
    assert opened["achievements.read"] == {
        "Query.learnerRecord",
        "Query.learningChanges",
        "LearnerRecord.achievements",
        *(f"Achievement.{f}" for f in ("kind", "title", "awardingBody", "achievedOn", "grade")),
    }
    roster = opened["roster.read"]
    assert {"Query.pupils", "Pupil.surname", "Pupil.upn", "Group.name", "Staff.surname"} <= roster
    assert not any(name.startswith("Mutation.") for name in roster)
    assert not {"Pupil.dateOfLeaving", "Pupil.contacts", "Pupil.account", "Query.auditLog"} & roster


PUPILS = "{ pupils(first: 50) { edges { node { id forename surname upn groups { name } } } } }"


async def test_a_partner_token_reads_the_roster_over_graphql_and_nothing_more(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    school = await factory.school()
    partner = await approved(partners, school)
    async with oauth_client(client, partner) as oauth:
        token = (await fetch_token(oauth, school))["access_token"]
    body = await gql(client, school.slug, PUPILS, token=token)
    assert "errors" not in body, body
    surnames = sorted(e["node"]["surname"] for e in body["data"]["pupils"]["edges"])
    assert surnames == sorted(p.surname for p in school.pupils.values())
    refused = await gql(
        client,
        school.slug,
        "{ pupils(first: 5) { edges { node { surname dateOfLeaving contacts { surname } } } } viewer { id } }",
        token=token,
    )
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    assert {tuple(e["path"][-1:]) for e in refused["errors"]} == {("dateOfLeaving",), ("contacts",)}
    assert refused["data"]["viewer"] is None
    mutation = await gql(
        client,
        school.slug,
        "mutation { optInToExtendedData { errors { code } } }",
        token=token,
    )
    assert mutation["data"] is None or mutation["data"]["optInToExtendedData"] is None
    assert mutation["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_graphql_enforces_scope_school_and_revocation_for_partner_tokens(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    mine, theirs = await factory.school(), await factory.school()
    progress_only = await approved(
        partners, mine, ("progress.read",), allowed=("roster.read", "progress.read")
    )
    async with oauth_client(client, progress_only) as oauth:
        token = (await fetch_token(oauth, mine))["access_token"]
    denied = await gql(client, mine.slug, PUPILS, token=token)
    assert denied["data"]["pupils"] is None and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    partner = await approved(partners, mine)
    async with oauth_client(client, partner) as oauth:
        token = (await fetch_token(oauth, mine))["access_token"]
    elsewhere = await gql(client, theirs.slug, PUPILS, token=token)
    assert elsewhere["data"]["pupils"] is None
    assert elsewhere["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql(client, mine.slug, PUPILS, token=token))["data"]["pupils"]["edges"]
    await partners.revoke(mine, partner)
    revoked = await gql(client, mine.slug, PUPILS, token=token)
    assert revoked["data"]["pupils"] is None
    assert revoked["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- roster push ------------------------------------------------------------------------------------------


async def test_roster_push_goes_through_the_importer_dry_run_first(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,
    engine: AsyncEngine,
    keys: SigningKeys,
) -> None:
    """LL 10.2: a partner with roster.write pushes a OneRoster package into the school's importer: a dry
    run unless it asks otherwise (nothing written), then the import, all or nothing, with the same problems
    report as an admin's upload; a partner without roster.write is refused."""
    from tests.factories.roster import enrol, klass, oneroster, set_org, user

    school = await factory.school()
    await set_org(engine, school.id, "org-1")
    package = oneroster(
        users=[
            user("t1", "teacher", "Tina", "Tutor", username="tina.tutor"),
            user("p1", "student", "Olly", "Older", username="olly.older"),
        ],
        classes=[klass("c1", "Class 8T")],
        enrollments=[enrol("e1", "c1", "t1", "teacher"), enrol("e2", "c1", "p1")],
    )
    reader_only = await approved(partners, school)
    writer = await approved(
        partners, school, ("roster.read", "roster.write"), allowed=("roster.read", "roster.write")
    )
    zip_headers = {"content-type": "application/zip"}
    url = roster_url(school, "packages")
    async with oauth_client(client, reader_only) as oauth:
        await fetch_token(oauth, school)
        refused = await oauth.post(url, content=package, headers=zip_headers)
    assert refused.status_code == 403
    async with oauth_client(client, writer) as oauth:
        await fetch_token(oauth, school)
        dry = await oauth.post(url, content=package, headers=zip_headers)
        assert dry.status_code == 200, dry.text
        assert dry.json()["outcome"] == "DRY_RUN" and dry.json()["counts"]["pupils"]["create"] == 1
        students = (await oauth.get(roster_url(school, "students?filter=familyName='Older'"))).json()
        assert students["students"] == []
        broken = await oauth.post(
            url + "?dryRun=false",
            content=oneroster(users=[user("p9", "student", "", "Nameless")]),
            headers=zip_headers,
        )
        assert broken.status_code == 422 and broken.json()["outcome"] == "REFUSED"
        assert broken.json()["errors"] >= 1 and broken.json()["problems"][0]["file"] == "users.csv"
        real = await oauth.post(url + "?dryRun=false", content=package, headers=zip_headers)
        assert real.status_code == 200 and real.json()["outcome"] == "COMMITTED"
        students = (await oauth.get(roster_url(school, "students?filter=familyName='Older'"))).json()
        assert [s["givenName"] for s in students["students"]] == ["Olly"]
        bad = await oauth.post(url + "?dryRun=maybe", content=package, headers=zip_headers)
        assert bad.status_code == 400
    await sequence(engine, school.id, keys)  # numbered in commit order (the server does it after commits)
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        imports = (
            await session.execute(
                select(AuditEntry.actor_type, AuditEntry.outcome)
                .where(AuditEntry.action == "roster.import")
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [tuple(i) for i in imports] == [
        ("PARTNER", "SUCCESS"),
        ("PARTNER", "REJECTED"),
        ("PARTNER", "SUCCESS"),
    ]


async def test_a_disabled_partner_is_refused_everywhere_at_its_next_request(
    client: httpx.AsyncClient, factory: SchoolFactory, partners: PartnerFactory
) -> None:
    school = await factory.school()
    partner = await approved(partners, school)
    status = (
        "mutation($id: ID!, $s: PartnerStatus!) { setPartnerStatus(input: {partnerId: $id, status: $s}) "
        "{ partner { status } errors { code } } }"
    )
    async with oauth_client(client, partner) as oauth:
        await fetch_token(oauth, school)
        assert (await oauth.get(roster_url(school, "orgs"))).status_code == 200
        disabled = await platform_gql(
            client, status, {"id": partner.id, "s": "DISABLED"}, token=partner.operator_token
        )
        assert disabled["data"]["setPartnerStatus"]["partner"]["status"] == "DISABLED"
        assert (await oauth.get(roster_url(school, "orgs"))).status_code == 401
    form = {"grant_type": "client_credentials", "school": school.slug}
    refused = await token_request(client, form, basic(partner))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    await platform_gql(client, status, {"id": partner.id, "s": "ACTIVE"}, token=partner.operator_token)
    assert (await token_request(client, form, basic(partner))).status_code == 200


async def test_graphql_partner_reads_are_audited_and_rate_limited(
    runtime: Runtime, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: a partner's GraphQL read is in the school's chain with actor PARTNER, with the pupils it
    listed (the access report's source); beyond its rate limit it gets 429 with Retry-After."""
    limited = with_settings(runtime, partner_rate_limit=2)
    school = await factory.school()
    async with app_client(limited) as client:
        partners = PartnerFactory(client, trusts)
        partner = await approved(partners, school)
        async with oauth_client(client, partner) as oauth:
            token = (await fetch_token(oauth, school))["access_token"]
        assert (await gql(client, school.slug, PUPILS, token=token))["data"]["pupils"]["edges"]
        assert (await gql(client, school.slug, PUPILS, token=token))["data"]["pupils"]["edges"]
        limited_response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": PUPILS},
            headers={"authorization": f"Bearer {token}"},
        )
    assert limited_response.status_code == 429 and int(limited_response.headers["retry-after"]) > 0
    assert limited_response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school.id])
        reads = (
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.action == "read.pupils", AuditEntry.actor_type == "PARTNER"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(reads) == 2 and all(r.actor_username == partner.client_id for r in reads)
    assert str(school.pupils["pupil1"].id) in reads[0].detail["pupil_ids"]


# --- the change feed --------------------------------------------------------------------------------------


async def _feed(
    client: httpx.AsyncClient, school: SchoolData, since: str, limit: int = 100
) -> dict[str, Any]:
    response = await client.get(roster_url(school, "changes"), params={"since": since, "limit": str(limit)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_change_feed_serves_each_change_once_with_tombstones(
    reader: tuple[SchoolData, httpx.AsyncClient], factory: SchoolFactory
) -> None:
    """Every person and class once, in version order, paged by keyset; then only what changed since, a
    leaver as a tombstone (status tobedeleted)."""
    school, client = reader
    partner_token = client.headers.pop("authorization")
    admin = await login(client, school.slug, "admin")
    client.headers["authorization"] = partner_token
    everything: list[dict[str, Any]] = []
    since = "0"
    while True:
        page = await _feed(client, school, since, limit=5)
        everything += page["changes"]
        since = page["next"]
        if len(page["changes"]) < 5:
            break
    users = (await client.get(roster_url(school, "users?limit=1000"))).json()["users"]
    classes = (await client.get(roster_url(school, "classes?limit=1000"))).json()["classes"]
    assert sorted((c["collection"], c["sourcedId"]) for c in everything) == sorted(
        [("users", u["sourcedId"]) for u in users] + [("classes", c["sourcedId"]) for c in classes]
    )
    versions = [c["version"] for c in everything]
    assert versions == sorted(versions)
    assert (await _feed(client, school, since))["changes"] == []
    pupil = school.pupils["pupil2"]
    pupil_id = to_global_id("Pupil", pupil.id)
    client.headers["authorization"] = f"Bearer {admin}"
    changed = await gql(
        client,
        school.slug,
        "mutation($i: UpdatePupilInput!) { updatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": pupil_id, "email": "new@example.org"}},
    )
    assert changed["data"]["updatePupil"]["errors"] == []
    left = await gql(
        client,
        school.slug,
        "mutation($i: DeactivatePupilInput!) { deactivatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": to_global_id("Pupil", school.pupils["pupil1"].id)}},
    )
    assert left["data"]["deactivatePupil"]["errors"] == []
    client.headers["authorization"] = partner_token
    later = await _feed(client, school, since)
    leaver, parent = school.pupils["pupil1"], school.contacts["parent1"]
    # The leaver's parent too: its object's agents no longer name the leaver (one version, sourcedId order).
    left_together = sorted(
        [(parent.source_id or str(parent.id), "active"), (leaver.source_id or str(leaver.id), "tobedeleted")]
    )
    assert [(c["sourcedId"], c["status"]) for c in later["changes"]] == [
        (pupil.source_id or str(pupil.id), "active"),
        *left_together,
    ]
    assert (await _feed(client, school, later["next"]))["changes"] == []
    bad = await client.get(roster_url(school, "changes"), params={"since": "not-a-cursor!"})
    assert bad.status_code == 400


async def test_the_change_feed_never_skips_a_change_that_commits_late(
    reader: tuple[SchoolData, httpx.AsyncClient], engine: AsyncEngine
) -> None:
    """Two concurrent writers of one school's roster: the first holds its transaction open. The second
    does not wait for it (no per-school lock: issue 15) and commits first, with the higher version; the
    feed serves neither while the first runs (its version is the horizon), then each once, in version
    order. (The writers are held open mid-transaction, which no HTTP request can do, so they change rows
    through the models; the versions are the database trigger's, which is what is under test.)"""
    school, client = reader
    start = (await _feed(client, school, "0", limit=1000))["next"]
    first, second = school.pupils["pupil1"], school.pupils["pupil2"]

    async with AsyncSession(engine) as early:
        await early.begin()
        await bind(early, [school.id])
        row = await early.get(Pupil, (school.id, first.id))
        assert row is not None
        row.email = "early@example.org"
        await early.flush()  # the early writer has its version, uncommitted
        async with AsyncSession(engine) as late, late.begin():
            await bind(late, [school.id])
            other = await late.get(Pupil, (school.id, second.id))
            assert other is not None
            other.email = "late@example.org"
            # Not queued behind the early writer: a lock wait would fail this statement at once.
            await late.execute(text("SET LOCAL lock_timeout = '100ms'"))
            await late.flush()
        while_running = await _feed(client, school, start)
        assert while_running["changes"] == [] and while_running["next"] == start
        await early.commit()
    after = await _feed(client, school, start)
    served = [c["sourcedId"] for c in after["changes"]]
    assert served == [first.source_id or str(first.id), second.source_id or str(second.id)]
    assert after["changes"][0]["version"] < after["changes"][1]["version"]
    assert (await _feed(client, school, after["next"]))["changes"] == []


async def restrict_processing(client: httpx.AsyncClient, school: SchoolData, pupil_id: uuid.UUID) -> None:
    """A school admin restricts the pupil's processing (LL-S2 (xiii)); the client's partner token is kept."""
    partner_auth = client.headers.pop("authorization")
    admin = await login(client, school.slug, "admin")
    restricted = await gql(
        client,
        school.slug,
        "mutation($i: RestrictProcessingInput!) { restrictProcessing(input: $i) { errors { field code } } }",
        {"i": {"personId": to_global_id("Pupil", pupil_id), "kind": "RESTRICTION", "reason": "Contested"}},
        token=admin,
    )
    assert restricted["data"]["restrictProcessing"]["errors"] == []
    client.headers["authorization"] = partner_auth


async def test_a_person_whose_processing_is_restricted_is_never_served(
    reader: tuple[SchoolData, httpx.AsyncClient],
) -> None:
    """Issue 14, LL-S2 (xiii): once a school admin restricts a pupil's processing, the OneRoster provider
    leaves them out of the collections and answers their object as unknown."""
    school, client = reader
    pupil = school.pupils["pupil1"]
    before = (await client.get(roster_url(school, "students?limit=1000"))).json()["students"]
    [sourced_id] = [
        s["sourcedId"] for s in before if (s["givenName"], s["familyName"]) == (pupil.forename, pupil.surname)
    ]
    await restrict_processing(client, school, pupil.id)
    after = await client.get(roster_url(school, "students?limit=1000"))
    served = {s["sourcedId"] for s in after.json()["students"]}
    assert sourced_id not in served and len(served) == len(before) - 1
    assert after.headers["x-total-count"] == str(len(before) - 1)
    one = await client.get(roster_url(school, f"students/{sourced_id}"))
    assert one.status_code == 404, one.text

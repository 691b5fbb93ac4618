"""A school changing trust as a tenant novation (LL 20, LL 7.1.16), through HTTP at every endpoint.

Before the effective date the outgoing trust's admin sees the school and the successor's does not; from it,
the reverse. The school's id, URL, users, passwords and data are untouched; its licence is novated to the
successor (a new licence naming the old one); the full history stays queryable. Bad input writes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.clock import FixedClock
from common.settings import Settings
from graph.core.relay import to_global_id
from models.licensing import Novation
from models.platform import OutboxMessage
from server.app import create_app
from server.jobs import run_jobs
from server.runtime import Runtime
from subscriptions.licences import CURRENT_TERMS_VERSION
from subscriptions.outbox import MailSettings
from tests.factories import clock
from tests.factories.mail import mail_server
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import (
    TrustData,
    TrustFactory,
    platform_gql,
    platform_login,
    trust_gql,
    trust_login,
)
from tests.test_agreements import _documents_removed, published  # noqa: F401 - the fixture removes them

PROPOSE = """
mutation($i: ProposeNovationInput!) { proposeNovation(input: $i) {
  novation { id status effectiveDate fromTrust { slug } toTrust { slug } proposedBy } errors { field code } } }
"""
ACCEPT = """
mutation($n: ID!, $v: String!, $ok: Boolean! = true) {
  acceptNovation(input: {novationId: $n, acceptLicenceTerms: $ok, termsVersion: $v}) {
    novation { id status appliedAt acceptedTermsVersion
      oldLicence { reference status }
      newLicence { reference licenseeName licenseeTrust { slug } termsVersion novatedFrom { reference }
                   schools { school { slug } coveredFrom coveredTo } } }
    errors { field code } } }
"""
TRUST_VIEW = """
query($s: ID!) { schools { slug } school(id: $s) { slug counts { pupils staff activeAccounts } }
  accountEvents(schoolId: $s, first: 1) { nodes { action } } }
"""
PLATFORM_VIEW = """
query($slug: String!) { school(slug: $slug) { id slug url trust { slug }
  memberships { effectiveFrom effectiveTo trust { slug } }
  licence { reference licenseeName novatedFrom { reference } }
  licences { reference status schools { school { slug } coveredFrom coveredTo } }
  novations { status } } }
"""
LICENCE = """
mutation($i: CreateLicenceInput!) { createLicence(input: $i) { licence { id reference } errors { field code } } }
"""


async def _setup(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, *, licensed: bool = True
) -> tuple[TrustData, TrustData, SchoolData, SchoolData, str]:
    """The outgoing trust with two schools (one moving) under its licence, the successor, an operator."""
    old, new = await trusts.trust(), await trusts.trust()
    moving, staying = await factory.school(), await factory.school()
    for school in (moving, staying):
        await trusts.join(school, old, effective_from=clock.platform_day() - timedelta(days=200))
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    if licensed:
        made = await platform_gql(
            client,
            LICENCE,
            {
                "i": {
                    "licensee": {"trustId": to_global_id("Trust", old.id)},
                    "schoolIds": [to_global_id("School", moving.id), to_global_id("School", staying.id)],
                    "termStart": str(clock.platform_day() - timedelta(days=100)),
                    "annualFeePence": 240_000,
                }
            },
            token=token,
        )
        assert made["data"]["createLicence"]["errors"] == [], made
    return old, new, moving, staying, token


async def _sees(client: httpx.AsyncClient, trust: TrustData, school: SchoolData) -> bool:
    """Whether the trust's admin reaches the school, checked every way the trust endpoint offers."""
    token = await trust_login(client, trust.slug)
    body = await trust_gql(
        client, trust.slug, TRUST_VIEW, {"s": to_global_id("School", school.id)}, token=token
    )
    assert "errors" not in body, body
    listed = school.slug in [s["slug"] for s in body["data"]["schools"]]
    found = body["data"]["school"] is not None
    events = body["data"]["accountEvents"] is not None
    create = await trust_gql(
        client,
        trust.slug,
        """mutation($s: ID!, $u: String!) { createSchoolAdmin(input: {schoolId: $s, forename: "Probe",
             surname: "Admin", email: "probe@x.example", username: $u}) { errors { code } } }""",
        {"s": to_global_id("School", school.id), "u": f"probe-{uuid.uuid4().hex[:6]}"},
        token=token,
    )
    can_write = create["data"]["createSchoolAdmin"]["errors"] == []
    assert listed == found == events == can_write, (listed, found, events, can_write)
    return listed


async def _propose_today(
    client: httpx.AsyncClient, old: TrustData, new: TrustData, school: SchoolData, token: str
) -> dict[str, Any]:
    """The outgoing trust's admin proposes moving ``school`` to ``new`` from today: proposeNovation's payload."""
    proposed = await trust_gql(
        client,
        old.slug,
        PROPOSE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "toTrust": new.slug,
                "effectiveDate": str(clock.platform_day()),
                "reason": "TRUST_TRANSFER",
            }
        },
        token=token,
    )
    payload: dict[str, Any] = proposed["data"]["proposeNovation"]
    return payload


async def _school_unchanged(client: httpx.AsyncClient, school: SchoolData) -> None:
    """Pupils, staff and logins of the school are exactly as before (same ids, same passwords, same URL)."""
    admin = await login(client, school.slug, "admin")
    body = await gql(
        client,
        school.slug,
        "{ viewer { id username } school { slug } pupils(first: 100) { nodes { id } } staff(first: 100) { nodes { id } } }",
        token=admin,
    )
    data = body["data"]
    assert data["viewer"] == {"id": to_global_id("Account", school.accounts["admin"].id), "username": "admin"}
    assert data["school"] == {"slug": school.slug}
    assert {p["id"] for p in data["pupils"]["nodes"]} == {
        to_global_id("Pupil", p.id) for p in school.pupils.values()
    }
    assert {s["id"] for s in data["staff"]["nodes"]} >= {
        to_global_id("Staff", s.id) for s in school.staff.values()
    }
    for username in ("teacher1", "pupil1", "parent1"):
        await login(client, school.slug, username, PASSWORD)


async def test_novation_effective_today_moves_the_school_at_every_endpoint(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 20, LL 7.1.16: the outgoing trust tells the platform the school is leaving (for which trust, from
    when); the successor accepts it and the licence terms; on the effective date the old trust's admin loses
    the school and the new one gains it, at the trust and platform endpoints, and the licence follows the
    school as a new licence naming the old one. The school itself is unchanged."""
    old, new, moving, staying, operator = await _setup(client, factory, trusts)
    assert await _sees(client, old, moving) and not await _sees(client, new, moving)

    old_token = await trust_login(client, old.slug)
    proposed = await _propose_today(client, old, new, moving, old_token)
    novation = proposed["novation"]
    assert proposed["errors"] == []
    assert novation["status"] == "PROPOSED" and novation["proposedBy"] == "TRUST_ADMIN"
    assert novation["fromTrust"] == {"slug": old.slug} and novation["toTrust"] == {"slug": new.slug}

    # Pending: out for the old trust, in for the new; nothing has moved yet.
    new_token = await trust_login(client, new.slug)
    pending_in = await trust_gql(
        client, new.slug, "{ novations(direction: IN) { id school { slug } } }", token=new_token
    )
    assert pending_in["data"]["novations"] == [{"id": novation["id"], "school": {"slug": moving.slug}}]
    pending_out = await trust_gql(client, old.slug, "{ novations(direction: OUT) { id } }", token=old_token)
    assert pending_out["data"]["novations"] == [{"id": novation["id"]}]
    assert await _sees(client, old, moving) and not await _sees(client, new, moving)
    before = await platform_gql(client, PLATFORM_VIEW, {"slug": moving.slug}, token=operator)
    assert before["data"]["school"]["trust"] == {"slug": old.slug}

    accepted = await trust_gql(
        client, new.slug, ACCEPT, {"n": novation["id"], "v": CURRENT_TERMS_VERSION}, token=new_token
    )
    payload = accepted["data"]["acceptNovation"]
    assert payload["errors"] == []
    result = payload["novation"]
    assert result["status"] == "APPLIED" and result["acceptedTermsVersion"] == CURRENT_TERMS_VERSION
    old_licence, new_licence = result["oldLicence"], result["newLicence"]
    assert old_licence["status"] == "ACTIVE"  # it still covers the school that stayed
    assert new_licence["licenseeTrust"] == {"slug": new.slug}
    assert new_licence["novatedFrom"] == {"reference": old_licence["reference"]}
    assert new_licence["termsVersion"] == CURRENT_TERMS_VERSION
    assert new_licence["schools"] == [
        {"school": {"slug": moving.slug}, "coveredFrom": str(clock.platform_day()), "coveredTo": None}
    ]

    # After: the reverse, at the trust endpoints, even with a token issued before the switch ...
    stale = await trust_gql(
        client, old.slug, TRUST_VIEW, {"s": to_global_id("School", moving.id)}, token=old_token
    )
    assert (
        moving.slug not in [x["slug"] for x in stale["data"]["schools"]] and stale["data"]["school"] is None
    )
    assert await _sees(client, new, moving) and not await _sees(client, old, moving)
    assert await _sees(client, old, staying) and not await _sees(client, new, staying)
    # ... and at the platform, with the whole history kept.
    after = await platform_gql(client, PLATFORM_VIEW, {"slug": moving.slug}, token=operator)
    view = after["data"]["school"]
    assert (
        view["id"] == to_global_id("School", moving.id) and view["url"] == f"/schools/{moving.slug}/graphql"
    )
    assert view["trust"] == {"slug": new.slug}
    assert view["memberships"] == [
        {
            "effectiveFrom": str(clock.platform_day() - timedelta(days=200)),
            "effectiveTo": str(clock.platform_day()),
            "trust": {"slug": old.slug},
        },
        {"effectiveFrom": str(clock.platform_day()), "effectiveTo": None, "trust": {"slug": new.slug}},
    ]
    assert view["licence"]["novatedFrom"] == {"reference": old_licence["reference"]}
    assert {lic["reference"] for lic in view["licences"]} == {
        old_licence["reference"],
        new_licence["reference"],
    }
    old_cover = next(lic for lic in view["licences"] if lic["reference"] == old_licence["reference"])[
        "schools"
    ]
    assert {
        "school": {"slug": moving.slug},
        "coveredFrom": str(clock.platform_day() - timedelta(days=100)),
        "coveredTo": str(clock.platform_day()),
    } in old_cover
    assert view["novations"] == [{"status": "APPLIED"}]
    # The school endpoint: same id, URL, users, passwords and data.
    await _school_unchanged(client, moving)
    # The Super-Users and both trusts hear of each step.
    async with AsyncSession(engine) as session:
        kinds = (
            await session.execute(
                select(OutboxMessage.kind, OutboxMessage.audience).where(
                    (OutboxMessage.tenant_id == moving.id) | OutboxMessage.trust_id.in_([old.id, new.id])  # type: ignore[union-attr]
                )
            )
        ).all()
    assert {(k, a) for k, a in kinds} >= {
        (kind, audience)
        for kind in ("NOVATION_PROPOSED", "NOVATION_ACCEPTED", "NOVATION_APPLIED")
        for audience in ("SUPER_USERS", "TRUST_ADMINS")
    }


async def test_the_successor_accepts_the_licence_terms_in_force(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 20: the successor accepts the licence terms the platform has published and that are in force (the
    version a school's Super-Users accept, LL 21), not a version written into the code; a new licence is
    agreed under them unless the operator names another. Published later, a version is not yet the one."""
    publisher = await platform_login(client, (await trusts.operator()).username)
    await published(client, publisher, "LICENCE_TERMS", "2026-9")
    await published(client, publisher, "LICENCE_TERMS", "2027-1", days=30)
    old, new, moving, _, operator = await _setup(client, factory, trusts)
    new_token = await trust_login(client, new.slug)
    terms = "{ currentTermsVersion }"
    assert (await trust_gql(client, new.slug, terms, token=new_token))["data"] == {
        "currentTermsVersion": "2026-9"
    }
    assert (await platform_gql(client, terms, token=operator))["data"] == {"currentTermsVersion": "2026-9"}
    licence = "query($s: String!) { school(slug: $s) { licence { termsVersion } } }"
    created = await platform_gql(client, licence, {"s": moving.slug}, token=operator)
    assert created["data"]["school"]["licence"] == {"termsVersion": "2026-9"}  # createLicence's default

    novation = (await _propose_today(client, old, new, moving, await trust_login(client, old.slug)))[
        "novation"
    ]
    for stale in (CURRENT_TERMS_VERSION, "2027-1"):  # the built-in default; a version not yet in force
        refused = await trust_gql(
            client, new.slug, ACCEPT, {"n": novation["id"], "v": stale}, token=new_token
        )
        assert refused["data"]["acceptNovation"] == {
            "novation": None,
            "errors": [{"field": "termsVersion", "code": "TERMS_VERSION_MISMATCH"}],
        }
    pending = await trust_gql(client, new.slug, "{ novations(direction: IN) { id status } }", token=new_token)
    assert pending["data"]["novations"] == [{"id": novation["id"], "status": "PROPOSED"}]

    accepted = await trust_gql(
        client, new.slug, ACCEPT, {"n": novation["id"], "v": "2026-9"}, token=new_token
    )
    result = accepted["data"]["acceptNovation"]
    assert result["errors"] == []
    assert (
        result["novation"]["status"] == "APPLIED" and result["novation"]["acceptedTermsVersion"] == "2026-9"
    )
    assert result["novation"]["newLicence"]["termsVersion"] == "2026-9"


async def test_a_future_novation_is_applied_by_the_jobs_on_its_date(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
    runtime: Runtime,
) -> None:
    """LL 20: accepted ahead of time, the novation changes nothing until its effective date; then the jobs
    runner applies it (once), and from that date the successor's admin has the school and the old one not."""
    old, new, moving, _, operator = await _setup(client, factory, trusts)
    tomorrow = clock.platform_day() + timedelta(days=1)
    proposed = await platform_gql(
        client,
        PROPOSE,
        {
            "i": {
                "schoolId": to_global_id("School", moving.id),
                "toTrust": new.slug,
                "effectiveDate": str(tomorrow),
                "reason": "TRUST_TRANSFER",
                "note": "Rebrokered by the regional director",
            }
        },
        token=operator,
    )
    novation = proposed["data"]["proposeNovation"]["novation"]
    assert novation["proposedBy"] == "OPERATOR"
    new_token = await trust_login(client, new.slug)
    accepted = await trust_gql(
        client, new.slug, ACCEPT, {"n": novation["id"], "v": CURRENT_TERMS_VERSION}, token=new_token
    )
    assert accepted["data"]["acceptNovation"]["novation"]["status"] == "ACCEPTED"
    assert accepted["data"]["acceptNovation"]["novation"]["newLicence"] is None

    today = await run_jobs(
        engine, owner_engine=None, data_dir=settings.data_dir, now=clock.now(), steps=["novations"]
    )
    assert not any(novation_id(novation) in a for a in today.step("novations").applied)
    assert await _sees(client, old, moving) and not await _sees(client, new, moving)

    on_the_day = datetime.combine(tomorrow, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
    first = await run_jobs(
        engine, owner_engine=None, data_dir=settings.data_dir, now=on_the_day, steps=["novations"]
    )
    second = await run_jobs(
        engine, owner_engine=None, data_dir=settings.data_dir, now=on_the_day, steps=["novations"]
    )
    assert [a for a in first.step("novations").applied if novation_id(novation) in a] != []
    assert [a for a in second.step("novations").applied if novation_id(novation) in a] == []

    # Today (the request clock), the old trust still has it: the new membership starts tomorrow.
    assert await _sees(client, old, moving) and not await _sees(client, new, moving)
    # Tomorrow, the reverse.
    tomorrows = create_app(dataclasses.replace(runtime, clock=FixedClock(on_the_day)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tomorrows), base_url="http://testserver"
    ) as later:
        assert await _sees(later, new, moving) and not await _sees(later, old, moving)
        view = await platform_gql(
            later,
            PLATFORM_VIEW,
            {"slug": moving.slug},
            token=await platform_login(later, (await trusts.operator()).username),
        )
        assert view["data"]["school"]["trust"] == {"slug": new.slug}
        assert view["data"]["school"]["novations"] == [{"status": "APPLIED"}]
        await _school_unchanged(later, moving)


def novation_id(novation: dict[str, Any]) -> str:
    import base64

    raw = novation["id"] + "=" * (-len(novation["id"]) % 4)
    return base64.urlsafe_b64decode(raw).decode().split(":", 1)[1]


async def _novations_of(engine: AsyncEngine, school: SchoolData) -> int:
    async with AsyncSession(engine) as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(Novation).where(Novation.tenant_id == school.id)
                )
            ).scalar_one()
        )


async def test_bad_novation_input_is_a_user_error_and_writes_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 20: a novation to the school's own trust, one dated in the past, one for another trust's school,
    accepting someone else's novation, or without accepting the terms: each a UserError, nothing written."""
    old, new, moving, _, operator = await _setup(client, factory, trusts, licensed=False)
    third = await trusts.trust()
    la = await trusts.trust(kind="LOCAL_AUTHORITY")
    old_token = await trust_login(client, old.slug)
    school_id = to_global_id("School", moving.id)

    def inp(**kw: Any) -> dict[str, Any]:
        base = {
            "schoolId": school_id,
            "toTrust": new.slug,
            "effectiveDate": str(clock.platform_day()),
            "reason": "TRUST_TRANSFER",
        }
        return {"i": base | kw}

    cases = [
        (inp(toTrust=old.slug), "toTrust", "SAME_TRUST"),
        (
            inp(effectiveDate=str(clock.platform_day() - timedelta(days=1))),
            "effectiveDate",
            "EFFECTIVE_DATE_IN_PAST",
        ),
        (inp(toTrust="no-such-trust"), "toTrust", "NOT_FOUND"),
        (inp(toTrust=la.slug), "toTrust", "NOT_AN_ACADEMY_TRUST"),
        (inp(reason="CONVERSION_TO_ACADEMY"), "reason", "REASON_MISMATCH"),
    ]
    for variables, field, code in cases:
        body = await trust_gql(client, old.slug, PROPOSE, variables, token=old_token)
        assert body["data"]["proposeNovation"] == {
            "novation": None,
            "errors": [{"field": field, "code": code}],
        }, code
    # Another trust's admin cannot propose for a school that is not theirs.
    third_token = await trust_login(client, third.slug)
    theirs = await trust_gql(client, third.slug, PROPOSE, inp(toTrust=third.slug), token=third_token)
    assert theirs["data"]["proposeNovation"]["errors"] == [{"field": "schoolId", "code": "NOT_FOUND"}]
    assert await _novations_of(engine, moving) == 0

    made = await trust_gql(
        client,
        old.slug,
        PROPOSE,
        inp(effectiveDate=str(clock.platform_day() + timedelta(days=7))),
        token=old_token,
    )
    novation = made["data"]["proposeNovation"]["novation"]
    again = await trust_gql(client, old.slug, PROPOSE, inp(), token=old_token)
    assert again["data"]["proposeNovation"]["errors"] == [{"field": "schoolId", "code": "NOVATION_PENDING"}]

    # Accepting someone else's novation: a third trust, or the outgoing trust itself.
    for trust, token in ((third, third_token), (old, old_token)):
        stolen = await trust_gql(
            client, trust.slug, ACCEPT, {"n": novation["id"], "v": CURRENT_TERMS_VERSION}, token=token
        )
        assert stolen["data"]["acceptNovation"] == {
            "novation": None,
            "errors": [{"field": "novationId", "code": "NOT_FOUND"}],
        }
    new_token = await trust_login(client, new.slug)
    no_terms = await trust_gql(
        client,
        new.slug,
        ACCEPT,
        {"n": novation["id"], "v": CURRENT_TERMS_VERSION, "ok": False},
        token=new_token,
    )
    assert no_terms["data"]["acceptNovation"]["errors"] == [
        {"field": "acceptLicenceTerms", "code": "TERMS_NOT_ACCEPTED"}
    ]
    old_terms = await trust_gql(
        client, new.slug, ACCEPT, {"n": novation["id"], "v": "LL-2019"}, token=new_token
    )
    assert old_terms["data"]["acceptNovation"]["errors"] == [
        {"field": "termsVersion", "code": "TERMS_VERSION_MISMATCH"}
    ]
    status = await platform_gql(
        client,
        "query($s: String!) { school(slug: $s) { novations { status acceptedAt } } }",
        {"s": moving.slug},
        token=operator,
    )
    assert status["data"]["school"]["novations"] == [{"status": "PROPOSED", "acceptedAt": None}]
    assert await _novations_of(engine, moving) == 1


async def test_reject_and_withdraw_close_a_novation_unapplied(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 20: the successor may reject a proposal; the proposer's side (the outgoing trust, an operator) may
    withdraw it before it takes effect; a closed novation moves nothing and another may be proposed."""
    old, new, moving, _, operator = await _setup(client, factory, trusts, licensed=False)
    old_token, new_token = await trust_login(client, old.slug), await trust_login(client, new.slug)
    variables = {
        "i": {
            "schoolId": to_global_id("School", moving.id),
            "toTrust": new.slug,
            "effectiveDate": str(clock.platform_day() + timedelta(days=30)),
            "reason": "TRUST_TRANSFER",
        }
    }
    first = (await trust_gql(client, old.slug, PROPOSE, variables, token=old_token))["data"][
        "proposeNovation"
    ]["novation"]
    close = 'mutation($n: ID!) { %s(input: {novationId: $n, reason: "Not this year"}) { novation { status closeReason } errors { field code } } }'
    wrong_side = await trust_gql(
        client, old.slug, close % "rejectNovation", {"n": first["id"]}, token=old_token
    )
    assert wrong_side["data"]["rejectNovation"]["errors"] == [{"field": "novationId", "code": "NOT_FOUND"}]
    rejected = await trust_gql(
        client, new.slug, close % "rejectNovation", {"n": first["id"]}, token=new_token
    )
    assert rejected["data"]["rejectNovation"]["novation"] == {
        "status": "REJECTED",
        "closeReason": "Not this year",
    }

    second = (await trust_gql(client, old.slug, PROPOSE, variables, token=old_token))["data"][
        "proposeNovation"
    ]["novation"]
    not_theirs = await trust_gql(
        client, new.slug, close % "withdrawNovation", {"n": second["id"]}, token=new_token
    )
    assert not_theirs["data"]["withdrawNovation"]["errors"] == [{"field": "novationId", "code": "NOT_FOUND"}]
    withdrawn = await trust_gql(
        client, old.slug, close % "withdrawNovation", {"n": second["id"]}, token=old_token
    )
    assert withdrawn["data"]["withdrawNovation"]["novation"]["status"] == "WITHDRAWN"

    third = (await trust_gql(client, old.slug, PROPOSE, variables, token=old_token))["data"][
        "proposeNovation"
    ]["novation"]
    by_operator = await platform_gql(client, close % "withdrawNovation", {"n": third["id"]}, token=operator)
    assert by_operator["data"]["withdrawNovation"]["novation"]["status"] == "WITHDRAWN"
    assert await _sees(client, old, moving) and not await _sees(client, new, moving)
    history = await trust_gql(
        client, old.slug, "{ novations(direction: OUT, openOnly: false) { status } }", token=old_token
    )
    assert sorted(n["status"] for n in history["data"]["novations"]) == ["REJECTED", "WITHDRAWN", "WITHDRAWN"]


async def test_a_local_authority_school_converts_to_an_academy(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 20 (20.1.1): a local-authority maintained school converting to an academy is the same operation,
    with its own reason; a trust transfer out of a local authority is refused as the wrong reason."""
    council = await trusts.trust(kind="LOCAL_AUTHORITY")
    academy_trust = await trusts.trust()
    school = await factory.school()
    await trusts.join(school, council, effective_from=clock.platform_day() - timedelta(days=400))
    operator = await platform_login(client, (await trusts.operator()).username)
    base = {
        "schoolId": to_global_id("School", school.id),
        "toTrust": academy_trust.slug,
        "effectiveDate": str(clock.platform_day()),
    }
    wrong = await platform_gql(client, PROPOSE, {"i": base | {"reason": "TRUST_TRANSFER"}}, token=operator)
    assert wrong["data"]["proposeNovation"]["errors"] == [{"field": "reason", "code": "REASON_MISMATCH"}]
    made = await platform_gql(
        client, PROPOSE, {"i": base | {"reason": "CONVERSION_TO_ACADEMY"}}, token=operator
    )
    novation = made["data"]["proposeNovation"]["novation"]
    assert novation["fromTrust"] == {"slug": council.slug}
    token = await trust_login(client, academy_trust.slug)
    done = await trust_gql(
        client, academy_trust.slug, ACCEPT, {"n": novation["id"], "v": CURRENT_TERMS_VERSION}, token=token
    )
    assert done["data"]["acceptNovation"]["novation"]["status"] == "APPLIED"
    assert await _sees(client, academy_trust, school) and not await _sees(client, council, school)
    await _school_unchanged(client, school)


async def test_super_users_are_notified_through_the_outbox(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """LRS 3: the school's (up to three) Super-Users hear of changes to its agreement, a novation included:
    by e-mail when SMTP is configured (a real SMTP server here, STARTTLS and authentication), else in the
    log. Each notice is sent once."""
    old, new, moving, _, _ = await _setup(client, factory, trusts, licensed=False)
    old_token = await trust_login(client, old.slug)
    await trust_gql(
        client,
        old.slug,
        "mutation($s: ID!, $a: [ID!]!) { setSuperUsers(input: {schoolId: $s, accountIds: $a}) { errors { code } } }",
        {"s": to_global_id("School", moving.id), "a": [to_global_id("Account", moving.accounts["admin"].id)]},
        token=old_token,
    )
    await trust_gql(
        client,
        old.slug,
        PROPOSE,
        {
            "i": {
                "schoolId": to_global_id("School", moving.id),
                "toTrust": new.slug,
                "effectiveDate": str(clock.platform_day() + timedelta(days=10)),
                "reason": "TRUST_TRANSFER",
            }
        },
        token=old_token,
    )
    with mail_server(tmp_path) as smtp:
        report = await run_jobs(
            engine,
            owner_engine=None,
            data_dir=settings.data_dir,
            mail=smtp.settings(),
            now=clock.now(),
            steps=["outbox"],
        )
    assert report.step("outbox").failed == []
    to_admin = smtp.to(f"admin@{moving.slug}.example")
    assert len(to_admin) == 1 and "proposed move" in str(to_admin[0].message["Subject"])
    assert to_admin[0].message["To"] == f"Ada Admin <admin@{moving.slug}.example>"
    assert to_admin[0].mail_from == "notices@schoolgraph.test"
    assert (to_admin[0].login, to_admin[0].over_tls) == ("schoolgraph-notices", True)
    assert moving.name in to_admin[0].message.get_content()
    to_trusts = smtp.to(f"trustadmin@{old.slug}.example") + smtp.to(f"trustadmin@{new.slug}.example")
    assert len(to_trusts) == 2
    sent = len(smtp.delivered)

    # Without SMTP: a log line. Withdrawing is another notice; the earlier ones are not sent again.
    pending = await trust_gql(client, old.slug, "{ novations(direction: OUT) { id } }", token=old_token)
    await trust_gql(
        client,
        old.slug,
        "mutation($n: ID!) { withdrawNovation(input: {novationId: $n}) { errors { code } } }",
        {"n": pending["data"]["novations"][0]["id"]},
        token=old_token,
    )
    caplog.set_level(logging.INFO, logger="schoolgraph.outbox")
    logged = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        mail=MailSettings(),
        now=clock.now(),
        steps=["outbox"],
    )
    assert logged.step("outbox").failed == []
    assert len(smtp.delivered) == sent  # no SMTP host: nothing e-mailed (and the server is gone)
    withdrawn = [m for m in caplog.messages if "NOVATION_WITHDRAWN" in m and moving.name in m]
    assert len(withdrawn) == 3  # the Super-User's school, and both trusts
    assert any("to 1 recipient(s)" in m for m in withdrawn)
    assert not [m for m in caplog.messages if "NOVATION_PROPOSED" in m and moving.name in m]
    caplog.clear()
    await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        mail=MailSettings(),
        now=clock.now(),
        steps=["outbox"],
    )
    assert not [m for m in caplog.messages if moving.name in m]

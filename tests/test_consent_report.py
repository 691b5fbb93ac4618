"""The consent report (LL 6.3.2, LL 6.3.3): a school admin sees who lacks consent, who turns 13 soon, who is
13+ without their own consent and who withdrew, by name; a trust admin sees the same as counts per school;
nobody else sees either."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from common.settings import Settings
from graph.core.relay import to_global_id
from graph.platform.schema import build_schema as platform_schema
from graph.trust.schema import build_schema as trust_schema
from tests.factories import clock
from tests.factories.people import new_upn
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, trust_gql, trust_login

COUNTS = "counts { withoutConsent turning13 ownConsentMissing withdrawals }"
REPORT = f"""
{{ consentReport {{ {COUNTS} withoutConsent {{ id }} turning13 {{ id }} ownConsentMissing {{ id }}
    withdrawals {{ id method withdrawnAt }} }} }}
"""
SUMMARIES = f"{{ consentSummaries {{ schoolId slug name {COUNTS} }} }}"
CREATE_PUPIL = """
mutation($input: CreatePupilInput!) { createPupil(input: $input) { pupil { id } errors { field code } } }
"""
WITHDRAW = """
mutation($pupil: ID!) { withdrawConsent(input: {pupilId: $pupil}) { consent { id } errors { code } } }
"""


def years_before(day: date, years: int, *, days: int = 0) -> str:
    return (day.replace(year=day.year - years) + timedelta(days=days)).isoformat()


async def new_pupil(client: httpx.AsyncClient, school: SchoolData, admin: str, born: str) -> str:
    pupil = {"forename": "Nia", "surname": f"Born {born}", "dateOfBirth": born, "gender": "FEMALE"}
    body = await gql(client, school.slug, CREATE_PUPIL, {"input": {**pupil, "upn": new_upn()}}, token=admin)
    payload = body["data"]["createPupil"]
    assert payload["errors"] == [], payload
    pupil_id: str = payload["pupil"]["id"]
    return pupil_id


async def shape(client: httpx.AsyncClient, factory: SchoolFactory) -> tuple[SchoolData, str, dict[str, Any]]:
    """A school where pupil3's consent was withdrawn, and three pupils were added: one turning 13 in ten
    days (under 13, no consent), one 13 today and one of 14 (neither has given their own consent)."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    today = clock.school_day()
    withdrawn = await gql(
        client,
        school.slug,
        WITHDRAW,
        {"pupil": to_global_id("Pupil", school.pupils["pupil3"].id)},
        token=admin,
    )
    assert withdrawn["data"]["withdrawConsent"]["errors"] == []
    added = {
        "soon": await new_pupil(client, school, admin, years_before(today, 13, days=10)),
        "thirteen": await new_pupil(client, school, admin, years_before(today, 13)),
        "fourteen": await new_pupil(client, school, admin, years_before(today, 14)),
        "withdrawal": withdrawn["data"]["withdrawConsent"]["consent"]["id"],
    }
    return school, admin, added


async def test_a_school_admin_sees_the_consent_report(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.2, LL 6.3.3: under-13s without a current parent's consent, pupils turning 13 in the next 30
    days, pupils 13+ without their own consent, and withdrawals, by name for the school admin, with counts."""
    school, admin, added = await shape(client, factory)
    body = await gql(client, school.slug, REPORT, token=admin)
    assert "errors" not in body, body
    report = body["data"]["consentReport"]
    pupil3 = to_global_id("Pupil", school.pupils["pupil3"].id)
    assert {p["id"] for p in report["withoutConsent"]} == {pupil3, added["soon"]}
    assert [p["id"] for p in report["turning13"]] == [added["soon"]]
    assert {p["id"] for p in report["ownConsentMissing"]} == {added["thirteen"], added["fourteen"]}
    assert [(w["id"], w["method"]) for w in report["withdrawals"]] == [(added["withdrawal"], "PAPER")]
    assert report["counts"] == {"withoutConsent": 2, "turning13": 1, "ownConsentMissing": 2, "withdrawals": 1}


async def test_a_trust_admin_sees_counts_per_school_and_nobody_else_sees_the_report(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 6.3.2: the trust's admins see each of the trust's schools' counts, no names; another trust's admin,
    a school admin's token at the trust URL, staff, pupils, parents, another school and anonymous callers
    get nothing of the report."""
    trust, other_trust = await trusts.trust(), await trusts.trust()
    school, _, _ = await shape(client, factory)
    quiet = await factory.school()
    await trusts.join(school, trust)
    await trusts.join(quiet, trust)
    token = await trust_login(client, trust.slug)
    body = await trust_gql(client, trust.slug, SUMMARIES, token=token)
    assert "errors" not in body, body
    by_slug = {s["slug"]: s for s in body["data"]["consentSummaries"]}
    assert by_slug == {
        school.slug: {
            "schoolId": to_global_id("School", school.id),
            "slug": school.slug,
            "name": school.name,
            "counts": {"withoutConsent": 2, "turning13": 1, "ownConsentMissing": 2, "withdrawals": 1},
        },
        quiet.slug: {
            "schoolId": to_global_id("School", quiet.id),
            "slug": quiet.slug,
            "name": quiet.name,
            "counts": {"withoutConsent": 0, "turning13": 0, "ownConsentMissing": 0, "withdrawals": 0},
        },
    }
    assert "Nia" not in str(body) and str(school.pupils["pupil3"].id) not in str(body)

    stranger = await trust_login(client, other_trust.slug)
    school_admin = await login(client, school.slug, "admin")
    for caller in (None, stranger, school_admin):
        refused = await trust_gql(client, trust.slug, SUMMARIES, token=caller)
        assert refused["data"]["consentSummaries"] is None
    for username in ("teacher1", "senco", "pupil1", "parent1"):
        refused = await gql(client, school.slug, REPORT, token=await login(client, school.slug, username))
        assert refused["data"]["consentReport"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    anonymous = await gql(client, school.slug, REPORT)
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    other_admin = await login(client, quiet.slug, "admin")
    elsewhere = (await gql(client, quiet.slug, REPORT, token=other_admin))["data"]["consentReport"]
    assert elsewhere["counts"]["withoutConsent"] == 0 and elsewhere["withdrawals"] == []


def test_the_platform_schema_has_nothing_of_consent() -> None:
    """LL 6.3.2: the operator sees nothing of pupils' consent, not even counts: no type or field of the
    platform schema is about consent (the trust schema has the counts only, no consent record)."""
    platform = platform_schema(Settings())._schema
    assert not [name for name in platform.type_map if "consent" in name.lower()]
    fields = [
        f for t in platform.type_map.values() for f in getattr(t, "fields", {}) if "consent" in f.lower()
    ]
    assert fields == []
    trust = set(trust_schema(Settings())._schema.type_map)
    assert {"SchoolConsent", "ConsentCounts"} <= trust and not trust & {"Consent", "ConsentRequest", "Pupil"}

"""Consent for pupils (LL 6.3.2): parents consent digitally, school admins record paper consent, withdrawal
ends access at once, and no route opens an account for an under-13 without a current consent.

Every school built by the factory starts with a parent's paper consent for each pupil (tests/factories);
these tests withdraw and give consent through the product's own mutations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from tests.factories import clock
from tests.factories.audit import entries
from tests.factories.people import new_school
from tests.factories.roster import (
    activate,
    activation_codes,
    enrol,
    imported_accounts,
    klass,
    oneroster,
    set_org,
    upload,
    user,
)
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login

CONSENT_FIELDS = "id givenBy method contactId recordedBy noticeVersion purposes givenOn withdrawnAt"
GIVE = f"""
mutation($pupil: ID!) {{ giveConsent(input: {{pupilId: $pupil}}) {{
  consent {{ {CONSENT_FIELDS} }} errors {{ field code message }} }} }}
"""
WITHDRAW = f"""
mutation($pupil: ID!, $reason: String) {{ withdrawConsent(input: {{pupilId: $pupil, reason: $reason}}) {{
  consent {{ {CONSENT_FIELDS} withdrawalReason }} errors {{ field code message }} }} }}
"""
PAPER = f"""
mutation($pupil: ID!, $contact: ID!, $ref: String!, $on: Date!) {{
  recordPaperConsent(input: {{pupilId: $pupil, contactId: $contact, evidenceReference: $ref, givenOn: $on}}) {{
    consent {{ {CONSENT_FIELDS} evidenceReference }} errors {{ field code message }} }} }}
"""
HISTORY = f"query($pupil: ID!) {{ pupilConsents(pupilId: $pupil) {{ {CONSENT_FIELDS} }} }}"
REQUESTS = """
{ consentRequests { pupil { id forename } parentalConsentRequired current { method noticeVersion } } }
"""
LOGIN = """
mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) {
  accessToken errors { field code message } } }
"""
CREATE = """
mutation($person: ID!, $u: String!) { createAccount(input: {personId: $person, username: $u}) {
  account { id username } temporaryPassword errors { field code message } } }
"""
VIEWER = "{ viewer { username } }"


def pupil_id(school: SchoolData, key: str) -> str:
    return to_global_id("Pupil", school.pupils[key].id)


async def run(
    client: httpx.AsyncClient, school: SchoolData, token: str | None, query: str, **variables: Any
) -> Any:
    """The one root field's value (a payload, a list); asserts the request itself was not refused."""
    body = await gql(client, school.slug, query, variables, token=token)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def login_codes(client: httpx.AsyncClient, school: SchoolData, username: str) -> list[str]:
    payload = await run(client, school, None, LOGIN, u=username, p=PASSWORD)
    return [e["code"] for e in payload["errors"]]


def error_codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_a_parent_gives_and_withdraws_consent_and_the_childs_access_follows(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 6.3.2: an under-13 has access only while a parent's consent is current. A withdrawal (to the school,
    or by the parent) ends the child's sessions at once and refuses sign-in; the parent consents digitally
    for the current privacy notice; the history keeps every consent; each is in the school's audit chain."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    parent = await login(client, school.slug, "parent1")
    child_token = await login(client, school.slug, "pupil1")
    child = pupil_id(school, "pupil1")

    withdrawn = await run(client, school, admin, WITHDRAW, pupil=child, reason="Letter from parent")
    assert withdrawn["errors"] == []
    assert withdrawn["consent"]["withdrawnAt"] is not None
    assert withdrawn["consent"]["withdrawalReason"] == "Letter from parent"
    refused = await gql(client, school.slug, VIEWER, token=child_token)
    assert refused["data"]["viewer"] is None  # the session ended with the withdrawal
    assert await login_codes(client, school, "pupil1") == ["PARENTAL_CONSENT_REQUIRED"]

    clock.CLOCK.advance(timedelta(minutes=5))  # the parent answers a little later
    requests = await run(client, school, parent, REQUESTS)
    assert requests == [
        {
            "pupil": {"id": child, "forename": school.pupils["pupil1"].forename},
            "parentalConsentRequired": True,
            "current": None,
        }
    ]
    given = await run(client, school, parent, GIVE, pupil=child)
    assert given["errors"] == []
    consent = given["consent"]
    assert (consent["givenBy"], consent["method"], consent["withdrawnAt"]) == ("PARENT", "DIGITAL", None)
    assert consent["contactId"] == to_global_id("Contact", school.contacts["parent1"].id)
    assert consent["recordedBy"] == to_global_id("Account", school.accounts["parent1"].id)
    assert consent["noticeVersion"] == "2026-1" and "STATISTICAL_REPORTS" in consent["purposes"]
    assert consent["givenOn"] == clock.school_day().isoformat()  # the school's date on the suite's clock
    assert await login_codes(client, school, "pupil1") == []

    history = await run(client, school, parent, HISTORY, pupil=child)
    assert [(c["method"], c["withdrawnAt"] is None) for c in history] == [("DIGITAL", True), ("PAPER", False)]

    child_token = await login(client, school.slug, "pupil1")
    assert (await run(client, school, parent, WITHDRAW, pupil=child))["errors"] == []
    assert (await gql(client, school.slug, VIEWER, token=child_token))["data"]["viewer"] is None
    assert await login_codes(client, school, "pupil1") == ["PARENTAL_CONSENT_REQUIRED"]

    audited = [
        (e.action, e.actor_id, e.detail["method"])
        for e in await entries(engine, school.id)
        if e.action.startswith("consent.") and e.target_id == school.pupils["pupil1"].id
    ]
    assert audited == [
        ("consent.withdrawn", school.accounts["admin"].id, "PAPER"),
        ("consent.given", school.accounts["parent1"].id, "DIGITAL"),
        ("consent.withdrawn", school.accounts["parent1"].id, "DIGITAL"),
    ]


async def test_no_route_opens_an_account_for_an_under_13_without_consent(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 6.3.2: createAccount refuses an under-13 pupil without a current parent's consent (nothing is
    written); a school admin records the parent's paper consent, naming the form, and then it succeeds."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    pupil = pupil_id(school, "pupil3")
    assert (await run(client, school, admin, WITHDRAW, pupil=pupil))["errors"] == []

    refused = await run(client, school, admin, CREATE, person=pupil, u="pat.three")
    assert error_codes(refused) == [("personId", "PARENTAL_CONSENT_REQUIRED")]
    assert refused["account"] is None and refused["temporaryPassword"] is None
    assert await login_codes(client, school, "pat.three") == ["INVALID_CREDENTIALS"]  # no account exists

    carer = to_global_id("Contact", school.contacts["carer_pupil3"].id)
    recorded = await run(
        client,
        school,
        admin,
        PAPER,
        pupil=pupil,
        contact=carer,
        ref="Form 2026/118, office file",
        on="2026-11-02",
    )
    assert recorded["errors"] == []
    assert recorded["consent"]["method"] == "PAPER"
    assert recorded["consent"]["evidenceReference"] == "Form 2026/118, office file"
    assert recorded["consent"]["givenOn"] == "2026-11-02"
    assert recorded["consent"]["contactId"] == carer

    created = await run(client, school, admin, CREATE, person=pupil, u="pat.three")
    assert created["errors"] == [] and created["account"]["username"] == "pat.three"
    payload = await run(client, school, None, LOGIN, u="pat.three", p=created["temporaryPassword"])
    assert payload["errors"] == [] and payload["accessToken"]
    assert [e.action for e in await entries(engine, school.id, "consent.recorded")] == ["consent.recorded"]


async def test_bad_consent_input_names_field_and_code_and_writes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 6.3.2: consent for a child not yours, a form dated in the future, an evidence reference too long,
    a contact who is not the pupil's parent, a second current consent, a withdrawal of none: each is a
    UserError naming its field and code, and no consent or audit entry is written."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    parent = await login(client, school.slug, "parent1")
    pupil2 = pupil_id(school, "pupil2")
    carer = to_global_id("Contact", school.contacts["carer_pupil2"].id)
    stranger = to_global_id("Contact", school.contacts["parent1"].id)

    assert error_codes(await run(client, school, parent, GIVE, pupil=pupil2)) == [
        ("pupilId", "NOT_YOUR_CHILD")
    ]
    assert error_codes(await run(client, school, parent, WITHDRAW, pupil=pupil2)) == [
        ("pupilId", "NOT_YOUR_CHILD")
    ]
    assert error_codes(await run(client, school, admin, WITHDRAW, pupil=pupil2, reason="x" * 201)) == [
        ("reason", "TOO_LONG")
    ]
    assert (await run(client, school, admin, WITHDRAW, pupil=pupil2))["errors"] == []
    before = await run(client, school, admin, HISTORY, pupil=pupil2)
    audit_before = len(await entries(engine, school.id))
    cases = {
        "too long": (
            dict(contact=carer, ref="x" * 101, on="2026-11-01"),
            [("evidenceReference", "TOO_LONG")],
        ),
        "blank": (dict(contact=carer, ref="  ", on="2026-11-01"), [("evidenceReference", "REQUIRED")]),
        "future": (dict(contact=carer, ref="Form 7", on="2026-11-19"), [("givenOn", "IN_FUTURE")]),
        "not linked": (dict(contact=stranger, ref="Form 7", on="2026-11-01"), [("contactId", "NOT_LINKED")]),
        "not a contact": (dict(contact=pupil2, ref="Form 7", on="2026-11-01"), [("contactId", "NOT_FOUND")]),
    }
    for name, (variables, expected) in cases.items():
        payload = await run(client, school, admin, PAPER, pupil=pupil2, **variables)
        assert error_codes(payload) == expected, name
        assert payload["consent"] is None, name
    assert error_codes(await run(client, school, admin, WITHDRAW, pupil=pupil2)) == [
        ("pupilId", "NO_CONSENT")
    ]
    assert await run(client, school, admin, HISTORY, pupil=pupil2) == before
    assert not [
        e for e in (await entries(engine, school.id))[audit_before:] if e.action.startswith("consent.")
    ]

    good = dict(contact=carer, ref="Form 7", on="2026-11-18")
    assert (await run(client, school, admin, PAPER, pupil=pupil2, **good))["errors"] == []
    again = await run(client, school, admin, PAPER, pupil=pupil2, **good)
    assert error_codes(again) == [("pupilId", "ALREADY_GIVEN")]


async def test_consent_records_are_for_the_schools_admins_and_the_childs_parents_only(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.2: another school, staff, the pupil, another child's parent and an anonymous caller get nothing
    of a pupil's consents, and cannot give, record or withdraw one."""
    school = await factory.school()
    other = await factory.school()
    child = pupil_id(school, "pupil1")
    carer = to_global_id("Contact", school.contacts["parent1"].id)
    paper = dict(pupil=child, contact=carer, ref="Form 1", on="2026-11-01")
    assert (
        len(await run(client, school, await login(client, school.slug, "admin"), HISTORY, pupil=child)) == 1
    )

    other_admin = await login(client, other.slug, "admin")
    assert await run(client, other, other_admin, HISTORY, pupil=child) == []
    assert error_codes(await run(client, other, other_admin, WITHDRAW, pupil=child)) == [
        ("pupilId", "NO_CONSENT")
    ]
    other_carer = to_global_id("Contact", other.contacts["parent1"].id)
    foreign = dict(paper, contact=other_carer)
    assert error_codes(await run(client, other, other_admin, PAPER, **foreign)) == [("pupilId", "NOT_FOUND")]
    assert (
        len(await run(client, school, await login(client, school.slug, "admin"), HISTORY, pupil=child)) == 1
    )
    other_parent = await login(client, other.slug, "parent1")
    assert error_codes(await run(client, other, other_parent, GIVE, pupil=child)) == [
        ("pupilId", "NOT_YOUR_CHILD")
    ]

    for username, code in (
        ("teacher1", "FORBIDDEN"),
        ("senco", "FORBIDDEN"),
        ("pupil1", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ):
        token = None if username is None else await login(client, school.slug, username)
        for query, variables in (
            (HISTORY, {"pupil": child}),
            (REQUESTS, {}),
            (GIVE, {"pupil": child}),
            (WITHDRAW, {"pupil": child}),
            (PAPER, paper),
        ):
            body = await gql(client, school.slug, query, variables, token=token)
            assert body["data"] is None or next(iter(body["data"].values())) is None, (username, query)
            assert [e["extensions"]["code"] for e in body["errors"]] == [code], (username, query)

    parent = await login(client, school.slug, "parent1")
    assert await run(client, school, parent, HISTORY, pupil=pupil_id(school, "pupil2")) == []


async def test_an_imported_under_13_is_activated_once_a_parent_has_consented(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 6.3.2: an imported pupil under 13 cannot be activated with their code until a parent's consent is
    recorded; the refusal does not use up the code, which then works."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    admin = await login(client, school.slug, "admin")
    born = clock.school_day().replace(year=clock.school_day().year - 10).isoformat()
    package = oneroster(
        users=[
            user("p1", "student", "Yan", "Young", username="yan.young"),
            user("m1", "parent", "Mia", "Young", username="mia.young", agents="p1"),
        ],
        classes=[klass("c1", "Class 5Y")],
        enrollments=[enrol("e1", "c1", "p1")],
        demographics=[{"sourcedId": "p1", "birthDate": born, "sex": "female"}],
    )
    assert (await upload(client, school.slug, admin, package))["data"]["importRoster"]["errors"] == []
    accounts = await imported_accounts(client, school.slug, admin)
    code = (await activation_codes(client, school.slug, admin, [accounts["yan.young"]["id"]]))["yan.young"]
    assert error_codes_of(await activate(client, school.slug, "yan.young", code)) == [
        "PARENTAL_CONSENT_REQUIRED"
    ]

    body = await gql(
        client,
        school.slug,
        "{ pupils(first: 10) { edges { node { id forename contacts { id } } } } }",
        token=admin,
    )
    yan = next(e["node"] for e in body["data"]["pupils"]["edges"] if e["node"]["forename"] == "Yan")
    paper = dict(pupil=yan["id"], contact=yan["contacts"][0]["id"], ref="Admission form 12", on="2026-11-18")
    assert (await run(client, school, admin, PAPER, **paper))["errors"] == []
    activated = await activate(client, school.slug, "yan.young", code)
    assert activated["errors"] == [] and activated["accessToken"]


def error_codes_of(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]

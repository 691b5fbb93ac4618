"""Consent at 13 (LL 6.3.3): the scheduled job flags pupils who turned 13; at their next sign-in such a
pupil must give their own consent before anything else works, unless a school admin recorded that a parent
necessarily stays responsible."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from server.jobs import run_jobs
from subscriptions.outbox import MailSettings
from tests.factories import clock
from tests.factories.audit import entries
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login

UPDATE_DOB = """
mutation($id: ID!, $born: Date!) { updatePupil(input: {pupilId: $id, dateOfBirth: $born}) { errors { code } } }
"""
LOGIN = """
mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) {
  accessToken consentRequired errors { code } } }
"""
GIVE_OWN = "mutation { giveOwnConsent { givenOn errors { field code } } }"
HISTORY = "query($id: ID!) { pupilConsents(pupilId: $id) { givenBy method contactId withdrawnAt } }"
RESPONSIBLE = """
mutation($id: ID!, $reason: String!) { recordParentStaysResponsible(input: {pupilId: $id, reason: $reason}) {
  recorded errors { field code } } }
"""
PUPILS = "{ pupils { edges { node { id } } } }"


async def turning_13_in(
    client: httpx.AsyncClient, school: SchoolData, admin: str, key: str, days: int
) -> None:
    """Record (as the school admin) that the pupil turns 13 in ``days`` days."""
    today = clock.school_day()
    born = today.replace(year=today.year - 13) + timedelta(days=days)
    pupil = to_global_id("Pupil", school.pupils[key].id)
    body = await gql(client, school.slug, UPDATE_DOB, {"id": pupil, "born": born.isoformat()}, token=admin)
    assert body["data"]["updatePupil"]["errors"] == [], body


async def sign_in(client: httpx.AsyncClient, school: SchoolData, username: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql(client, school.slug, LOGIN, {"u": username, "p": PASSWORD}))["data"][
        "login"
    ]
    assert payload["errors"] == [], payload
    return payload


async def flag(engine: AsyncEngine, school: SchoolData, tmp_path: Path) -> list[str]:
    """Run the job's step now; what it did at this school."""
    report = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=tmp_path,
        mail=MailSettings(),
        now=clock.now(),
        steps=["consent_at_13"],
    )
    return [a.split(":", 1)[1] for a in report.step("consent_at_13").applied if a.startswith(str(school.id))]


async def test_a_pupil_who_turned_13_gives_their_own_consent_before_anything_else(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """LL 6.3.3: before the birthday the job flags nobody; after it, the job flags the pupil once; their
    sign-in says consentRequired and every other field answers CONSENT_REQUIRED until giveOwnConsent; the
    consent (theirs, digital) and the flagging are in the school's audit chain."""
    school = await factory.school()
    await turning_13_in(client, school, await login(client, school.slug, "admin"), "pupil2", 2)
    assert await flag(engine, school, tmp_path) == []
    assert (await sign_in(client, school, "pupil2"))["consentRequired"] is False

    clock.CLOCK.advance(timedelta(days=3))
    assert await flag(engine, school, tmp_path) == ["1"]
    assert await flag(engine, school, tmp_path) == []  # once
    signed_in = await sign_in(client, school, "pupil2")
    assert signed_in["consentRequired"] is True
    token = signed_in["accessToken"]
    refused = await gql(client, school.slug, PUPILS, token=token)
    assert refused["data"]["pupils"] is None
    assert [(e["extensions"]["code"], e["extensions"]["reason"]) for e in refused["errors"]] == [
        ("FORBIDDEN", "CONSENT_REQUIRED")
    ]
    given = (await gql(client, school.slug, GIVE_OWN, token=token))["data"]["giveOwnConsent"]
    assert given == {"givenOn": clock.school_day().isoformat(), "errors": []}
    pupil = to_global_id("Pupil", school.pupils["pupil2"].id)
    admin = await login(client, school.slug, "admin")
    history = (await gql(client, school.slug, HISTORY, {"id": pupil}, token=admin))["data"]["pupilConsents"]
    assert history[0] == {"givenBy": "PUPIL", "method": "DIGITAL", "contactId": None, "withdrawnAt": None}
    assert [c["givenBy"] for c in history] == ["PUPIL", "PARENT"]  # the parent's stays on record
    mine = await gql(client, school.slug, PUPILS, token=token)
    assert [e["node"]["id"] for e in mine["data"]["pupils"]["edges"]] == [
        to_global_id("Pupil", school.pupils["pupil2"].id)
    ]
    assert (await sign_in(client, school, "pupil2"))["consentRequired"] is False
    again = (await gql(client, school.slug, GIVE_OWN, token=token))["data"]["giveOwnConsent"]
    assert again["errors"] == [{"field": None, "code": "ALREADY_GIVEN"}]

    audited = [
        (e.action, e.detail) for e in await entries(engine, school.id) if e.action.startswith("consent.")
    ]
    assert ("consent.own_consent_due", {"pupils": 1}) in audited
    assert [d["givenBy"] for a, d in audited if a == "consent.given"] == ["PUPIL"]


async def test_a_parent_who_stays_responsible_keeps_the_pupil_from_being_asked(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """LL 6.3.3: a school admin records, with a reason, that a parent necessarily stays responsible: the
    pupil is not asked; a missing or too long reason is refused and writes nothing; an under-13 cannot give
    their own consent; only school admins record it and only pupils give their own."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    await turning_13_in(client, school, admin, "pupilB1", -1)
    pupil = to_global_id("Pupil", school.pupils["pupilB1"].id)
    assert await flag(engine, school, tmp_path) == ["1"]
    assert (await sign_in(client, school, "pupilB1"))["consentRequired"] is True

    for reason, code in (("  ", "REQUIRED"), ("x" * 201, "TOO_LONG")):
        body = await gql(client, school.slug, RESPONSIBLE, {"id": pupil, "reason": reason}, token=admin)
        assert body["data"]["recordParentStaysResponsible"]["errors"] == [{"field": "reason", "code": code}]
    assert (await sign_in(client, school, "pupilB1"))["consentRequired"] is True
    reason = "Severe learning difficulty: the parent holds responsibility"
    body = await gql(client, school.slug, RESPONSIBLE, {"id": pupil, "reason": reason}, token=admin)
    assert body["data"]["recordParentStaysResponsible"] == {"recorded": True, "errors": []}
    token = (await sign_in(client, school, "pupilB1"))["accessToken"]
    assert "errors" not in await gql(client, school.slug, PUPILS, token=token)
    report = await gql(client, school.slug, "{ consentReport { ownConsentMissing { id } } }", token=admin)
    assert report["data"]["consentReport"]["ownConsentMissing"] == []  # not missing: the parent's stands
    assert [e.action for e in await entries(engine, school.id, "consent.parent_stays_responsible")] == [
        "consent.parent_stays_responsible"
    ]

    young = await login(client, school.slug, "pupil1")
    under = (await gql(client, school.slug, GIVE_OWN, token=young))["data"]["giveOwnConsent"]
    assert under["errors"] == [{"field": None, "code": "UNDER_13"}]
    for username, query, variables in (
        ("teacher1", RESPONSIBLE, {"id": pupil, "reason": "x"}),
        ("parent1", RESPONSIBLE, {"id": pupil, "reason": "x"}),
        ("parent1", GIVE_OWN, {}),
        ("admin", GIVE_OWN, {}),
    ):
        body = await gql(
            client, school.slug, query, variables, token=await login(client, school.slug, username)
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], (username, query)
    anonymous = await gql(client, school.slug, GIVE_OWN)
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]

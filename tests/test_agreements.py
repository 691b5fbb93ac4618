"""Versioned documents and their acceptance (LL 21, LRS 3, LL 3.1, LL 6.2, LRS 1.1): operators publish, the
school's Super-Users hear of it by e-mail and accept the licence terms for the school, every user (a parent
for a child under 13) accepts the user policies and the LRS agreement, and until then the gates hold.

Documents are the platform's, so a document published here binds every school of the test database: the
module's fixture removes them after each test (as the owner; the runtime role cannot delete them), so no
other test meets a gate it did not ask for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from tests.factories import clock
from tests.factories.audit import entries
from tests.factories.people import new_school, new_uln
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login

PUBLISH = """
mutation($i: PublishDocumentInput!) { publishDocument(input: $i) {
  document { id kind version title summaryOfChanges effectiveFrom }
  schoolsTold schoolsWithoutSuperUser { slug } errors { field code message } } }
"""
NOTICES = "{ notices { unread items { document { id kind version } inForce acceptedAt readAt } } }"
ACCEPT = """
mutation($ids: [ID!]!, $child: ID, $ref: String) {
  acceptDocuments(input: {documentIds: $ids, onBehalfOf: $child, evidenceReference: $ref}) {
    acceptances { documentId acceptedAt onBehalfOf } errors { field code message } } }
"""
READ = "mutation($d: ID!) { markNoticeRead(input: {documentId: $d}) { readAt errors { field code } } }"
REPORT = """
{ acceptanceReport { licenceTerms { version } licenceAcceptedAt
  outstanding { document { kind } count accounts { username role } } } }
"""
SUPER_USERS = """
mutation($s: ID!, $a: [ID!]!) { setSuperUsers(input: {schoolId: $s, accountIds: $a}) { errors { code } } }
"""
VIEWER = "{ viewer { username } ladders(first: 1) { edges { cursor } } }"
"""The caller's name (exempt: usable while documents are pending) and a field any signed-in user reads."""


@pytest.fixture(autouse=True)
async def _documents_removed(owner_engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with owner_engine.begin() as connection:
        await connection.execute(text("DELETE FROM notice_reads"))
        await connection.execute(text("DELETE FROM document_acceptances"))
        await connection.execute(text("DELETE FROM outbox WHERE kind = 'DOCUMENT_PUBLISHED'"))
        await connection.execute(text("DELETE FROM policy_documents"))


async def publish(
    client: httpx.AsyncClient, operator: str, kind: str, version: str, *, days: int = 0, **extra: Any
) -> dict[str, Any]:
    """Publish through the platform endpoint, in force ``days`` after the platform's today."""
    draft = {
        "kind": kind,
        "version": version,
        "title": kind.replace("_", " ").title(),
        "body": f"The whole text of {kind} {version}.",
        "summaryOfChanges": f"What changed in {version}.",
        "effectiveOn": str(clock.platform_day() + timedelta(days=days)),
        **extra,
    }
    body = await platform_gql(client, PUBLISH, {"i": draft}, token=operator)
    assert body.get("data"), body
    payload: dict[str, Any] = body["data"]["publishDocument"]
    return payload


async def published(client: httpx.AsyncClient, operator: str, kind: str, version: str, **kw: Any) -> str:
    payload = await publish(client, operator, kind, version, **kw)
    assert payload["errors"] == [], payload
    document_id: str = payload["document"]["id"]
    return document_id


async def operator_token(client: httpx.AsyncClient, trusts: TrustFactory) -> str:
    return await platform_login(client, (await trusts.operator()).username)


async def nominate(client: httpx.AsyncClient, operator: str, school: SchoolData, *usernames: str) -> None:
    ids = [to_global_id("Account", school.accounts[u].id) for u in usernames]
    body = await platform_gql(
        client, SUPER_USERS, {"s": to_global_id("School", school.id), "a": ids}, token=operator
    )
    assert body["data"]["setSuperUsers"]["errors"] == [], body


async def field(
    client: httpx.AsyncClient, school: SchoolData, token: str | None, query: str, **variables: Any
) -> Any:
    """The root field's value; asserts there were no errors."""
    body = await gql(client, school.slug, query, variables, token=token)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def refusal(
    client: httpx.AsyncClient, school: SchoolData, token: str | None, query: str, **variables: Any
) -> str | None:
    """The reason (or code) of the first error of a request served with 200."""
    body = await gql(client, school.slug, query, variables, token=token)
    errors = body.get("errors") or [{}]
    ext: dict[str, str] = errors[0].get("extensions", {})
    return ext.get("reason") or ext.get("code")


async def ok(client: httpx.AsyncClient, school: SchoolData, token: str) -> dict[str, Any]:
    """The viewer, once nothing is pending: the gated field answers too."""
    body = await gql(client, school.slug, VIEWER, token=token)
    assert "errors" not in body, body
    viewer: dict[str, Any] = body["data"]["viewer"]
    return viewer


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_publishing_emails_super_users_and_names_schools_without_one(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LRS 3, LL 21: a new version is announced to each school's Super-Users through the outbox; a school
    with no Super-User is named to the operator, not "told" by a notice addressed to no one."""
    operator = await operator_token(client, trusts)
    with_one, without = await new_school(factory), await new_school(factory)
    await nominate(client, operator, with_one, "admin")
    payload = await publish(client, operator, "LICENCE_TERMS", "2027-1", days=14)
    assert payload["errors"] == []
    assert payload["document"]["version"] == "2027-1"
    assert payload["document"]["effectiveFrom"].startswith(str(clock.platform_day() + timedelta(days=14)))
    missing = {s["slug"] for s in payload["schoolsWithoutSuperUser"]}
    assert without.slug in missing and with_one.slug not in missing
    async with engine.begin() as connection:
        queued = (
            await connection.execute(
                text("SELECT tenant_id, subject, body FROM outbox WHERE kind = 'DOCUMENT_PUBLISHED'")
            )
        ).all()
    to = {row.tenant_id: row for row in queued}
    assert with_one.id in to and without.id not in to
    assert "2027-1" in to[with_one.id].subject and "What changed in 2027-1." in to[with_one.id].body
    assert payload["schoolsTold"] == len(queued)


async def test_until_a_super_user_accepts_the_licence_terms_the_school_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 21: after the effective date, until one of its Super-Users accepts the current licence terms, the
    school's users get 403 TERMS_NOT_ACCEPTED (recorded in its log); the Super-User can only read and accept them. The acceptance
    is in the school's audit chain and the report shows it."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    await nominate(client, operator, school, "admin")
    teacher = await login(client, school.slug, "teacher1")  # signing in still works
    terms = await published(client, operator, "LICENCE_TERMS", "2027-1")

    refused = await client.post(
        f"/schools/{school.slug}/graphql",
        json={"query": VIEWER},
        headers={"authorization": f"Bearer {teacher}"},
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "TERMS_NOT_ACCEPTED"}
    # LRS 5.1: the refusal is recorded at the school, as the signed-in caller.
    (recorded,) = await entries(engine, school.id, "request.refused")
    assert (recorded.outcome, recorded.actor_username, recorded.detail) == (
        "DENIED",
        "teacher1",
        {"code": "FORBIDDEN", "status": 403, "reason": "TERMS_NOT_ACCEPTED"},
    )

    admin = await login(client, school.slug, "admin")
    assert await refusal(client, school, admin, VIEWER) == "TERMS_NOT_ACCEPTED"
    inbox = await field(client, school, admin, NOTICES)
    assert [(n["document"]["id"], n["inForce"], n["acceptedAt"]) for n in inbox["items"]] == [
        (terms, True, None)
    ]
    accepted = await field(client, school, admin, ACCEPT, ids=[terms])
    assert accepted["errors"] == [] and accepted["acceptances"][0]["documentId"] == terms

    assert (await ok(client, school, teacher))["username"] == "teacher1"
    report = await field(client, school, admin, REPORT)
    assert report["licenceTerms"] == {"version": "2027-1"}
    assert report["licenceAcceptedAt"] == clock.now().isoformat()
    events = await entries(engine, school.id, "agreement.accepted")
    assert [(e.detail["kind"], e.detail["version"]) for e in events] == [("LICENCE_TERMS", "2027-1")]


async def test_only_a_super_user_accepts_the_licence_terms(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 21: an admin who is not a Super-User is refused with the rule's code, and nothing is recorded."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    terms = await published(client, operator, "LICENCE_TERMS", "2027-1", days=3)  # upcoming: no gate yet
    admin = await login(client, school.slug, "admin")
    payload = await field(client, school, admin, ACCEPT, ids=[terms])
    assert codes(payload) == [("documentIds.0", "SUPER_USER_ONLY")]
    assert (await field(client, school, admin, REPORT))["licenceTerms"] is None  # not in force yet


async def test_upcoming_terms_bind_from_their_date(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 21: a version published for a later date is shown at once (not in force) and binds from its date."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    await published(client, operator, "LICENCE_TERMS", "2027-1", days=2)
    teacher = await login(client, school.slug, "teacher1")
    assert (await ok(client, school, teacher))["username"] == "teacher1"
    admin = await login(client, school.slug, "admin")
    inbox = await field(client, school, admin, NOTICES)
    assert [n["inForce"] for n in inbox["items"]] == [False]
    clock.CLOCK.advance(timedelta(days=2))
    refused = await gql(
        client, school.slug, VIEWER, token=await login(client, school.slug, "teacher1"), expect_status=403
    )
    assert refused["errors"][0]["extensions"]["reason"] == "TERMS_NOT_ACCEPTED"


async def test_user_policies_must_be_accepted_before_anything_else_works(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 3.1: a user who has not accepted the current privacy notice and acceptable use policy can only
    read and accept them; notices can be marked read; after accepting, everything works."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    notice = await published(client, operator, "PRIVACY_NOTICE", "2027-1")
    use = await published(client, operator, "ACCEPTABLE_USE", "2027-1")
    teacher = await login(client, school.slug, "teacher1")
    assert await refusal(client, school, teacher, VIEWER) == "POLICIES_NOT_ACCEPTED"
    inbox = await field(client, school, teacher, NOTICES)
    assert inbox["unread"] == 2
    assert {n["document"]["id"] for n in inbox["items"]} == {notice, use}
    read = await field(client, school, teacher, READ, d=notice)
    assert read == {"readAt": clock.now().isoformat(), "errors": []}
    assert (await field(client, school, teacher, NOTICES))["unread"] == 1

    half = await field(client, school, teacher, ACCEPT, ids=[notice])
    assert half["errors"] == []
    assert await refusal(client, school, teacher, VIEWER) == "POLICIES_NOT_ACCEPTED"
    await field(client, school, teacher, ACCEPT, ids=[use])
    assert (await ok(client, school, teacher))["username"] == "teacher1"
    again = await field(client, school, teacher, ACCEPT, ids=[use])  # accepting again records nothing new
    assert again["errors"] == []
    events = await entries(engine, school.id, "agreement.accepted")
    assert sorted(e.detail["kind"] for e in events) == ["ACCEPTABLE_USE", "PRIVACY_NOTICE"]


async def test_a_parent_accepts_for_a_child_under_13(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 3.1, LL 6.2: the parent sees the new policy in their inbox and accepts it for themself and for
    their child under 13, who cannot accept it; a school admin records a paper acceptance with the form's
    reference; another parent's child is refused."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    notice = await published(client, operator, "PRIVACY_NOTICE", "2027-1")
    parent = await login(client, school.slug, "parent1")
    child = await login(client, school.slug, "pupil1")
    assert [n["document"]["id"] for n in (await field(client, school, parent, NOTICES))["items"]] == [notice]

    own = await field(client, school, child, ACCEPT, ids=[notice])
    assert codes(own) == [("documentIds.0", "PARENT_ACCEPTS")]
    pupil1 = to_global_id("Pupil", school.pupils["pupil1"].id)
    pupil2 = to_global_id("Pupil", school.pupils["pupil2"].id)
    assert codes(await field(client, school, parent, ACCEPT, ids=[notice], child=pupil2)) == [
        ("onBehalfOf", "NOT_YOUR_CHILD")
    ]
    assert await refusal(client, school, child, VIEWER) == "POLICIES_NOT_ACCEPTED"
    for_child = await field(client, school, parent, ACCEPT, ids=[notice], child=pupil1)
    assert for_child["acceptances"][0]["onBehalfOf"] == pupil1
    assert (await ok(client, school, child))["username"] == "pupil1"
    assert await refusal(client, school, parent, VIEWER) == "POLICIES_NOT_ACCEPTED"  # their own is separate
    await field(client, school, parent, ACCEPT, ids=[notice])
    assert (await ok(client, school, parent))["username"] == "parent1"

    admin = await login(client, school.slug, "admin")
    await field(client, school, admin, ACCEPT, ids=[notice])
    too_long = await field(client, school, admin, ACCEPT, ids=[notice], child=pupil2, ref="x" * 101)
    assert codes(too_long) == [("evidenceReference", "TOO_LONG")]
    no_form = await field(client, school, admin, ACCEPT, ids=[notice], child=pupil2)
    assert codes(no_form) == [("evidenceReference", "REQUIRED")]
    assert await refusal(client, school, await login(client, school.slug, "pupil2"), VIEWER) == (
        "POLICIES_NOT_ACCEPTED"
    )
    paper = await field(client, school, admin, ACCEPT, ids=[notice], child=pupil2, ref="Form 2027/14")
    assert paper["errors"] == []
    assert (await ok(client, school, await login(client, school.slug, "pupil2")))["username"] == "pupil2"

    # At 13 the pupil accepts for themself: the parent's acceptance no longer stands for them.
    born = str(clock.school_day().replace(year=clock.school_day().year - 13))
    update = "mutation($p: ID!, $d: Date) { updatePupil(input: {pupilId: $p, dateOfBirth: $d}) { errors { code } } }"
    assert await field(client, school, admin, update, p=pupil1, d=born) == {"errors": []}
    assert codes(await field(client, school, parent, ACCEPT, ids=[notice], child=pupil1)) == [
        ("onBehalfOf", "ACCEPTS_FOR_THEMSELVES")
    ]
    child = await login(client, school.slug, "pupil1")
    assert await refusal(client, school, child, VIEWER) == "POLICIES_NOT_ACCEPTED"
    assert (await field(client, school, child, ACCEPT, ids=[notice]))["errors"] == []
    assert (await ok(client, school, child))["username"] == "pupil1"


async def test_no_uln_or_learner_record_before_the_lrs_agreement(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LRS 1.1: until the user accepts the current LRS user agreement, ULNs and learner records are refused
    with LRS_AGREEMENT_NOT_ACCEPTED; everything else works; after accepting, the ULN is shown."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    admin = await login(client, school.slug, "admin")
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    uln = new_uln()
    updated = await field(
        client,
        school,
        admin,
        "mutation($p: ID!, $u: String) { updatePupil(input: {pupilId: $p, uln: $u}) { errors { code } } }",
        p=pupil,
        u=uln,
    )
    assert updated == {"errors": []}
    agreement = await published(client, operator, "LRS_AGREEMENT", "2027-1")
    read_uln = "query($p: ID!) { pupil(id: $p) { forename uln } }"
    body = await gql(client, school.slug, read_uln, {"p": pupil}, token=admin)
    assert body["data"]["pupil"] == {"forename": school.pupils["pupil1"].forename, "uln": None}
    assert body["errors"][0]["path"] == ["pupil", "uln"]
    assert body["errors"][0]["extensions"]["reason"] == "LRS_AGREEMENT_NOT_ACCEPTED"
    record = "query($p: ID!) { learnerRecord(pupilId: $p) { uln } }"
    assert await refusal(client, school, admin, record, p=pupil) == "LRS_AGREEMENT_NOT_ACCEPTED"
    await field(client, school, admin, ACCEPT, ids=[agreement])
    assert (await field(client, school, admin, read_uln, p=pupil))["uln"] == uln
    assert await field(client, school, admin, record, p=pupil) == {"uln": uln}


async def test_the_report_names_who_has_not_accepted(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 3.1: the admin's report counts and names the active accounts that have not accepted each current
    document; a child under 13 is done once their parent accepts for them."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    notice = await published(client, operator, "PRIVACY_NOTICE", "2027-1")
    admin = await login(client, school.slug, "admin")
    parent = await login(client, school.slug, "parent1")
    await field(client, school, admin, ACCEPT, ids=[notice])
    await field(client, school, parent, ACCEPT, ids=[notice])
    await field(
        client, school, parent, ACCEPT, ids=[notice], child=to_global_id("Pupil", school.pupils["pupil1"].id)
    )
    report = await field(client, school, admin, REPORT)
    [outstanding] = report["outstanding"]
    names = sorted(a["username"] for a in outstanding["accounts"])
    assert names == ["pupil2", "pupilB1", "senco", "teacher1", "teacher2"]
    assert outstanding["count"] == 5 and outstanding["document"] == {"kind": "PRIVACY_NOTICE"}


async def test_bad_input_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 21, LL 3.1: an old version, an id that is no document's, a version in the past, a duplicate, an
    over-long title: each a UserError naming field and code; nothing is published or accepted."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    old = await published(client, operator, "PRIVACY_NOTICE", "2027-1")
    assert codes(await publish(client, operator, "PRIVACY_NOTICE", "2027-1", days=1)) == [
        ("version", "DUPLICATE_VERSION")
    ]
    assert codes(await publish(client, operator, "PRIVACY_NOTICE", "2027-0", days=-1)) == [
        ("effectiveOn", "IN_PAST")
    ]
    assert codes(await publish(client, operator, "ACCEPTABLE_USE", "2027-1", title="t" * 201)) == [
        ("title", "TOO_LONG")
    ]
    clock.CLOCK.advance(timedelta(days=1))
    operator = await operator_token(client, trusts)  # a day later: a fresh sign-in
    new = await published(client, operator, "PRIVACY_NOTICE", "2027-2")
    teacher = await login(client, school.slug, "teacher1")
    stale = await field(client, school, teacher, ACCEPT, ids=[old])
    assert codes(stale) == [("documentIds.0", "SUPERSEDED")]
    unknown = await field(
        client, school, teacher, ACCEPT, ids=[to_global_id("Pupil", school.pupils["pupil1"].id)]
    )
    assert codes(unknown) == [("documentIds.0", "INVALID_ID")]
    inbox = await field(client, school, teacher, NOTICES)
    assert [(n["document"]["id"], n["acceptedAt"]) for n in inbox["items"]] == [(new, None)]
    listed = await platform_gql(client, "{ documents { version } }", token=operator)
    assert listed["data"]["documents"] == [{"version": "2027-2"}, {"version": "2027-1"}]


async def test_another_school_role_and_anonymous_get_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Default deny: anonymous callers get no inbox and cannot accept; staff get no acceptance report; a
    school's report names none of another school's accounts; school tokens publish nothing."""
    operator = await operator_token(client, trusts)
    school, other = await new_school(factory), await new_school(factory)
    notice = await published(client, operator, "PRIVACY_NOTICE", "2027-1")
    assert await refusal(client, school, None, NOTICES) == "UNAUTHENTICATED"
    anonymous = await gql(client, school.slug, ACCEPT, {"ids": [notice]})
    assert anonymous["data"] is None or anonymous["data"]["acceptDocuments"] is None
    admin = await login(client, school.slug, "admin")
    await field(client, school, admin, ACCEPT, ids=[notice])
    teacher = await login(client, school.slug, "teacher1")
    await field(client, school, teacher, ACCEPT, ids=[notice])
    body = await gql(client, school.slug, REPORT, token=teacher)
    assert body["data"]["acceptanceReport"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other_admin = await login(client, other.slug, "admin")
    await field(client, other, other_admin, ACCEPT, ids=[notice])
    theirs = await field(client, other, other_admin, REPORT)
    assert "teacher1" in {a["username"] for a in theirs["outstanding"][0]["accounts"]}  # their own teacher1
    assert await refusal(client, other, admin, NOTICES) == "UNAUTHENTICATED"  # a token of another school
    for token in (admin, None):
        refused = await platform_gql(client, PUBLISH, {"i": {"kind": "PRIVACY_NOTICE", "version": "x", "title": "t",
                                     "body": "b", "summaryOfChanges": "s", "effectiveOn": str(clock.platform_day())}},
                                     token=token)  # fmt: skip
        assert refused["data"] is None
        assert (
            refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        )  # a school's token is nobody here


async def test_a_consent_records_the_privacy_notice_in_force(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 6.3.2: a parent's consent is for the privacy notice in force, by its published version."""
    operator = await operator_token(client, trusts)
    school = await new_school(factory)
    notice = await published(client, operator, "PRIVACY_NOTICE", "2027-7")
    parent = await login(client, school.slug, "parent1")
    await field(client, school, parent, ACCEPT, ids=[notice])
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    withdraw = "mutation($p: ID!) { withdrawConsent(input: {pupilId: $p}) { errors { code } } }"
    give = "mutation($p: ID!) { giveConsent(input: {pupilId: $p}) { consent { noticeVersion } errors { code } } }"
    assert await field(client, school, parent, withdraw, p=pupil) == {"errors": []}
    assert await field(client, school, parent, give, p=pupil) == {
        "consent": {"noticeVersion": "2027-7"},
        "errors": [],
    }

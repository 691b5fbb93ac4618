"""Learning across schools over HTTP: a trust admin's per-school aggregates, the operator's usage statistics
(LL-A 5.2) and the operator's review of reported pre-loaded content (LL 13.3, LL 8.4). Counts and content
only: no pupil's personal data, small counts suppressed, and nobody else reaches them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from tests.factories.learning import gid, mutate, problems
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login, trust_gql, trust_login
from tests.test_learning_content import REPORTED, _scratch_platform_item
from tests.test_learning_statistics import _judge, _use

LEARNING = """
{ learningSummaries { schoolId slug name pupils assessedPupils judgements
    subjects { subject assessedPupils secureShare } } }
"""


def _no_pupil_data(body: Any, schools: list[SchoolData]) -> None:
    text = str(body)
    for school in schools:
        for pupil in school.pupils.values():
            assert str(pupil.id) not in text and pupil.surname not in text and pupil.upn not in text


async def test_a_trust_admin_sees_per_school_learning_aggregates_only(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL-A 5.2 and the issue's "trust admins get per-school aggregates only": per school of the trust
    today, counts and shares; a school with fewer than 5 pupils assessed shows them as null; a school of
    no trust or of another trust is absent; no pupil's data anywhere."""
    trust, other_trust = await trusts.trust(), await trusts.trust()
    big = await factory.school(pupils_per_group=3)
    small = await factory.school(pupils_per_group=3)
    elsewhere = await factory.school(pupils_per_group=3)
    for school in (big, small):
        await trusts.join(school, trust)
    await trusts.join(elsewhere, other_trust)
    await _judge(engine, big, list(big.pupils), secure_rungs=3)
    await _judge(engine, small, ["pupil1", "pupil2"], secure_rungs=4)
    await _judge(engine, elsewhere, list(elsewhere.pupils), secure_rungs=1)
    token = await trust_login(client, trust.slug)
    body = await trust_gql(client, trust.slug, LEARNING, token=token)
    assert "errors" not in body, body
    by_slug = {s["slug"]: s for s in body["data"]["learningSummaries"]}
    assert set(by_slug) == {big.slug, small.slug}
    assert by_slug[big.slug] == {
        "schoolId": to_global_id("School", big.id),
        "slug": big.slug,
        "name": big.name,
        "pupils": 6,
        "assessedPupils": 6,
        "judgements": 48,
        "subjects": [{"subject": "Maths", "assessedPupils": 6, "secureShare": 0.75}],
    }
    assert by_slug[small.slug]["assessedPupils"] is None  # 2 pupils: suppressed
    assert by_slug[small.slug]["subjects"] == [
        {"subject": "Maths", "assessedPupils": None, "secureShare": None}
    ]
    _no_pupil_data(body, [big, small, elsewhere])


async def test_learning_summaries_refuse_everyone_but_the_trusts_admins(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Default deny: anonymous callers, another trust's admin and a school admin's token get nothing."""
    trust, other = await trusts.trust(), await trusts.trust()
    school = await factory.school()
    await trusts.join(school, trust)
    anonymous = await trust_gql(client, trust.slug, LEARNING)
    assert anonymous["data"]["learningSummaries"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    stranger = await trust_login(client, other.slug)
    assert (await trust_gql(client, trust.slug, LEARNING, token=stranger))["data"][
        "learningSummaries"
    ] is None
    school_admin = await login(client, school.slug, "admin")
    refused = await trust_gql(client, trust.slug, LEARNING, token=school_admin)
    assert refused["data"]["learningSummaries"] is None


USAGE = """
query($limit: Int!) { usage(limit: $limit) {
    topContent { contentId code title schools assignments pupilsSubmitted downloads }
    assignmentsBySubject { subject assignments schools }
    schoolUploads } }
"""


async def test_the_operator_sees_usage_across_schools_without_personal_data(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, owner_engine: AsyncEngine,
    engine: AsyncEngine,
) -> None:  # fmt: skip
    """LL-A 5.2: which pre-loaded items are used across schools, counted over every school, with counts
    below 5 suppressed; an item used by fewer than 5 schools in every way is not ranked at all."""
    schools = [await factory.school() for _ in range(6)]
    for school in schools:
        await _use(engine, school, assign="Y3-MATHS", submissions=2, downloads={"Y3-MATHS": 1})
    rare = await _scratch_platform_item(owner_engine)
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    body = await platform_gql(client, USAGE, {"limit": 100}, token=token)
    assert "errors" not in body, body
    usage = body["data"]["usage"]
    ranked = {c["code"]: c for c in usage["topContent"]}
    maths = ranked["Y3-MATHS-WORKBOOK"]
    # Other tests use the same starter item: at least this test's six schools, each count shown.
    assert maths["schools"] >= 6 and maths["assignments"] >= 6 and maths["downloads"] >= 6
    assert maths["pupilsSubmitted"] >= 12
    assert f"TEST-{rare}" not in ranked
    assert all(c["assignments"] is None or c["assignments"] >= 5 for c in usage["topContent"])
    assert all(s["assignments"] >= 5 for s in usage["assignmentsBySubject"])
    text = str(body)
    assert "Private title" not in text
    for school in schools:
        assert school.slug not in text
    _no_pupil_data(body, schools)


REPORTS = """
query($status: ReportStatus) { contentReports(status: $status) {
    id schoolSlug contentCode contentTitle reason status decisionNote reviewedAt } }
"""
REVIEW = """
mutation($input: OperatorReviewInput!) { reviewContentReport(input: $input) {
    report { id status decisionNote } errors { field code message } } }
"""


async def test_the_operator_reviews_reports_of_pre_loaded_content(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, owner_engine: AsyncEngine
) -> None:
    """LL 13.3, LL 8.4: a report about a pre-loaded item reaches the operator (school, item and reason;
    not who reported it); a takedown hides the item at every school at once and is shown to the school;
    a decided report cannot be decided again; an unknown id is NOT_FOUND."""
    school, other = await factory.school(), await factory.school()
    item = await _scratch_platform_item(owner_engine)
    pupil = await login(client, school.slug, "pupil1")
    reported = await mutate(
        client,
        school.slug,
        pupil,
        "reportContent",
        REPORTED,
        contentId=gid("Content", item),
        reason="Wrong key",
    )
    assert reported["errors"] == []
    report_id = reported["report"]["id"]
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    listed = await platform_gql(client, REPORTS, {"status": "OPEN"}, token=token)
    assert "errors" not in listed, listed
    (mine,) = [r for r in listed["data"]["contentReports"] if r["id"] == report_id]
    assert mine == {
        "id": report_id,
        "schoolSlug": school.slug,
        "contentCode": f"TEST-{item}",
        "contentTitle": f"Scratch {item}",
        "reason": "Wrong key",
        "status": "OPEN",
        "decisionNote": None,
        "reviewedAt": None,
    }
    assert "pupil1" not in str(listed) and str(school.pupils["pupil1"].id) not in str(listed)
    decided = await platform_gql(
        client,
        REVIEW,
        {"input": {"reportId": report_id, "decision": "TAKE_DOWN", "note": "Answers are wrong."}},
        token=token,
    )
    payload = decided["data"]["reviewContentReport"]
    assert payload["errors"] == [] and payload["report"]["status"] == "TAKEN_DOWN"
    for slug in (school.slug, other.slug):
        teacher = await login(client, slug, "teacher1")
        listing = await gql(client, slug, "{ content(first: 100) { edges { node { id } } } }", token=teacher)
        assert gid("Content", item) not in {e["node"]["id"] for e in listing["data"]["content"]["edges"]}
    admin = await login(client, school.slug, "admin")
    seen = await gql(
        client,
        school.slug,
        "{ contentReports { edges { node { id status reviewedByOperator } } } }",
        token=admin,
    )
    assert {"id": report_id, "status": "TAKEN_DOWN", "reviewedByOperator": True} in [
        e["node"] for e in seen["data"]["contentReports"]["edges"]
    ]
    again = await platform_gql(
        client, REVIEW, {"input": {"reportId": report_id, "decision": "DISMISS", "note": "x"}}, token=token
    )
    assert problems(again["data"]["reviewContentReport"]) == [("reportId", "ALREADY_REVIEWED")]
    unknown = to_global_id("ContentReport", uuid.uuid4())
    missing = await platform_gql(
        client, REVIEW, {"input": {"reportId": unknown, "decision": "DISMISS", "note": "x"}}, token=token
    )
    assert problems(missing["data"]["reviewContentReport"]) == [("reportId", "NOT_FOUND")]
    audit_query = (
        '{ auditLog(filter: {action: "content.report_reviewed"}) { edges { node { action outcome } } } }'
    )
    audit = await gql(client, school.slug, audit_query, token=admin)
    assert [e["node"] for e in audit["data"]["auditLog"]["edges"]] == [
        {"action": "content.report_reviewed", "outcome": "SUCCESS"}
    ]


async def test_platform_learning_fields_refuse_everyone_but_operators(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Default deny at the platform endpoint: anonymous callers and a trust admin's or school admin's token
    get no usage, no reports, and cannot review."""
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    tokens = [None, await trust_login(client, trust.slug), await login(client, school.slug, "admin")]
    review = {
        "input": {"reportId": to_global_id("ContentReport", uuid.uuid4()), "decision": "DISMISS", "note": "x"}
    }
    for token in tokens:
        usage = await platform_gql(client, USAGE, {"limit": 5}, token=token)
        assert usage["data"]["usage"] is None
        assert usage["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        listed = await platform_gql(client, REPORTS, {"status": "OPEN"}, token=token)
        assert listed["data"]["contentReports"] is None
        refused = await platform_gql(client, REVIEW, review, token=token)
        assert refused["data"] is None or refused["data"]["reviewContentReport"] is None
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

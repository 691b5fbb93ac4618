"""School admins read their school's audit: filters, pages, the pupil access report, and nobody else's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.core.relay import to_global_id
from models import AuditEntry
from server.runtime import Runtime
from tenants.context import bind
from tests.factories import clock
from tests.factories.audit import entries, sequence
from tests.factories.schools import SchoolFactory, gql, login

ENTRY = "seq occurredAt actorType actorId actorUsername role action targetType targetId outcome detail requestId clientAddress"
AUDIT_LOG = f"""
query($filter: AuditLogFilter, $first: Int, $after: String) {{
  auditLog(filter: $filter, first: $first, after: $after) {{
    edges {{ cursor node {{ {ENTRY} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
ACCESS = f"""
query($pupil: ID!, $first: Int, $after: String) {{
  pupilAccessReport(pupilId: $pupil, first: $first, after: $after) {{
    edges {{ node {{ {ENTRY} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


def _nodes(body: dict[str, Any], field: str = "auditLog") -> list[dict[str, Any]]:
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"][field]["edges"]]


async def test_school_admin_reads_the_audit_log_with_every_field(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 8.9, LRS 7.3, LL 7.1.4: a school admin reads the school's audit, newest first, each entry with
    the username at the time, role, action, target type and global id, outcome, time, request id and
    client address; the parent code issued is on record."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    issued = await gql(
        client,
        school.slug,
        "mutation($i: IssueParentCodeInput!) { issueParentCode(input: $i) { code errors { code } } }",
        {"i": {"pupilId": pupil}},
        token=admin,
    )
    assert issued["data"]["issueParentCode"]["errors"] == []
    pending = _nodes(await gql(client, school.slug, AUDIT_LOG, {"first": 10}, token=admin))
    assert pending and {n["seq"] for n in pending} == {None}  # recorded, not yet sequenced: listed
    await sequence(engine, school.id, runtime.auth.keys)
    nodes = _nodes(await gql(client, school.slug, AUDIT_LOG, {"first": 10}, token=admin))
    assert [n["seq"] for n in nodes] == sorted((n["seq"] for n in nodes), reverse=True)
    code = next(n for n in nodes if n["action"] == "parent_code.issued")
    assert code["actorUsername"] == "admin" and code["role"] == "SCHOOL_ADMIN"
    assert code["actorType"] == "ACCOUNT"
    assert code["actorId"] == to_global_id("Account", school.accounts["admin"].id)
    assert (code["targetType"], code["targetId"], code["outcome"]) == ("Pupil", pupil, "SUCCESS")
    assert code["clientAddress"].startswith("test-")
    assert code["requestId"] and code["occurredAt"]
    # One event per action: the service's, naming the mutation that ran it.
    assert set(code["detail"]) == {"parentCodeId", "mutation"}
    assert code["detail"]["mutation"] == "issueParentCode"
    assert not any(n["action"].startswith("mutation.") for n in nodes)
    login_entry = next(n for n in nodes if n["action"] == "auth.login")
    assert login_entry["targetId"] == to_global_id("Account", school.accounts["admin"].id)


async def test_filters_and_pages(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 7.3: spot checks filter by actor, action (or a prefix), target, outcome and time, and page
    through the log with cursors: no entry twice, none skipped."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    await gql(
        client,
        school.slug,
        'mutation { login(input: {username: "teacher1", password: "no"}) { accessToken } }',
    )
    await gql(client, school.slug, "{ pupils { edges { node { id } } } }", token=teacher)
    await gql(client, school.slug, "{ auditLog { edges { node { seq } } } }", token=teacher)  # denied

    async def query(filter: dict[str, Any], **more: Any) -> list[dict[str, Any]]:
        return _nodes(await gql(client, school.slug, AUDIT_LOG, {"filter": filter, **more}, token=admin))

    teacher_id = to_global_id("Account", school.accounts["teacher1"].id)
    mine = await query({"actorId": teacher_id})
    assert mine and {n["actorUsername"] for n in mine} == {"teacher1"}
    assert {n["action"] for n in await query({"action": "auth.*"})} == {"auth.login"}
    rejected = await query({"action": "auth.login", "outcome": "REJECTED"})
    assert [n["targetId"] for n in rejected] == [teacher_id]
    assert [n["action"] for n in await query({"targetId": teacher_id, "outcome": "REJECTED"})] == [
        "auth.login"
    ]
    assert [n["action"] for n in await query({"targetType": "Account", "targetId": teacher_id})][
        -1
    ] == "auth.login"
    assert [n["detail"]["path"] for n in await query({"outcome": "DENIED"})] == ["auditLog"]
    now = clock.now()
    assert await query({"until": (now - timedelta(days=1)).isoformat()}) == []
    recent = await query({"since": (now - timedelta(hours=1)).isoformat()})
    # Everything but the entry recording this very read, which commits with the response.
    assert len(recent) == len(await entries(engine, school.id)) - 1

    await sequence(engine, school.id, runtime.auth.keys)
    everything = await query({})
    await sequence(engine, school.id, runtime.auth.keys)
    seen, after = [], None
    while True:
        body = await gql(client, school.slug, AUDIT_LOG, {"first": 2, "after": after}, token=admin)
        page = body["data"]["auditLog"]
        seen += [edge["node"]["seq"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Every entry once, newest first (each read is recorded too, so the log grew by one meanwhile).
    assert seen == list(range(seen[0], 0, -1))
    assert {n["seq"] for n in everything} <= set(seen)


async def test_bad_filter_input_is_a_clear_error(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """ARCHITECTURE (bad input): an id that is not ours, a foreign cursor or a page size over the cap is
    a BAD_USER_INPUT error naming the field, not a masked internal error."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (AUDIT_LOG, {"filter": {"actorId": "not-an-id"}}, "filter.actorId"),
        (AUDIT_LOG, {"filter": {"targetType": "Group", "targetId": pupil}}, "filter.targetType"),
        (AUDIT_LOG, {"first": 10_000}, "first"),
        (AUDIT_LOG, {"after": "bm90LWEtY3Vyc29y"}, "after"),
        (
            AUDIT_LOG,
            {"filter": {"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}},
            "filter.until",
        ),
        (ACCESS, {"pupil": to_global_id("Group", school.groups["A"].id)}, "pupilId"),
    ]
    for query, variables, field in cases:
        body = await gql(client, school.slug, query, variables, token=admin)
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (variables, error)


# --- nobody else's audit ----------------------------------------------------------------------------------


async def test_another_schools_audit_is_invisible_to_every_role(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 8.9, LRS 5.1: school B's admin sees only B's entries; staff, pupils and parents of A are
    refused A's audit (FORBIDDEN), anonymous callers too (UNAUTHENTICATED), A's admin token is refused at
    B; and the database itself (runtime role bound to B, no application filter) returns no row of A."""
    a, b = await factory.school(), await factory.school()
    admin_a = await login(client, a.slug, "admin")
    await gql(client, a.slug, "{ pupils { edges { node { id } } } }", token=admin_a)
    admin_b = await login(client, b.slug, "admin")
    a_ids = {e.request_id for e in await entries(engine, a.id)}
    assert a_ids

    seen_b = _nodes(await gql(client, b.slug, AUDIT_LOG, {"first": 100}, token=admin_b))
    assert seen_b and not {n["requestId"] for n in seen_b} & a_ids
    assert {n["actorUsername"] for n in seen_b if n["actorUsername"]} == {"admin"}
    pupil_a = to_global_id("Pupil", a.pupils["pupil1"].id)
    assert (
        _nodes(await gql(client, b.slug, ACCESS, {"pupil": pupil_a}, token=admin_b), "pupilAccessReport")
        == []
    )
    assert _nodes(await gql(client, a.slug, ACCESS, {"pupil": pupil_a}, token=admin_a), "pupilAccessReport")

    for username in ("teacher1", "senco", "pupil1", "parent1"):
        token = await login(client, a.slug, username)
        for query, variables in ((AUDIT_LOG, {}), (ACCESS, {"pupil": pupil_a})):
            body = await gql(client, a.slug, query, variables, token=token)
            field = "auditLog" if query is AUDIT_LOG else "pupilAccessReport"
            assert body["data"] == {field: None}, (username, body)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", username
    anonymous = await gql(client, a.slug, AUDIT_LOG)
    assert anonymous["data"] == {"auditLog": None}
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    elsewhere = await gql(client, b.slug, AUDIT_LOG, token=admin_a)
    assert elsewhere["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [b.id])
        raw = await session.execute(text("SELECT count(*) FROM audit_log WHERE school_id = :a"), {"a": a.id})
        assert raw.scalar_one() == 0
        heads = await session.execute(
            text("SELECT count(*) FROM audit_heads WHERE school_id = :a"), {"a": a.id}
        )
        assert heads.scalar_one() == 0
        everything = await session.execute(
            select(AuditEntry.school_id, func.count()).group_by(AuditEntry.school_id)
        )
        assert {row[0] for row in everything.all()} == {b.id}


# --- who accessed this pupil's record ---------------------------------------------------------------------


async def test_pupil_access_report_lists_who_read_the_record(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 7.3: the access report of a pupil lists the teacher who listed pupils including them
    and the admin who opened their record (and changed it), newest first; a teacher whose list did not
    include the pupil is not on it."""
    school = await factory.school()
    pupil = to_global_id("Pupil", school.pupils["pupil1"].id)
    teacher1 = await login(client, school.slug, "teacher1")
    await gql(client, school.slug, "{ pupils { edges { node { surname } } } }", token=teacher1)
    teacher2 = await login(client, school.slug, "teacher2")  # teaches class B: pupil1 is not theirs
    await gql(client, school.slug, "{ pupils { edges { node { surname } } } }", token=teacher2)
    admin = await login(client, school.slug, "admin")
    await gql(
        client,
        school.slug,
        "query($i: ID!) { pupil(id: $i) { surname dateOfBirth } }",
        {"i": pupil},
        token=admin,
    )
    await gql(
        client,
        school.slug,
        "mutation($i: UpdatePupilInput!) { updatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": pupil, "email": "new@example.org"}},
        token=admin,
    )
    report = _nodes(
        await gql(client, school.slug, ACCESS, {"pupil": pupil}, token=admin), "pupilAccessReport"
    )
    assert [(n["actorUsername"], n["role"], n["action"]) for n in report] == [
        ("admin", "SCHOOL_ADMIN", "mutation.updatePupil"),
        ("admin", "SCHOOL_ADMIN", "read.pupil"),
        ("teacher1", "STAFF", "read.pupils"),
    ]
    assert report[1]["targetId"] == pupil and report[2]["targetId"] is None
    # Paged like the log: one at a time gives the same three.
    first = await gql(client, school.slug, ACCESS, {"pupil": pupil, "first": 1}, token=admin)
    page = first["data"]["pupilAccessReport"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql(
        client,
        school.slug,
        ACCESS,
        {"pupil": pupil, "first": 5, "after": page["pageInfo"]["endCursor"]},
        token=admin,
    )
    actions = [e["node"]["action"] for e in page["edges"] + rest["data"]["pupilAccessReport"]["edges"]]
    assert actions == ["mutation.updatePupil", "read.pupil", "read.pupils"]


async def test_audit_log_costs_the_same_for_few_and_many_entries(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A page of the audit log is one statement however many entries it shows (plus the request's
    own overhead and the append recording the read)."""
    from tests.test_query_counts import AUDIT_APPEND, REQUEST_OVERHEAD_ADMIN, counting

    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    counts = []
    for _ in range(2):
        with counting(engine) as statements:
            body = await gql(client, school.slug, AUDIT_LOG, {"first": 100}, token=admin)
        assert "errors" not in body
        counts.append((len(statements), len(body["data"]["auditLog"]["edges"])))
        for _ in range(20):
            await gql(client, school.slug, "{ pupils { edges { node { id } } } }", token=admin)
    (few, shown_few), (many, shown_many) = counts
    assert shown_many >= shown_few + 20
    assert few == many == REQUEST_OVERHEAD_ADMIN + 1 + AUDIT_APPEND

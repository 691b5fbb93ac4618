"""What the audit log records: every mutation, sign-in failures and lockouts, denials, failures, bulk reads."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    is_required_input_field,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.chain import HASHED_FIELDS, canonical
from common.clock import FixedClock
from graph.audit import AuditMutation
from graph.core.relay import to_global_id
from models.platform import PlatformAuditEntry
from server.runtime import Runtime
from tests.factories.audit import entries, sequence, verify
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login

# --- every mutation ---------------------------------------------------------------------------------------

# Values that survive GraphQL coercion; the inputs are meant to be refused by the domain, not the parser.
_SCALARS: dict[str, Any] = {
    "String": "x",
    "ID": "x",
    "Int": 1,
    "Float": 1.5,
    "Boolean": False,
    "Date": "2020-01-01",
    "DateTime": "2020-01-01T00:00:00+00:00",
    "UUID": str(uuid.UUID(int=1)),
}
FILE = object()
"""Where an ``Upload`` belongs: sent as a file part of a multipart request (:func:`walk`), as clients do
(a value in the JSON variables is refused before execution, and would reach no resolver)."""
_CANDIDATES: list[Any] = ["x", 1, 1.5, False, "2020-01-01T00:00:00+00:00", str(uuid.UUID(int=1)), {}, []]


def _scalar(scalar: GraphQLScalarType) -> Any:
    """A value for any scalar, also one added after this test was written: the first the scalar accepts."""
    for value in [_SCALARS[scalar.name]] if scalar.name in _SCALARS else _CANDIDATES:
        try:
            scalar.parse_value(value)
        except Exception:  # noqa: S112 - a scalar refusing a candidate: try the next one
            continue
        return value
    raise AssertionError(f"no dummy value for scalar {scalar.name}: add one to _SCALARS")


def dummy(graphql_type: GraphQLInputType) -> Any:
    """A minimal value of an input type: every required field filled with a dummy, nothing else."""
    if isinstance(graphql_type, GraphQLNonNull):
        return dummy(graphql_type.of_type)
    if isinstance(graphql_type, GraphQLList):
        return [dummy(graphql_type.of_type)]
    if isinstance(graphql_type, GraphQLInputObjectType):
        return {
            name: dummy(field.type)
            for name, field in graphql_type.fields.items()
            if is_required_input_field(field)
        }
    if isinstance(graphql_type, GraphQLEnumType):
        return next(iter(graphql_type.values))
    assert isinstance(graphql_type, GraphQLScalarType), graphql_type
    if graphql_type.name == "Upload":
        return FILE
    return _scalar(graphql_type)


def _file_paths(value: Any, path: str) -> list[str]:
    if value is FILE:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _file_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _file_paths(item, f"{path}.{i}")]
    return []


def _without_files(value: Any) -> Any:
    if value is FILE:
        return None
    if isinstance(value, dict):
        return {key: _without_files(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_files(item) for item in value]
    return value


async def walk(
    client: httpx.AsyncClient, slug: str, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """Send a walked mutation: JSON, or a multipart request when it takes a file."""
    paths = _file_paths(variables, "variables")
    if not paths:
        return await gql(client, slug, query, variables, token=token)
    operations = {"query": query, "variables": _without_files(variables)}
    response = await client.post(
        f"/schools/{slug}/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({str(i): [path] for i, path in enumerate(paths)}),
        },
        files={str(i): ("walk.txt", b"walked", "text/plain") for i in range(len(paths))},
        headers={"authorization": f"Bearer {token}"} if token else {},
    )
    body: dict[str, Any] = response.json()
    return body


def mutation_documents(runtime: Runtime) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every root mutation field of the served school schema -> a document calling it, and its variables."""
    mutation_type = runtime.school_schema._schema.mutation_type
    assert mutation_type is not None
    documents = {}
    for name, field in mutation_type.fields.items():
        required = {arg: spec for arg, spec in field.args.items() if is_required_argument(spec)}
        declared = ", ".join(f"${arg}: {spec.type}" for arg, spec in required.items())
        passed = ", ".join(f"{arg}: ${arg}" for arg in required)
        selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
        query = (
            f"mutation Walk{f'({declared})' if declared else ''} "
            f"{{ {name}{f'({passed})' if passed else ''}{selection} }}"
        )
        documents[name] = (query, {arg: dummy(spec.type) for arg, spec in required.items()})
    return documents


async def test_every_mutation_of_the_schema_is_audited(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 5.1: every mutation of the school schema, walked from the schema itself, leaves an entry
    ``mutation.<name>`` (or the service's own event naming it, ``detail.mutation``): called anonymously (a denial, or a refusal of a public mutation) and then by the
    roles until one reaches the resolver (its own outcome: SUCCESS, REJECTED or FAILED). A mutation added
    later is walked too; one that escapes the audit extension fails here."""
    school = await factory.school()
    documents = mutation_documents(runtime)
    assert {"login", "logout", "createPupil", "issueParentCode"} <= set(documents)

    # Statically: every root mutation field carries the audit extension (schema.py adds it to all).
    definition = runtime.school_schema.get_type_by_name("Mutation")
    assert definition is not None
    unaudited = [
        f.name
        for f in definition.fields  # type: ignore[union-attr]
        if not any(isinstance(e, AuditMutation) for e in f.extensions)
    ]
    assert unaudited == []

    for name, (query, variables) in documents.items():
        body = await walk(client, school.slug, query, variables)
        assert body.get("data") is not None or body.get("errors"), (name, body)

    reached: set[str] = set()
    for username in ("admin", "teacher1", "parent1", "pupil1"):
        for name, (query, variables) in documents.items():
            if name in reached:
                continue
            token = await login(client, school.slug, username)  # fresh: logout and others end sessions
            body = await walk(client, school.slug, query, variables, token=token)
            codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
            if not codes & {"FORBIDDEN", "UNAUTHENTICATED"}:
                reached.add(name)

    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in await entries(engine, school.id):
        # One entry per action: a mutation whose service emitted its own event is that event, naming it.
        action = f"mutation.{entry.detail['mutation']}" if "mutation" in entry.detail else entry.action
        outcomes[(action, entry.actor_type)].add(entry.outcome)
    # The anonymous pass: public mutations run and are refused for their input, the others are denied.
    missing = [name for name in documents if not outcomes[(f"mutation.{name}", "ANONYMOUS")]]
    assert missing == [], f"mutations with no audit entry: {missing}"
    for name in documents:
        assert outcomes[(f"mutation.{name}", "ANONYMOUS")] & {"DENIED", "REJECTED"}, name
    # The signed-in passes: a mutation some role reaches has an entry from the resolver's side.
    assert set(documents) - reached == set(), "no factory role reaches these mutations"
    unrecorded = [
        name
        for name in sorted(reached)
        if not outcomes[(f"mutation.{name}", "ACCOUNT")] & {"SUCCESS", "REJECTED", "FAILED"}
    ]
    assert unrecorded == [], f"mutations whose resolver ran without an audit entry: {unrecorded}"
    await sequence(engine, school.id, runtime.auth.keys)
    verdict = await verify(engine, school.id, runtime.auth.keys)
    assert (verdict.fault, verdict.pending) == (None, 0)


async def test_a_denied_mutation_is_recorded_once_as_denied(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.11, LRS 5.1: a teacher calling an admin mutation is denied, and that is one DENIED entry
    naming the teacher; nothing ran, so there is no second entry from the resolver's side."""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    body = await gql(
        client,
        school.slug,
        "mutation($i: UpdatePupilInput!) { updatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": to_global_id("Pupil", school.pupils["pupil1"].id), "surname": "Changed"}},
        token=token,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    found = await entries(engine, school.id, "mutation.updatePupil")
    assert [(e.outcome, e.actor_username, e.role) for e in found] == [("DENIED", "teacher1", "STAFF")]
    assert found[0].actor_id == school.accounts["teacher1"].id
    assert found[0].detail == {"code": "FORBIDDEN"}


async def test_field_denials_are_recorded_with_their_path(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.11: a denied field (here a pupil asking for the audit log, and a teacher for a pupil's UPN)
    is a ``permission.denied`` entry with the path, folded across a list, and the count."""
    school = await factory.school()
    pupil = await login(client, school.slug, "pupil1")
    body = await gql(client, school.slug, "{ auditLog { edges { node { action } } } }", token=pupil)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    teacher = await login(client, school.slug, "teacher1")
    body = await gql(client, school.slug, "{ pupils { edges { node { upn } } } }", token=teacher)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    denied = await entries(engine, school.id, "permission.denied")
    assert [(e.actor_username, e.outcome, e.detail) for e in denied] == [
        ("pupil1", "DENIED", {"path": "auditLog", "code": "FORBIDDEN", "count": 1}),
        ("teacher1", "DENIED", {"path": "pupils.edges.*.node.upn", "code": "FORBIDDEN", "count": 3}),
    ]
    anonymous = await gql(client, school.slug, "{ pupils { edges { node { id } } } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    last = (await entries(engine, school.id, "permission.denied"))[-1]
    assert (last.actor_type, last.actor_id, last.detail["code"]) == ("ANONYMOUS", None, "UNAUTHENTICATED")


async def test_failed_login_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.11, LRS 5.1: a failed sign-in is one ``auth.login`` REJECTED entry naming the account tried
    and the mutation that tried it (one event per action), with the client address and the request id."""
    school = await factory.school()
    response = await client.post(
        f"/schools/{school.slug}/graphql",
        json={
            "query": 'mutation { login(input: {username: "teacher1", password: "wrong"}) { errors { code } } }'
        },
        headers={"x-request-id": "req-failed-login-1"},
    )
    assert response.json()["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    found = await entries(engine, school.id)
    assert [(e.action, e.outcome) for e in found] == [("auth.login", "REJECTED")]
    (auth_login,) = found
    assert auth_login.actor_type == "ANONYMOUS"
    assert (auth_login.target_type, auth_login.target_id) == ("Account", school.accounts["teacher1"].id)
    assert auth_login.detail == {
        "code": "INVALID_CREDENTIALS",
        "codes": ["INVALID_CREDENTIALS"],
        "mutation": "login",
    }
    assert auth_login.request_id == "req-failed-login-1"
    assert auth_login.client_address and auth_login.client_address.startswith("test-")
    # An unknown username is recorded too, with no target (nobody's account was tried).
    await gql(
        client, school.slug, 'mutation { login(input: {username: "nobody", password: "x"}) { accessToken } }'
    )
    unknown = (await entries(engine, school.id, "auth.login"))[-1]
    assert (unknown.outcome, unknown.target_id, unknown.detail["code"]) == (
        "REJECTED",
        None,
        "INVALID_CREDENTIALS",
    )
    # A success names the account that signed in, as actor, with its username at the time.
    await login(client, school.slug, "teacher1")
    ok = (await entries(engine, school.id, "auth.login"))[-1]
    assert (ok.outcome, ok.actor_type, ok.actor_id, ok.actor_username, ok.role) == (
        "SUCCESS", "ACCOUNT", school.accounts["teacher1"].id, "teacher1", "STAFF",
    )  # fmt: skip


async def test_lockout_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 5.11: repeated failed sign-ins lock the account, and the lockout is an ``auth.locked_out`` entry."""
    school = await factory.school()
    threshold = runtime.settings.lockout_threshold
    for _ in range(threshold):
        await gql(
            client,
            school.slug,
            'mutation { login(input: {username: "pupil1", password: "wrong guess"}) { accessToken } }',
        )
    locked = await entries(engine, school.id, "auth.locked_out")
    assert [(e.outcome, e.target_type, e.target_id) for e in locked] == [
        ("SUCCESS", "Account", school.accounts["pupil1"].id)
    ]
    attempts = await entries(engine, school.id, "auth.login")
    assert len(attempts) == threshold
    assert attempts[-1].detail["code"] == "ACCOUNT_LOCKED"
    # Even the right password is refused now, and that is recorded as well.
    body = await gql(
        client,
        school.slug,
        'mutation($p: String!) { login(input: {username: "pupil1", password: $p}) { errors { code } } }',
        {"p": PASSWORD},
    )
    assert body["data"]["login"]["errors"] == [{"code": "ACCOUNT_LOCKED"}]
    assert (await entries(engine, school.id, "auth.login"))[-1].detail["code"] == "ACCOUNT_LOCKED"


async def test_a_document_refused_before_it_runs_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: a mutation whose document fails validation never runs, and is still a REJECTED entry."""
    school = await factory.school()
    token = await login(client, school.slug, "admin")
    body = await gql(
        client,
        school.slug,
        'mutation { updatePupil(input: {pupilId: "x", shoeSize: 4}) { errors { code } } }',
        token=token,
        expect_status=400,
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    found = await entries(engine, school.id, "mutation.updatePupil")
    assert [(e.outcome, e.actor_username, e.detail) for e in found] == [
        ("REJECTED", "admin", {"code": "GRAPHQL_VALIDATION_FAILED"})
    ]


async def test_a_failed_mutation_is_recorded_and_its_writes_are_gone(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LRS 5.1: an unexpected error rolls the request back, and the attempt is still recorded (FAILED), in
    a transaction of its own, with the events it had gathered marked FAILED."""
    school = await factory.school()
    token = await login(client, school.slug, "admin")
    from people import service as people_service

    original = people_service.update_group

    async def broken(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)  # the write happens ...
        raise RuntimeError("disk on fire")  # ... and then the request fails

    monkeypatch.setattr(people_service, "update_group", broken)
    group = to_global_id("Group", school.groups["A"].id)
    body = await gql(
        client,
        school.slug,
        "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { errors { code } } }",
        {"i": {"groupId": group, "name": "Renamed"}},
        token=token,
    )
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    found = await entries(engine, school.id, "mutation.updateGroup")
    assert [(e.outcome, e.actor_username) for e in found] == [("FAILED", "admin")]
    monkeypatch.undo()
    body = await gql(
        client, school.slug, "query($g: ID!) { group(id: $g) { name } }", {"g": group}, token=token
    )
    assert body["data"]["group"]["name"] == "Class A"


# --- bulk reads of personal data --------------------------------------------------------------------------

PUPILS = "query($f: Int) { pupils(first: $f) { edges { node { id surname } } } }"


async def test_bulk_and_record_reads_are_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1: a member of staff listing pupils is a ``read.pupils`` entry naming the pupils of
    the page; a pupil's full record (``pupil(id)`` or ``node(id)``) is a ``read.pupil`` entry targeting it.
    A parent listing their own children is not a bulk read."""
    school = await factory.school(pupils_per_group=4)
    teacher = await login(client, school.slug, "teacher1")
    body = await gql(client, school.slug, PUPILS, {"f": 3}, token=teacher)
    listed = [edge["node"]["id"] for edge in body["data"]["pupils"]["edges"]]
    assert len(listed) == 3
    (bulk,) = await entries(engine, school.id, "read.pupils")
    assert (bulk.actor_username, bulk.role, bulk.target_type, bulk.target_id) == (
        "teacher1",
        "STAFF",
        None,
        None,
    )
    by_id = {to_global_id("Pupil", p.id): str(p.id) for p in school.pupils.values()}
    assert bulk.detail == {"pupil_ids": [by_id[g] for g in listed], "views": ["pupils"]}

    admin = await login(client, school.slug, "admin")
    pupil = school.pupils["pupil2"]
    await gql(
        client,
        school.slug,
        "query($i: ID!) { pupil(id: $i) { surname } }",
        {"i": to_global_id("Pupil", pupil.id)},
        token=admin,
    )
    await gql(
        client,
        school.slug,
        "query($i: ID!) { node(id: $i) { id } }",
        {"i": to_global_id("Pupil", pupil.id)},
        token=admin,
    )
    await gql(client, school.slug, "query($i: ID!) { node(id: $i) { id } }", {"i": to_global_id("Group", school.groups["A"].id)}, token=admin)  # fmt: skip
    reads = await entries(engine, school.id, "read.pupil")
    assert [(e.actor_username, e.target_type, e.target_id) for e in reads] == [
        ("admin", "Pupil", pupil.id)
    ] * 2

    parent = await login(client, school.slug, "parent1")
    await gql(client, school.slug, PUPILS, {"f": 10}, token=parent)
    assert len(await entries(engine, school.id, "read.pupils")) == 1
    # A pupil the teacher may not see is not returned, and so not recorded as read.
    other = to_global_id("Pupil", school.pupils["pupilB1"].id)
    body = await gql(
        client, school.slug, "query($i: ID!) { pupil(id: $i) { id } }", {"i": other}, token=teacher
    )
    assert body["data"]["pupil"] is None
    assert len(await entries(engine, school.id, "read.pupil")) == 2


# --- personal data outside the hash ------------------------------------------------------------------------


async def test_the_hashed_part_holds_no_personal_data(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LRS 5.1: the chain references people by id; the username at the time and the client address sit
    outside the hash, so erasing them (the runtime role may blank exactly those two) keeps the chain intact."""
    school: SchoolData = await factory.school()
    await login(client, school.slug, "teacher1")
    found = await entries(engine, school.id)
    assert found and all(e.actor_username == "teacher1" for e in found if e.actor_type == "ACCOUNT")
    for entry in found:
        hashed = canonical(entry)
        assert b"teacher1" not in hashed and entry.client_address is not None
        assert entry.client_address.encode() not in hashed
    assert "actor_username" not in HASHED_FIELDS and "client_address" not in HASHED_FIELDS

    await sequence(engine, school.id, runtime.auth.keys)
    from sqlalchemy import update
    from sqlalchemy.ext.asyncio import AsyncSession

    from models import AuditEntry
    from tenants.context import bind
    from tenants.scoping import in_school

    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            update(AuditEntry)
            .where(in_school(AuditEntry, school.id), AuditEntry.actor_id == school.accounts["teacher1"].id)
            .values(actor_username=None, client_address=None)
        )
    erased = await entries(engine, school.id)
    assert all(e.actor_username is None for e in erased if e.actor_id == school.accounts["teacher1"].id)
    verdict = await verify(engine, school.id, runtime.auth.keys)
    assert verdict.fault is None and verdict.entries == len(found)


async def test_one_read_event_per_request_names_every_pupil_read(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1, LRS 7.3, issue 15: a teacher's request reading the class view, a group's members and a
    learner record records one ``read.pupils`` event naming every pupil returned and the
    views, not one per field or object. A class view alone is recorded too (it returns the class's names)."""
    from tests.factories.learning import gid, starter

    school = await factory.school(pupils_per_group=3)
    teacher = await login(client, school.slug, "teacher1")
    group, ladder = gid("Group", school.groups["A"]), starter("Y4-MATHS").gid
    class_view = (
        "query($g: ID!, $l: ID!) { classProgress(groupId: $g, ladderId: $l) { pupils { pupil { id } } } }"
    )
    first = await gql(client, school.slug, class_view, {"g": group, "l": ladder}, token=teacher)
    in_class = [p["pupil"]["id"] for p in first["data"]["classProgress"]["pupils"]]
    assert len(in_class) == 3
    (alone,) = await entries(engine, school.id, "read.pupils")
    assert alone.detail["views"] == ["classProgress"] and len(alone.detail["pupil_ids"]) == 3

    query = """
    query($g: ID!, $l: ID!, $p: ID!) {
      classProgress(groupId: $g, ladderId: $l) { pupils { pupil { id } } }
      group(id: $g) { pupils { id } }
      learnerRecord(pupilId: $p) { achievements { title } }
    }"""
    body = await gql(client, school.slug, query, {"g": group, "l": ladder, "p": in_class[0]}, token=teacher)
    assert "errors" not in body, body
    assert {p["id"] for p in body["data"]["group"]["pupils"]} == set(in_class)
    reads = await entries(engine, school.id, "read.pupils")
    assert len(reads) == 2  # one more for the whole request
    read = reads[-1]
    assert read.detail["views"] == ["Group.pupils", "classProgress", "learnerRecord"]
    by_id = {to_global_id("Pupil", p.id): str(p.id) for p in school.pupils.values()}
    assert sorted(read.detail["pupil_ids"]) == sorted(by_id[g] for g in in_class)
    assert (read.actor_username, read.role, read.outcome) == ("teacher1", "STAFF", "SUCCESS")


async def test_a_token_the_school_does_not_accept_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1, issue 15: a request to a known school with a token it does not accept (forged, or another
    school's) is recorded as ``auth.token_refused`` DENIED, once a minute per address however many come."""
    school, other = await factory.school(), await factory.school()
    foreign = await login(client, other.slug, "admin")
    for token in ("not.a.token", foreign, foreign):
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": "{ viewer { username } }"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200 and response.json()["data"] == {"viewer": None}
    (refused,) = await entries(engine, school.id, "auth.token_refused")
    assert (refused.outcome, refused.actor_type, refused.actor_id) == ("DENIED", "ANONYMOUS", None)
    assert refused.client_address is not None and refused.client_address.startswith("test-")


async def test_a_refused_school_request_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: Any, engine: AsyncEngine
) -> None:
    """LRS 5.1, issue 15: a request to a suspended school is refused (403 with the reason) and the refusal
    is recorded in that school's log as ``request.refused`` DENIED with the reason."""
    from tests.factories.trusts import platform_gql, platform_login

    school = await factory.school()
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    suspend = """mutation($i: SuspendSchoolInput!) { suspendSchool(input: $i) { errors { code } } }"""
    done = await platform_gql(
        client,
        suspend,
        {"i": {"schoolId": to_global_id("School", school.id), "reason": "DATA_BREACH", "days": 3}},
        token=token,
    )
    assert done["data"]["suspendSchool"]["errors"] == []
    response = await client.post(f"/schools/{school.slug}/graphql", json={"query": "{ viewer { username } }"})
    assert response.status_code == 403
    (refused,) = await entries(engine, school.id, "request.refused")
    assert (refused.outcome, refused.detail) == ("DENIED", {"reason": "DATA_BREACH"})


async def _platform_entries(engine: AsyncEngine, address: str) -> list[PlatformAuditEntry]:
    async with AsyncSession(engine) as session:
        stmt = (
            select(PlatformAuditEntry)
            .where(PlatformAuditEntry.client_address == address)
            .order_by(PlatformAuditEntry.id)
        )
        return list((await session.execute(stmt)).scalars().all())


async def test_a_request_refused_before_its_school_is_known_is_recorded_in_the_platform_log(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, clock: FixedClock
) -> None:
    """LRS 5.1, issue 15: a request refused before any school was resolved (an unknown school, a body the
    edge cannot read) has no school's log to go to: it is recorded in the platform audit log as
    ``request.refused`` by an anonymous caller, with the code, the status, the path and the request id.
    A source's repeats of one refusal within a minute are counted, not recorded, and the count is carried
    by its next entry; the school whose URL carried an unreadable body records nothing of it."""
    school = await factory.school()
    await login(client, school.slug, "teacher1")
    address = (await entries(engine, school.id, "auth.login"))[-1].client_address
    assert address is not None
    before = len(await entries(engine, school.id))
    unknown = await client.post(
        "/schools/no-such-school/graphql",
        json={"query": "{ viewer { username } }"},
        headers={"x-request-id": "req-unknown-school-1"},
    )
    assert unknown.status_code == 404
    broken = await client.post(
        f"/schools/{school.slug}/graphql",
        content=b"{not json",
        headers={"content-type": "application/json", "x-request-id": "req-broken-body-1"},
    )
    assert broken.status_code == 400
    for _ in range(3):  # the same refusal again from the same address, within the minute: counted
        again = await client.post("/schools/no-such-school/graphql", json={"query": "{ viewer { id } }"})
        assert again.status_code == 404

    found = await _platform_entries(engine, address)
    assert [(e.action, e.outcome, e.actor_type, e.request_id) for e in found] == [
        ("request.refused", "REJECTED", "ANONYMOUS", "req-unknown-school-1"),
        ("request.refused", "REJECTED", "ANONYMOUS", "req-broken-body-1"),
    ]
    assert found[0].detail == {"code": "NOT_FOUND", "status": 404, "path": "/schools/no-such-school/graphql"}
    assert (found[1].detail["code"], found[1].detail["status"]) == ("BAD_REQUEST", 400)
    assert found[1].detail["path"] == f"/schools/{school.slug}/graphql"
    assert all(e.tenant_id is None for e in found)
    assert len(await entries(engine, school.id)) == before  # nothing in the school's own log

    clock.advance(timedelta(minutes=2))  # a new window: recorded again, with the three counted before
    await client.post("/schools/no-such-school/graphql", json={"query": "{ viewer { id } }"})
    latest = (await _platform_entries(engine, address))[-1]
    assert (latest.detail["code"], latest.detail["suppressed"]) == ("NOT_FOUND", 3)


async def test_the_download_and_partner_doors_record_an_unknown_school_or_trust_in_the_platform_log(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine, clock: FixedClock
) -> None:
    """LRS 5.1, issue 15: the doors besides GraphQL (a subject access download, OneRoster, a termination
    export download) record a request for a school or trust that does not exist in the platform log, as
    the GraphQL endpoints do: ``request.refused`` by an anonymous caller, with the code and the path (a
    minute apart, since a source's repeats of one refusal code within a minute are only counted)."""
    school = await factory.school()
    await login(client, school.slug, "teacher1")
    address = (await entries(engine, school.id, "auth.login"))[-1].client_address
    assert address is not None
    export = uuid.uuid4()
    paths = [
        f"/schools/no-such-school/subject-access/{export}",
        "/schools/no-such-school/ims/oneroster/v1p1/users",
        f"/trusts/no-such-trust/termination-exports/{school.id}",
    ]
    for number, path in enumerate(paths):
        response = await client.get(path, headers={"x-request-id": f"req-unknown-door-{number}"})
        assert response.status_code == 404, path
        clock.advance(timedelta(minutes=2))

    found = await _platform_entries(engine, address)
    assert [(e.action, e.outcome, e.actor_type, e.request_id) for e in found] == [
        ("request.refused", "REJECTED", "ANONYMOUS", f"req-unknown-door-{number}") for number in range(3)
    ]
    assert [(e.detail["status"], e.detail["path"]) for e in found] == [(404, path) for path in paths]
    assert all(e.tenant_id is None for e in found)


async def test_a_request_refused_at_a_known_school_is_recorded_there(
    client: httpx.AsyncClient, factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LRS 5.1, issue 15: a request refused once its school and caller are known (a mutation sent over
    GET) is recorded in the school's log as ``request.refused`` REJECTED with the code and status, as the
    signed-in caller; an anonymous caller's repeats are counted, not recorded."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    response = await client.get(
        f"/schools/{school.slug}/graphql",
        params={"query": "mutation { logout { ok } }"},
        headers={"authorization": f"Bearer {admin}", "x-request-id": "req-mutation-over-get"},
    )
    assert response.status_code == 405
    (refused,) = await entries(engine, school.id, "request.refused")
    assert (refused.outcome, refused.detail) == ("REJECTED", {"code": "METHOD_NOT_ALLOWED", "status": 405})
    assert (refused.actor_username, refused.request_id) == ("admin", "req-mutation-over-get")
    # A stranger's refusals are counted per address, like anonymous denials: one entry a minute.
    for _ in range(3):
        anonymous = await client.get(
            f"/schools/{school.slug}/graphql", params={"query": "mutation { logout { ok } }"}
        )
        assert anonymous.status_code == 405
    found = await entries(engine, school.id, "request.refused")
    assert [(e.actor_type, e.outcome) for e in found] == [("ACCOUNT", "REJECTED"), ("ANONYMOUS", "REJECTED")]

"""``app_enter_school`` (migrations 0024, 0029, 0033): a school request's tenant, binding and principal in one round
trip on plain PostgreSQL (auth.principal.enter_school_as). It must hold the principal's statement exactly as
auth.principal runs it, and answer what the two separate statements answer (tenants.context.enter_school,
then auth.principal.load_principal) for every role and every state that refuses a caller, on the very next
request: a revoked or expired session, a disabled account, a leaver, another school's token. With the
principals kept between requests (auth/kept.py) it must answer the same after every one of those writes."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.access_tokens import AccessClaims, verify_access_token_of_its_school
from auth.kept import KeptPrincipals
from auth.principal import (
    ACCOUNT_ROLES,
    FUNCTION_ARGUMENTS,
    Principal,
    Role,
    enter_school_as,
    function_statement,
    load_principal,
)
from common.clock import FixedClock
from server.runtime import Runtime
from tenants.context import Tenant, enter_school
from tests.factories.citus import ON_CITUS
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

pytestmark = pytest.mark.skipif(ON_CITUS, reason="Citus keeps the two statements (ADR 19)")


async def test_the_function_holds_the_principal_statements_auth_principal_runs(engine: AsyncEngine) -> None:
    """When auth.principal's statement changes (for any role), this fails: write a migration that replaces
    app_enter_school with the new texts (``function_statement``) and arguments (as 0029 did)."""
    dialect = engine.sync_engine.dialect
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT prosrc, proargnames[1:pronargs], "
                "array(SELECT format_type(t, NULL) FROM unnest(proargtypes) AS t) "
                "FROM pg_proc WHERE proname = 'app_enter_school'"
            )
        )
        source, names, types = found.one()  # one function of that name: no overload left behind
    for role in (None, *ACCOUNT_ROLES):
        statement = function_statement(role, dialect)
        assert statement in source, f"app_enter_school does not run auth.principal's statement for {role}"
        if role is not None:  # each role's statement is tried on that role's name
            assert f"p_role = '{role.value}' THEN\n                RETURN QUERY" in source
            assert statement.endswith(f"AND accounts.role = '{role.value}'::VARCHAR")
    # Every parameter of the statement is an argument of the function or a constant of its text.
    assert "$" not in function_statement(None, dialect)
    expected = [
        *FUNCTION_ARGUMENTS.values(),
        ("p_role", "text"),
        ("p_slug", "text"),
        *((f"p_known_{version}", "bigint") for version in ("epoch", "account", "session")),
    ]
    short = {"timestamp with time zone": "timestamptz"}
    assert list(zip(names, [short.get(t, t) for t in types], strict=True)) == expected


async def _claims(
    client: httpx.AsyncClient, runtime: Runtime, school: SchoolData, username: str
) -> AccessClaims:
    token = await login(client, school.slug, username)
    claims = verify_access_token_of_its_school(runtime.auth.keys, token, now=runtime.clock.now())
    assert claims is not None and claims.school_id == school.id
    return claims


Answer = tuple[Tenant | None, Principal | None, str | None]


async def _separately(
    engine: AsyncEngine, slug: str, claims: AccessClaims | None, clock: FixedClock
) -> Answer:
    """What the request path did before: the school, then (a token of this active school) the principal."""
    async with AsyncSession(engine) as session, session.begin():
        tenant = await enter_school(session, slug)
        principal = None
        if tenant is not None and tenant.active and claims is not None and claims.school_id == tenant.id:
            principal = await load_principal(
                session,
                school_id=tenant.id,
                account_id=claims.account_id,
                session_id=claims.session_id,
                now=clock.now(),
            )
        bound = (await session.execute(text("SELECT current_setting('app.school_ids', true)"))).scalar()
        return tenant, principal, bound or None


async def _at_once(
    engine: AsyncEngine,
    slug: str,
    claims: AccessClaims | None,
    clock: FixedClock,
    kept: KeptPrincipals | None = None,
) -> Answer:
    async with AsyncSession(engine) as session, session.begin():
        tenant, principal = await enter_school_as(session, slug, claims, clock.now(), kept)
        bound = (await session.execute(text("SELECT current_setting('app.school_ids', true)"))).scalar()
        return tenant, principal, bound or None


KEPT = KeptPrincipals()
"""The principals kept across one test's requests, as a server keeps them (emptied before each test)."""


@pytest.fixture(autouse=True)
def _nothing_kept() -> None:
    global KEPT
    KEPT = KeptPrincipals()


async def _same(engine: AsyncEngine, slug: str, claims: AccessClaims | None, clock: FixedClock) -> Answer:
    """The function's answer, which must be the separate statements'; and the answer with the principals
    kept since the test began (migration 0033), which must be the same after whatever the test wrote since
    the last call: then, with nothing written, asked again, the principal is the one kept."""
    answer = await _at_once(engine, slug, claims, clock)
    assert answer == await _separately(engine, slug, claims, clock)
    assert await _at_once(engine, slug, claims, clock, KEPT) == answer
    hits = KEPT.outcomes["kept"]
    assert await _at_once(engine, slug, claims, clock, KEPT) == answer
    assert KEPT.outcomes["kept"] == hits + (answer[1] is not None)
    return answer


async def _owner(owner_engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with owner_engine.begin() as connection:
        await connection.execute(text(sql), params)


REVOKE = "UPDATE auth_sessions SET revoked_at = :now WHERE school_id = :s AND id = :x"
"""A session revoked (a sign-out), as the owner writes it: ``s`` the school, ``x`` the session."""


ROLES = {
    "admin": Role.SCHOOL_ADMIN,
    "teacher1": Role.STAFF,
    "senco": Role.STAFF,
    "pupil1": Role.PUPIL,
    "parent1": Role.PARENT,
}


async def test_every_role_is_the_same_principal_either_way(
    client: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    clock: FixedClock,
) -> None:
    school = await factory.school()
    for username, role in ROLES.items():
        claims = await _claims(client, runtime, school, username)
        tenant, principal, bound = await _same(engine, school.slug, claims, clock)
        assert tenant is not None and tenant.id == school.id and bound == str(school.id)
        assert principal is not None and principal.role is role and principal.username == username
    teacher = await _same(engine, school.slug, await _claims(client, runtime, school, "teacher1"), clock)
    assert teacher[1] is not None and teacher[1].group_scope == frozenset({school.groups["A"].id})
    assert teacher[1].pupil_scope and school.pupils["pupil1"].id in teacher[1].pupil_scope
    parent = await _same(engine, school.slug, await _claims(client, runtime, school, "parent1"), clock)
    assert parent[1] is not None and parent[1].pupil_scope == frozenset({school.pupils["pupil1"].id})


async def test_a_caller_refused_by_the_separate_statements_is_refused_at_once_on_the_next_request(
    client: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
) -> None:
    """Revoked (sign-out, a password change), expired, disabled, a leaver: no principal either way, from the
    request right after the change, where a principal was kept before it too (``_same``). A scope change, a
    password to change and a consent owed (LL 6.3.3) show at once too."""
    school = await factory.school()
    sid = school.id
    states = [
        (
            "teacher1",
            "UPDATE groups SET active = false WHERE school_id = :s AND id = :x",
            school.groups["A"].id,
        ),
        ("teacher1", REVOKE, None),
        ("pupil1", "UPDATE auth_sessions SET expires_at = :now WHERE school_id = :s AND id = :x", None),
        ("parent1", "UPDATE accounts SET status = 'DISABLED' WHERE school_id = :s AND id = :x", None),
        (
            "teacher2",
            "UPDATE staff SET active = false WHERE school_id = :s AND id = :x",
            school.staff["teacher2"].id,
        ),
        ("senco", "UPDATE accounts SET must_change_password = true WHERE school_id = :s AND id = :x", None),
        (
            "pupil1",
            "INSERT INTO own_consent_due (school_id, pupil_id, flagged_at) VALUES (:s, :x, :now)",
            school.pupils["pupil1"].id,
        ),
    ]
    for username, change, target in states:
        claims = await _claims(client, runtime, school, username)
        before = await _same(engine, school.slug, claims, clock)
        assert before[1] is not None
        if target is None:
            target = claims.session_id if "auth_sessions" in change else claims.account_id
        await _owner(owner_engine, change, s=sid, x=target, now=clock.now())
        tenant, after, bound = await _same(engine, school.slug, claims, clock)
        assert tenant is not None and bound == str(sid)
        if "groups" in change:
            assert after is not None and after.group_scope == frozenset()
        elif "must_change_password" in change:
            assert after is not None and after.pending == "PASSWORD_CHANGE_REQUIRED"
        elif "own_consent_due" in change:  # LL 6.3.3: a pupil who turned 13 owes their own consent
            assert after is not None and after.pending == "CONSENT_REQUIRED"
        else:
            assert after is None, f"{username} still has a principal after: {change}"
    # ... and an HTTP request with the revoked teacher's token is anonymous at once.
    token = await login(client, school.slug, "teacher1")
    fresh = verify_access_token_of_its_school(runtime.auth.keys, token, now=clock.now())
    assert fresh is not None
    viewer = "{ viewer { username } }"
    assert (await gql(client, school.slug, viewer, token=token))["data"]["viewer"] == {"username": "teacher1"}
    await _owner(owner_engine, REVOKE, s=sid, x=fresh.session_id, now=clock.now())
    assert (await gql(client, school.slug, viewer, token=token))["data"]["viewer"] is None


async def test_another_school_an_unknown_slug_a_suspended_school_and_no_token(
    client: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
) -> None:
    school, other = await factory.school(), await factory.school()
    claims = await _claims(client, runtime, school, "admin")
    tenant, principal, bound = await _same(engine, other.slug, claims, clock)
    assert tenant is not None and tenant.id == other.id and principal is None and bound == str(other.id)
    # Another school's token naming this school's ids: the function does not take it either.
    forged = AccessClaims(
        account_id=claims.account_id,
        school_id=other.id,
        session_id=claims.session_id,
        roles=claims.roles,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
    )
    assert (await _same(engine, other.slug, forged, clock))[1] is None
    assert await _same(engine, f"none-{uuid.uuid4().hex[:8]}", claims, clock) == (None, None, None)
    tenant, principal, bound = await _same(engine, school.slug, None, clock)
    assert tenant is not None and principal is None and bound == str(school.id)
    await _owner(owner_engine, "UPDATE schools SET status = 'SUSPENDED' WHERE id = :s", s=school.id)
    try:
        tenant, principal, bound = await _same(engine, school.slug, claims, clock)
        assert tenant is not None and tenant.status == "SUSPENDED" and principal is None
        assert bound == str(school.id)
    finally:
        await _owner(owner_engine, "UPDATE schools SET status = 'ACTIVE' WHERE id = :s", s=school.id)
    later = clock.now() + timedelta(days=400)
    assert (await _at_once(engine, school.slug, claims, FixedClock(later)))[1] is None  # the session expired


async def test_a_token_naming_another_role_or_none_gets_the_same_principal(
    client: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
) -> None:
    """The function tries the statement of the role the token names first, and the statement of every role
    when that finds nothing: whatever role a token names (its own, another, none, one that is no account's),
    the principal is the one the separate statements read; a refused caller stays refused either way."""
    school = await factory.school()
    hints: list[tuple[str, ...]] = [(role.value,) for role in ACCOUNT_ROLES] + [
        (),
        ("STAFF", "PUPIL"),
        ("X",),
    ]
    for username in ("admin", "teacher1", "teacher2", "senco", "pupil1", "pupilB1", "parent1"):
        claims = await _claims(client, runtime, school, username)
        for roles in hints:
            named = dataclasses.replace(claims, roles=roles)
            tenant, principal, bound = await _same(engine, school.slug, named, clock)
            assert tenant is not None and bound == str(school.id)
            assert principal is not None and principal.username == username, (username, roles)
    claims = await _claims(client, runtime, school, "parent1")
    await _owner(owner_engine, REVOKE, s=school.id, x=claims.session_id, now=clock.now())
    for roles in hints:
        assert (await _same(engine, school.slug, dataclasses.replace(claims, roles=roles), clock))[1] is None


async def test_documents_to_accept_are_the_same_either_way_for_every_role(
    client: httpx.AsyncClient,
    runtime: Runtime,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    clock: FixedClock,
) -> None:
    """LL 21, LL 3.1, LRS 1.1: the licence terms, the user policies and the LRS agreement owed, read by each
    role's own statement, are what the statement of every role reads: a Super-User and not, a pupil under
    13 (a parent accepts for them) and one of 13, a parent, staff; before and after each acceptance."""
    school = await factory.school()
    sid = school.id
    published = clock.now() - timedelta(days=2)
    documents = {
        kind: uuid.uuid4() for kind in ("LICENCE_TERMS", "PRIVACY_NOTICE", "ACCEPTABLE_USE", "LRS_AGREEMENT")
    }
    users = ("admin", "teacher1", "senco", "pupil1", "pupilB1", "parent1")
    claims = {username: await _claims(client, runtime, school, username) for username in users}

    async def compare() -> dict[str, tuple[bool, bool, bool, bool]]:
        flags = {}
        for username, own in claims.items():
            principal = (await _same(engine, school.slug, own, clock))[1]
            assert principal is not None
            flags[username] = (
                principal.super_user,
                principal.terms_pending,
                principal.policies_pending,
                principal.lrs_pending,
            )
        return flags

    await _owner(
        owner_engine,
        "UPDATE pupils SET date_of_birth = :born WHERE school_id = :s AND id = :x",
        s=sid,
        x=school.pupils["pupilB1"].id,
        born=(clock.now() - timedelta(days=365 * 14)).date(),
    )
    await _owner(
        owner_engine,
        "INSERT INTO super_users (school_id, account_id, nominated_by_type, nominated_at) "
        "VALUES (:s, :x, 'OPERATOR', :now)",
        s=sid,
        x=school.accounts["admin"].id,
        now=clock.now(),
    )
    try:
        await compare()  # each caller's principal kept (_same) before the documents are published
        for kind, document in documents.items():
            await _owner(
                owner_engine,
                "INSERT INTO policy_documents (id, kind, version, title, body, summary_of_changes, "
                "effective_from, published_at) VALUES (:d, :k, 'v1', 'A title', 'A body', 'A summary', :at, :at)",
                d=document,
                k=kind,
                at=published,
            )
        owed = await compare()
        assert owed["admin"] == (True, True, True, True)
        assert all(
            flags[1:] == (True, True, True) and not flags[0] for u, flags in owed.items() if u != "admin"
        )

        async def accept(document: uuid.UUID, username: str, child: str | None = None) -> None:
            await _owner(
                owner_engine,
                "INSERT INTO document_acceptances (school_id, id, document_id, account_id, "
                "on_behalf_of_pupil_id, accepted_at) VALUES (:s, :i, :d, :a, :c, :now)",
                s=sid,
                i=uuid.uuid4(),
                d=document,
                a=school.accounts[username].id,
                c=None if child is None else school.pupils[child].id,
                now=clock.now(),
            )

        await accept(documents["LICENCE_TERMS"], "admin")
        for username in ("admin", "teacher1", "pupilB1", "parent1"):  # their own acceptance
            for kind in ("PRIVACY_NOTICE", "ACCEPTABLE_USE", "LRS_AGREEMENT"):
                await accept(documents[kind], username)
        await accept(documents["LRS_AGREEMENT"], "pupil1")  # under 13: their own acceptance does not count
        for kind in ("PRIVACY_NOTICE", "ACCEPTABLE_USE"):  # the parent accepts for the child under 13
            await accept(documents[kind], "parent1", child="pupil1")
        after = await compare()
        assert after["admin"] == (True, False, False, False)
        assert after["teacher1"] == after["pupilB1"] == after["parent1"] == (False, False, False, False)
        assert after["senco"] == (False, False, True, True)
        assert after["pupil1"] == (False, False, False, True)
    finally:
        async with owner_engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM document_acceptances WHERE school_id = :s"), {"s": sid}
            )
            await connection.execute(
                text("DELETE FROM policy_documents WHERE id = ANY(:d)"), {"d": list(documents.values())}
            )

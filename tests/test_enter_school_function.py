"""``app_enter_school`` (migration 0024): a school request's tenant, binding and principal in one round trip
on plain PostgreSQL (auth.principal.enter_school_as). It must hold the principal's statement exactly as
auth.principal runs it, and answer what the two separate statements answer (tenants.context.enter_school,
then auth.principal.load_principal) for every role and every state that refuses a caller, on the very next
request: a revoked or expired session, a disabled account, a leaver, another school's token."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.access_tokens import AccessClaims, verify_access_token_of_its_school
from auth.principal import _PRINCIPAL, Principal, Role, enter_school_as, load_principal
from common.clock import FixedClock
from server.runtime import Runtime
from tenants.context import Tenant, enter_school
from tests.factories.citus import ON_CITUS
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

pytestmark = pytest.mark.skipif(ON_CITUS, reason="Citus keeps the two statements (ADR 19)")

_TYPES = {"BOOLEAN": "boolean", "VARCHAR": "text", "UUID": "uuid", "TIMESTAMP WITH TIME ZONE": "timestamptz"}
_TYPES["DATE"] = "date"


async def test_the_function_holds_the_principal_statement_auth_principal_runs(engine: AsyncEngine) -> None:
    """When auth.principal's statement changes, this fails: write a migration that replaces
    app_enter_school with the new text and the new parameter types (as 0024 did)."""
    compiled = _PRINCIPAL.compiled_for(engine.sync_engine.dialect)
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT prosrc, array(SELECT format_type(t, NULL) FROM unnest(proargtypes) AS t) "
                "FROM pg_proc WHERE proname = 'app_enter_school'"
            )
        )
        source, arguments = found.one()
    assert compiled.sql in source, "auth.principal's statement is not the one app_enter_school runs"
    casts: dict[int, str] = {}
    for number, cast in re.findall(
        r"\$(\d+)::(BOOLEAN|VARCHAR|UUID|TIMESTAMP WITH TIME ZONE|DATE)\b", compiled.sql
    ):
        casts.setdefault(int(number), cast)
    expected = [_TYPES[casts[n]] for n in range(1, len(compiled.names) + 1)] + ["text"]
    assert [{"timestamp with time zone": "timestamptz"}.get(a, a) for a in arguments] == expected
    assert compiled.names[3] == "school_id" and compiled.names[18] == "account_id"  # $4 and $19 in its body


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


async def _at_once(engine: AsyncEngine, slug: str, claims: AccessClaims | None, clock: FixedClock) -> Answer:
    async with AsyncSession(engine) as session, session.begin():
        tenant, principal = await enter_school_as(session, slug, claims, clock.now())
        bound = (await session.execute(text("SELECT current_setting('app.school_ids', true)"))).scalar()
        return tenant, principal, bound or None


async def _same(engine: AsyncEngine, slug: str, claims: AccessClaims | None, clock: FixedClock) -> Answer:
    answer = await _at_once(engine, slug, claims, clock)
    assert answer == await _separately(engine, slug, claims, clock)
    return answer


async def _owner(owner_engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with owner_engine.begin() as connection:
        await connection.execute(text(sql), params)


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
    """Revoked (sign-out, a password change), expired, disabled, a leaver: no principal either way,
    from the request right after the change (nothing is cached). A scope change, a password to change and
    a consent owed (LL 6.3.3) show at once too."""
    school = await factory.school()
    sid = school.id
    states = [
        (
            "teacher1",
            "UPDATE groups SET active = false WHERE school_id = :s AND id = :x",
            school.groups["A"].id,
        ),
        ("teacher1", "UPDATE auth_sessions SET revoked_at = :now WHERE school_id = :s AND id = :x", None),
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
    await _owner(
        owner_engine,
        "UPDATE auth_sessions SET revoked_at = :now WHERE school_id = :s AND id = :x",
        s=sid,
        x=fresh.session_id,
        now=clock.now(),
    )
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

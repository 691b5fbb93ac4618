"""The platform endpoint ``/platform/graphql``: operators only, aggregates only.

Provisioning on an accepted order (LL 4.1-4.3), trusts and their admins, suspension on a breach (LL-A 9.1),
who is refused (anonymous, school and trust tokens), and that an operator reaches no pupil's personal data.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import Settings
from graph.core.relay import to_global_id
from models import AuditEntry, AuthSession, School
from server.jobs import run_jobs
from server.runtime import Runtime
from tenants.context import bind
from tenants.scoping import scoped
from tests.factories import clock
from tests.factories.apps import app_client, with_settings
from tests.factories.schools import LOGIN, PASSWORD, SchoolFactory, gql, login
from tests.factories.trusts import (
    TrustFactory,
    platform_gql,
    platform_login,
    post,
    trust_gql,
    trust_login,
)


async def school_chain(engine: AsyncEngine, school_id: uuid.UUID) -> list[AuditEntry]:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school_id])
        rows = await session.execute(scoped(AuditEntry, school_id).order_by(AuditEntry.id))
        return list(rows.scalars())


async def school_row(engine: AsyncEngine, school_id: uuid.UUID) -> School:
    async with AsyncSession(engine) as session:
        school = await session.get(School, school_id)
        assert school is not None
        return school


PROVISION = """
mutation($i: ProvisionSchoolInput!) { provisionSchool(input: $i) {
  school { id slug status trust { slug } }
  url activationCode
  admin { id username status superUser email }
  errors { field code message } } }
"""

ACTIVATE = """
mutation($c: String!, $p: String!, $u: String) {
  activateAccount(input: {code: $c, password: $p, username: $u}) { accessToken errors { field code } } }
"""


def _order(slug: str, **overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "slug": slug,
        "name": "Brook Lane Primary",
        "phase": "PRIMARY",
        "urn": None,
        "orderReference": "ORD-2026-0042",
        "paymentConfirmed": True,
        "admin": {
            "forename": "Hana",
            "surname": "Head",
            "email": "head@brook-lane.example",
            "username": "head",
        },
    }
    order.update(overrides)
    return order


# --- who may call ----------------------------------------------------------------------------------------


async def test_anonymous_is_unauthenticated_at_the_platform(client: httpx.AsyncClient) -> None:
    """LRS 5.11: nothing of the platform without signing in: every guarded root field is UNAUTHENTICATED."""
    body = await platform_gql(
        client, "{ viewer { username } schools { edges { node { slug } } } trusts { nodes { slug } } }"
    )
    assert body["data"] == {"viewer": None, "schools": None, "trusts": None}
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("schools", "UNAUTHENTICATED"),
        ("trusts", "UNAUTHENTICATED"),
    ]
    mutation = await platform_gql(client, PROVISION, {"i": _order(f"anon-{uuid.uuid4().hex[:8]}")})
    assert mutation["data"] is None
    assert [e["extensions"]["code"] for e in mutation["errors"]] == ["UNAUTHENTICATED"]


async def test_school_and_trust_tokens_are_worth_nothing_at_the_platform(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """A token is for its own URL only. A school admin's or a trust admin's token is anonymous at the
    platform, and an operator's token is anonymous at a school and at a trust."""
    school = await factory.school()
    trust = await trusts.trust()
    operator = await trusts.operator()
    school_token = await login(client, school.slug, "admin")
    trust_token = await trust_login(client, trust.slug)
    operator_token = await platform_login(client, operator.username)

    for token in (school_token, trust_token):
        body = await platform_gql(client, "{ viewer { username } schools { nodes { slug } } }", token=token)
        assert body["data"] == {"viewer": None, "schools": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]

    at_school = await gql(
        client, school.slug, "{ viewer { username } staff { nodes { id } } }", token=operator_token
    )
    assert at_school["data"] == {"viewer": None, "staff": None}
    assert [e["extensions"]["code"] for e in at_school["errors"]] == ["UNAUTHENTICATED"]
    at_trust = await trust_gql(
        client, trust.slug, "{ viewer { username } schools { slug } }", token=operator_token
    )
    assert at_trust["data"] == {"viewer": None, "schools": None}
    assert [e["extensions"]["code"] for e in at_trust["errors"]] == ["UNAUTHENTICATED"]

    mine = await platform_gql(client, "{ viewer { username } }", token=operator_token)
    assert mine["data"]["viewer"] == {"username": operator.username}


OPERATOR_LOGIN = """
mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken errors { code } } }
"""


async def _operator_sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await platform_gql(client, OPERATOR_LOGIN, {"u": username, "p": password}))[
        "data"
    ]["login"]
    return payload


async def test_operator_sign_in_locks_the_account_then_throttles_the_address(
    runtime: Runtime, trusts: TrustFactory
) -> None:
    """LRS 5.11: wrong operator passwords are refused without saying why; at the lockout threshold the
    account is locked (the right password refused too) until the lockout has passed; and an address that
    keeps failing is refused outright (TOO_MANY_ATTEMPTS) even with the right password, while the
    operator still signs in from elsewhere, and from that address again once its window has passed."""
    strict = with_settings(
        runtime, lockout_threshold=3, lockout_duration=timedelta(minutes=5), address_failure_limit=5
    )
    operator = await trusts.operator()
    async with app_client(strict, address="guesser") as client:
        refused = [(await _operator_sign_in(client, operator.username, f"wrong guess {n}")) for n in range(3)]
        assert [r["errors"] for r in refused] == [
            [{"code": "INVALID_CREDENTIALS"}],
            [{"code": "INVALID_CREDENTIALS"}],
            [{"code": "ACCOUNT_LOCKED"}],
        ]
        assert all(r["accessToken"] is None for r in refused)
        locked = await _operator_sign_in(client, operator.username, PASSWORD)
        assert locked == {"accessToken": None, "errors": [{"code": "ACCOUNT_LOCKED"}]}
        clock.CLOCK.advance(strict.settings.lockout_duration + timedelta(seconds=1))
        # Five failures from this address so far (three guesses, one try while locked); one more throttles.
        assert (await _operator_sign_in(client, operator.username, "wrong guess 4"))["errors"] == [
            {"code": "INVALID_CREDENTIALS"}
        ]
        throttled = await _operator_sign_in(client, operator.username, PASSWORD)
        assert throttled == {"accessToken": None, "errors": [{"code": "TOO_MANY_ATTEMPTS"}]}
    async with app_client(strict, address="the operator's desk") as elsewhere:
        signed_in = await _operator_sign_in(elsewhere, operator.username, PASSWORD)
        assert signed_in["errors"] == [] and signed_in["accessToken"]
    clock.CLOCK.advance(strict.settings.address_failure_window)
    async with app_client(strict, address="guesser") as client:
        signed_in = await _operator_sign_in(client, operator.username, PASSWORD)
        assert signed_in["errors"] == [] and signed_in["accessToken"]


async def test_operator_logout_ends_the_session_at_once(
    client: httpx.AsyncClient, trusts: TrustFactory
) -> None:
    """LRS 5.7: signing out revokes the session: its access token reaches nothing afterwards."""
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    assert (await platform_gql(client, "{ viewer { username } }", token=token))["data"]["viewer"] == {
        "username": operator.username
    }
    out = await platform_gql(client, "mutation { logout { ok } }", token=token)
    assert out["data"]["logout"] == {"ok": True}
    after = await platform_gql(client, "{ viewer { username } }", token=token)
    assert after["data"]["viewer"] is None


# --- provisioning (LL 4.1 - 4.3) ---------------------------------------------------------------------------


async def test_provisioning_creates_the_tenant_its_url_and_a_school_admin_to_activate(
    client: httpx.AsyncClient, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 4.1, LL 4.2, LL 4.3: nothing of the school exists before its order is provisioned; then the tenant
    with its own URL and a master (school admin) account with a one-time activation code."""
    operator = await trusts.operator()
    trust = await trusts.trust()
    token = await platform_login(client, operator.username)
    slug = f"brook-{uuid.uuid4().hex[:8]}"

    before = await client.post(f"/schools/{slug}/graphql", json={"query": "{ school { slug } }"})
    assert before.status_code == 404

    unpaid = await platform_gql(client, PROVISION, {"i": _order(slug, paymentConfirmed=False)}, token=token)
    assert unpaid["data"]["provisionSchool"]["school"] is None
    assert [e["code"] for e in unpaid["data"]["provisionSchool"]["errors"]] == ["PAYMENT_NOT_CONFIRMED"]
    bad = await platform_gql(
        client,
        PROVISION,
        {
            "i": _order(
                slug, admin={"forename": "H", "surname": "H", "email": "not-an-email", "username": "x"}
            )
        },
        token=token,
    )
    assert {(e["field"], e["code"]) for e in bad["data"]["provisionSchool"]["errors"]} == {
        ("admin.email", "INVALID_EMAIL"),
        ("admin.username", "INVALID_USERNAME"),
    }
    still = await client.post(f"/schools/{slug}/graphql", json={"query": "{ school { slug } }"})
    assert still.status_code == 404  # a refused order writes nothing

    done = await platform_gql(
        client, PROVISION, {"i": _order(slug, trustId=to_global_id("Trust", trust.id))}, token=token
    )
    payload = done["data"]["provisionSchool"]
    assert payload["errors"] == []
    assert payload["url"] == f"/schools/{slug}/graphql"
    assert payload["school"]["slug"] == slug and payload["school"]["status"] == "ACTIVE"
    assert payload["school"]["trust"] == {"slug": trust.slug}
    assert payload["admin"]["username"] == "head"
    assert payload["admin"]["status"] == "PENDING" and payload["admin"]["superUser"] is True
    code = payload["activationCode"]
    assert code

    # The school's own URL now answers; the admin has no password to sign in with before activating (LL 4.2).
    pending = await gql(client, slug, LOGIN, {"u": "head", "p": PASSWORD})
    assert [e["code"] for e in pending["data"]["login"]["errors"]] == ["INVALID_CREDENTIALS"]
    wrong = await gql(client, slug, ACTIVATE, {"c": "AAAA-BBBB-CCCC-DDDD", "p": PASSWORD})
    assert [e["code"] for e in wrong["data"]["activateAccount"]["errors"]] == ["INVALID_ACTIVATION_CODE"]
    weak = await gql(client, slug, ACTIVATE, {"c": code, "p": "short"})
    assert "TOO_SHORT" in [e["code"] for e in weak["data"]["activateAccount"]["errors"]]
    activated = await gql(client, slug, ACTIVATE, {"c": code.lower(), "p": PASSWORD, "u": "hana.head"})
    assert activated["data"]["activateAccount"]["errors"] == []
    admin_token = activated["data"]["activateAccount"]["accessToken"]
    viewer = await gql(client, slug, "{ viewer { username roles } school { slug } }", token=admin_token)
    assert viewer["data"] == {
        "viewer": {"username": "hana.head", "roles": ["SCHOOL_ADMIN"]},
        "school": {"slug": slug},
    }
    # LL 4.3: the master account administers the school's people (its own staff record is there).
    staff = await gql(client, slug, "{ staff { nodes { surname workEmail } } }", token=admin_token)
    assert staff["data"]["staff"]["nodes"] == [{"surname": "Head", "workEmail": "head@brook-lane.example"}]
    # The code was for one use.
    again = await gql(client, slug, ACTIVATE, {"c": code, "p": PASSWORD})
    assert [e["code"] for e in again["data"]["activateAccount"]["errors"]] == ["INVALID_ACTIVATION_CODE"]
    await login(client, slug, "hana.head")

    # The operator's act is in the school's own audit chain.
    school_id = uuid.UUID(str(await school_id_of(engine, slug)))
    chain = await school_chain(engine, school_id)
    provisioned = [e for e in chain if e.action == "school.provisioned"]
    assert len(provisioned) == 1
    assert provisioned[0].actor_type == "OPERATOR" and provisioned[0].actor_id == operator.id


async def school_id_of(engine: AsyncEngine, slug: str) -> uuid.UUID:
    async with AsyncSession(engine) as session:
        found: uuid.UUID = (await session.execute(select(School.id).where(School.slug == slug))).scalar_one()
        return found


async def test_a_taken_slug_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 4.1: every school has a unique URL."""
    school = await factory.school()
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    body = await platform_gql(client, PROVISION, {"i": _order(school.slug)}, token=token)
    assert [(e["field"], e["code"]) for e in body["data"]["provisionSchool"]["errors"]] == [
        ("slug", "SLUG_TAKEN")
    ]


# --- trusts and trust admins ------------------------------------------------------------------------------


async def test_trusts_are_created_edited_and_get_admins_who_activate(
    client: httpx.AsyncClient, trusts: TrustFactory
) -> None:
    """A trust (MAT, SAT or local authority) with an admin who activates with a one-time code; disabling the
    admin ends its sessions at once."""
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    slug = f"north-{uuid.uuid4().hex[:8]}"
    created = await platform_gql(
        client,
        'mutation($s: String!) { createTrust(input: {slug: $s, name: "North Star", kind: MULTI_ACADEMY_TRUST}) '
        "{ trust { id slug name kind url } errors { code } } }",
        {"s": slug},
        token=token,
    )
    trust = created["data"]["createTrust"]["trust"]
    assert trust["kind"] == "MULTI_ACADEMY_TRUST" and trust["url"] == f"/trusts/{slug}/graphql"
    dup = await platform_gql(
        client,
        'mutation($s: String!) { createTrust(input: {slug: $s, name: "Again", kind: LOCAL_AUTHORITY}) '
        "{ trust { id } errors { field code } } }",
        {"s": slug},
        token=token,
    )
    assert dup["data"]["createTrust"]["errors"] == [{"field": "slug", "code": "SLUG_TAKEN"}]
    renamed = await platform_gql(
        client,
        'mutation($t: ID!) { updateTrust(input: {trustId: $t, name: "North Star Learning"}) '
        "{ trust { name kind } errors { code } } }",
        {"t": trust["id"]},
        token=token,
    )
    assert renamed["data"]["updateTrust"]["trust"] == {
        "name": "North Star Learning",
        "kind": "MULTI_ACADEMY_TRUST",
    }

    made = await platform_gql(
        client,
        'mutation($t: ID!) { createTrustAdmin(input: {trustId: $t, username: "ceo", displayName: "Cara Chief", '
        'email: "ceo@north.example"}) { trustAdmin { id username status } activationCode activationUrl errors { code } } }',
        {"t": trust["id"]},
        token=token,
    )
    admin = made["data"]["createTrustAdmin"]
    assert admin["trustAdmin"]["status"] == "PENDING" and admin["activationUrl"] == f"/trusts/{slug}/graphql"
    activated = await trust_gql(
        client,
        slug,
        "mutation($c: String!, $p: String!) { activateTrustAdmin(input: {code: $c, password: $p}) "
        "{ accessToken errors { code } } }",
        {"c": admin["activationCode"], "p": PASSWORD},
    )
    trust_token = activated["data"]["activateTrustAdmin"]["accessToken"]
    assert trust_token
    me = await trust_gql(
        client, slug, "{ viewer { username displayName } trust { name } }", token=trust_token
    )
    assert me["data"] == {
        "viewer": {"username": "ceo", "displayName": "Cara Chief"},
        "trust": {"name": "North Star Learning"},
    }

    disabled = await platform_gql(
        client,
        "mutation($a: ID!) { setTrustAdminStatus(input: {trustAdminId: $a, status: DISABLED}) "
        "{ trustAdmin { status } errors { code } } }",
        {"a": admin["trustAdmin"]["id"]},
        token=token,
    )
    assert disabled["data"]["setTrustAdminStatus"]["trustAdmin"] == {"status": "DISABLED"}
    gone = await trust_gql(client, slug, "{ viewer { username } }", token=trust_token)
    assert gone["data"]["viewer"] is None


# --- no pupil personal data --------------------------------------------------------------------------------


SCHOOL_VIEW = """
query($s: String!) { school(slug: $s) {
  slug status counts { pupils staff activeAccounts lastImportAt }
  schoolAdmins { username } trust { slug } memberships { effectiveFrom trust { slug } }
} }
"""


async def test_the_operator_sees_counts_never_a_pupil(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """The operator sees aggregates only (ARCHITECTURE: users): how many pupils, staff and accounts a school
    has, its admins and its trust, and nothing that names or identifies a pupil."""
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    body = await platform_gql(client, SCHOOL_VIEW, {"s": school.slug}, token=token)
    assert "errors" not in body, body
    view = body["data"]["school"]
    assert view["counts"] == {
        "pupils": len(school.pupils),
        "staff": len(school.staff),
        "activeAccounts": len(school.accounts),
        "lastImportAt": None,
    }
    assert view["schoolAdmins"] == [{"username": "admin"}]
    assert view["trust"] == {"slug": trust.slug}
    text = str(body)
    for pupil in school.pupils.values():
        assert pupil.forename not in text and pupil.upn not in text and str(pupil.email) not in text
    # Asking for a pupil at all is a validation error: the schema has no such type.
    probe = await post(
        client, "/platform/graphql", "{ pupils { edges { node { id } } } }", token=token, expect_status=400
    )
    assert probe["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# --- suspension (LL-A 9.1) ---------------------------------------------------------------------------------

SUSPEND = """
mutation($i: SuspendSchoolInput!) { suspendSchool(input: $i) {
  suspension { reason sessionsRevoked endsAt agreedLonger } school { status statusReason } errors { field code } } }
"""


async def _sessions_live(engine: AsyncEngine, school_id: uuid.UUID) -> int:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(
                        scoped(AuthSession, school_id).where(AuthSession.revoked_at.is_(None)).subquery()  # type: ignore[union-attr]
                    )
                )
            ).scalar_one()
        )


async def test_suspension_on_a_breach_revokes_every_session_and_refuses_with_the_reason(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL-A 9.1: up to 30 days unless agreed longer; every session is revoked and every user refused with the
    reason; lifting restores sign-in (the revoked sessions stay revoked)."""
    school = await factory.school()
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    tokens = {u: await login(client, school.slug, u) for u in ("admin", "teacher1", "pupil1", "parent1")}
    school_gid = to_global_id("School", school.id)

    too_long = await platform_gql(
        client, SUSPEND, {"i": {"schoolId": school_gid, "reason": "SECURITY_BREACH", "days": 31}}, token=token
    )
    assert too_long["data"]["suspendSchool"]["errors"] == [{"field": "days", "code": "SUSPENSION_TOO_LONG"}]
    # Each problem names the input it is about (days), not the end date the service makes of it.
    none = await platform_gql(
        client, SUSPEND, {"i": {"schoolId": school_gid, "reason": "SECURITY_BREACH", "days": 0}}, token=token
    )
    assert none["data"]["suspendSchool"]["errors"] == [{"field": "days", "code": "INVALID_DAYS"}]
    unrecorded = await platform_gql(
        client,
        SUSPEND,
        {"i": {"schoolId": school_gid, "reason": "SECURITY_BREACH", "days": 45, "agreedLonger": True}},
        token=token,
    )
    assert unrecorded["data"]["suspendSchool"]["errors"] == [{"field": "agreement", "code": "REQUIRED"}]
    assert (await school_row(engine, school.id)).status == "ACTIVE"  # refused inputs wrote nothing
    assert await _sessions_live(engine, school.id) == len(tokens)

    done = await platform_gql(
        client, SUSPEND, {"i": {"schoolId": school_gid, "reason": "DATA_BREACH", "days": 30}}, token=token
    )
    payload = done["data"]["suspendSchool"]
    assert payload["errors"] == []
    assert payload["suspension"]["sessionsRevoked"] == len(tokens)
    assert payload["school"] == {"status": "SUSPENDED", "statusReason": "DATA_BREACH"}
    assert await _sessions_live(engine, school.id) == 0
    for username, old in tokens.items():
        refused = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": "{ viewer { username } }"},
            headers={"authorization": f"Bearer {old}"},
        )
        assert refused.status_code == 403, username
        assert refused.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "DATA_BREACH"}

    again = await platform_gql(
        client, SUSPEND, {"i": {"schoolId": school_gid, "reason": "DATA_BREACH", "days": 5}}, token=token
    )
    assert again["data"]["suspendSchool"]["errors"] == [{"field": "schoolId", "code": "ALREADY_SUSPENDED"}]

    lifted = await platform_gql(
        client,
        "mutation($s: ID!) { liftSuspension(input: {schoolId: $s}) { school { status } errors { code } } }",
        {"s": school_gid},
        token=token,
    )
    assert lifted["data"]["liftSuspension"] == {"school": {"status": "ACTIVE"}, "errors": []}
    stale = await gql(client, school.slug, "{ viewer { username } }", token=tokens["teacher1"])
    assert stale["data"]["viewer"] is None  # the revoked session stays revoked
    await login(client, school.slug, "teacher1")
    chain = [e.action for e in await school_chain(engine, school.id)]
    assert "school.suspended" in chain and "school.suspension_lifted" in chain


async def test_a_suspension_ends_by_itself_when_the_jobs_run(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL-A 9.1: a suspension is lifted when it ends, by `schoolgraph jobs run`, not before."""
    school = await factory.school()
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    await platform_gql(
        client,
        SUSPEND,
        {"i": {"schoolId": to_global_id("School", school.id), "reason": "SECURITY_BREACH", "days": 3}},
        token=token,
    )
    await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        now=clock.now() + timedelta(days=2),
        steps=["suspensions"],
    )
    assert (await school_row(engine, school.id)).status == "SUSPENDED"
    await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        now=clock.now() + timedelta(days=3, minutes=1),
        steps=["suspensions"],
    )
    assert (await school_row(engine, school.id)).status == "ACTIVE"
    await login(client, school.slug, "admin")


async def test_an_operator_with_a_temporary_password_must_change_it_first(
    client: httpx.AsyncClient, engine: AsyncEngine, runtime: Runtime
) -> None:
    """LL 7.1.6: an operator made with a temporary password (the command-line bootstrap) reaches nothing but
    the password change; changing it ends the old session and starts a new one."""
    from auth.operators import create_operator

    username = f"boot-{uuid.uuid4().hex[:6]}"
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        _, temporary = await create_operator(
            session,
            runtime.auth,
            username=username,
            display_name="Boot Strap",
            email="boot@platform.example",
            password=None,
            now=clock.now(),
        )
    token = await platform_login(client, username, temporary)
    blocked = await platform_gql(
        client, "{ viewer { mustChangePassword } schools { nodes { slug } } }", token=token
    )
    assert blocked["data"] == {"viewer": {"mustChangePassword": True}, "schools": None}
    assert blocked["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "PASSWORD_CHANGE_REQUIRED"}
    changed = await platform_gql(
        client,
        "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) "
        "{ accessToken errors { code } } }",
        {"c": temporary, "n": PASSWORD},
        token=token,
    )
    fresh = changed["data"]["changePassword"]["accessToken"]
    assert fresh and changed["data"]["changePassword"]["errors"] == []
    old = await platform_gql(client, "{ viewer { username } }", token=token)
    assert old["data"]["viewer"] is None
    now_open = await platform_gql(
        client, "{ viewer { mustChangePassword } schools(first: 1) { nodes { slug } } }", token=fresh
    )
    assert "errors" not in now_open and now_open["data"]["viewer"] == {"mustChangePassword": False}

"""Signing in and out through the HTTP edge: login, lockout and throttling, tokens, sessions, passwords,
and the school admin's account management (LL 4.3, LL 7.1.6, LL 8.2, LL 8.3, LRS 5.1, 5.3, 5.7, 5.11, 7.2).

Every test builds its own schools, so the rows it reads are its own. Tests that need small limits build a
runtime of their own over the shared engine and signing keys (``dataclasses.replace`` on the settings).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.access_tokens import issue_access_token, verify_access_token
from auth.tokens import SigningKeys
from common.settings import Settings
from graph.core.relay import to_global_id
from models import Account, AuthSession, Contact, PupilContact, RefreshToken, Staff
from server.runtime import Runtime
from tenants.context import bind
from tenants.scoping import in_school, scoped
from tests.factories import clock
from tests.factories.apps import app_client, with_settings
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login

NEW_PASSWORD = "violet kites drift over hills"
OTHER_PASSWORD = "copper lanterns hum in the rain"

LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) {
    accessToken refreshToken accessTokenExpiresAt errors { field code message }
  }
}
"""
REFRESH = """
mutation($t: String!) {
  refreshToken(input: {refreshToken: $t}) { accessToken refreshToken errors { field code message } }
}
"""
LOGOUT = "mutation { logout { ok errors { field code message } } }"
CHANGE_PASSWORD = """
mutation($c: String!, $n: String!) {
  changePassword(input: {currentPassword: $c, newPassword: $n}) {
    accessToken refreshToken errors { field code message }
  }
}
"""
VIEWER = "{ viewer { id username roles mustChangePassword } }"
PUPILS = "{ pupils { edges { node { id forename } } } }"
RESET = """
mutation($id: ID!) { resetPassword(input: {accountId: $id}) { temporaryPassword errors { field code message } } }
"""
CREATE = """
mutation($person: ID!, $u: String!, $admin: Boolean! = false) {
  createAccount(input: {personId: $person, username: $u, schoolAdmin: $admin}) {
    account { id username role status mustChangePassword }
    temporaryPassword
    errors { field code message }
  }
}
"""
SET_STATUS = """
mutation($id: ID!, $s: AccountStatus!, $r: String) {
  setAccountStatus(input: {accountId: $id, status: $s, reason: $r}) {
    account { id status } errors { field code message }
  }
}
"""


# --- helpers --------------------------------------------------------------------------------------------


@asynccontextmanager
async def bound(engine: AsyncEngine, school_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """A transaction of the runtime role bound to one school (row-level security applies), committed after."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school_id])
        yield session


async def sign_in(
    client: httpx.AsyncClient, slug: str, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    """The login payload; asserts it succeeded."""
    payload: dict[str, Any] = (await gql(client, slug, LOGIN, {"u": username, "p": password}))["data"][
        "login"
    ]
    assert payload["errors"] == [], payload
    assert payload["accessToken"] and payload["refreshToken"]
    return payload


async def login_errors(
    client: httpx.AsyncClient, slug: str, username: str, password: str
) -> list[dict[str, Any]]:
    payload = (await gql(client, slug, LOGIN, {"u": username, "p": password}))["data"]["login"]
    assert payload["accessToken"] is None and payload["refreshToken"] is None
    errors: list[dict[str, Any]] = payload["errors"]
    return errors


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["code"] for e in errors]


async def viewer(client: httpx.AsyncClient, slug: str, token: str | None) -> dict[str, Any] | None:
    body = await gql(client, slug, VIEWER, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] | None = body["data"]["viewer"]
    return result


async def assert_refused(client: httpx.AsyncClient, slug: str, token: str) -> None:
    """The token is anonymous: no viewer, and a protected query answers UNAUTHENTICATED."""
    assert await viewer(client, slug, token) is None
    body = await gql(client, slug, PUPILS, token=token)
    assert body["data"]["pupils"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def refresh(client: httpx.AsyncClient, slug: str, token: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql(client, slug, REFRESH, {"t": token}))["data"]["refreshToken"]
    return payload


async def change_password(
    client: httpx.AsyncClient, slug: str, token: str, current: str, new: str
) -> dict[str, Any]:
    body = await gql(client, slug, CHANGE_PASSWORD, {"c": current, "n": new}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["changePassword"]
    return payload


async def reset_password(
    client: httpx.AsyncClient, school: SchoolData, admin_token: str, username: str
) -> str:
    account_id = to_global_id("Account", school.accounts[username].id)
    body = await gql(client, school.slug, RESET, {"id": account_id}, token=admin_token)
    payload = body["data"]["resetPassword"]
    assert payload["errors"] == [], payload
    password: str = payload["temporaryPassword"]
    return password


async def account_row(engine: AsyncEngine, school_id: uuid.UUID, username: str) -> Account:
    async with bound(engine, school_id) as session:
        return (
            await session.execute(scoped(Account, school_id).where(Account.username == username))
        ).scalar_one()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def session_id_of(runtime: Runtime, token: str, school_id: uuid.UUID) -> uuid.UUID:
    claims = verify_access_token(runtime.auth.keys, token, school_id=school_id, now=clock.now())
    assert claims is not None
    return claims.session_id


# --- login ----------------------------------------------------------------------------------------------


async def test_login_returns_a_working_token_pair(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 5.1: an individual username signs in to its own account and gets an access and a refresh token"""
    school = await factory.school()
    payload = await sign_in(client, school.slug, "teacher1")
    assert payload["accessTokenExpiresAt"] is not None
    me = await viewer(client, school.slug, payload["accessToken"])
    assert me == {
        "id": to_global_id("Account", school.accounts["teacher1"].id),
        "username": "teacher1",
        "roles": ["STAFF"],
        "mustChangePassword": False,
    }
    body = await gql(client, school.slug, PUPILS, token=payload["accessToken"])
    assert "errors" not in body
    assert len(body["data"]["pupils"]["edges"]) == 3
    account = await account_row(factory.engine, school.id, "teacher1")
    assert account.last_login_at is not None


async def test_wrong_password_and_unknown_username_give_the_same_answer(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.11: a refused sign-in does not reveal whether the username exists"""
    school = await factory.school()
    wrong_password = await login_errors(client, school.slug, "teacher1", "not the right password at all")
    unknown_user = await login_errors(client, school.slug, "nobody-here", PASSWORD)
    assert (
        wrong_password
        == unknown_user
        == [
            {
                "field": None,
                "code": "INVALID_CREDENTIALS",
                "message": "The username or password is not correct.",
            }
        ]
    )


async def test_username_is_case_insensitive(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 5.1: usernames are matched case-insensitively, so "Teacher1" is the same individual as "teacher1\""""
    school = await factory.school()
    for spelling in ("TEACHER1", "Teacher1", "  teacher1 "):
        payload = await sign_in(client, school.slug, spelling)
        me = await viewer(client, school.slug, payload["accessToken"])
        assert me is not None and me["username"] == "teacher1"


async def test_same_username_at_two_schools_signs_in_only_at_its_own(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.1: usernames are unique per school: the same username at two schools is two accounts"""
    school_a, school_b = await factory.school(), await factory.school()
    # Give teacher1 at school B a password of its own, so the two accounts' credentials differ.
    admin_b = await login(client, school_b.slug, "admin")
    temporary = await reset_password(client, school_b, admin_b, "teacher1")
    assert codes(await login_errors(client, school_a.slug, "teacher1", temporary)) == ["INVALID_CREDENTIALS"]
    token_b = (await sign_in(client, school_b.slug, "teacher1", temporary))["accessToken"]
    token_a = (await sign_in(client, school_a.slug, "teacher1"))["accessToken"]
    me_a = await viewer(client, school_a.slug, token_a)
    me_b = await viewer(client, school_b.slug, token_b)
    assert me_a is not None and me_b is not None
    assert me_a["id"] == to_global_id("Account", school_a.accounts["teacher1"].id)
    assert me_b["id"] == to_global_id("Account", school_b.accounts["teacher1"].id)
    assert me_a["id"] != me_b["id"]
    # Each school's token works only at its own URL.
    await assert_refused(client, school_b.slug, token_a)
    await assert_refused(client, school_a.slug, token_b)


# --- lockout and throttling -----------------------------------------------------------------------------


async def test_lockout_after_threshold_and_admin_reset_lifts_it(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    """LRS 5.11: repeated wrong passwords lock the username at that address, even against the right
    password; a reset lifts it"""
    strict = with_settings(runtime, lockout_threshold=3, address_failure_limit=1000)
    school = await factory.school()
    async with app_client(strict) as client:
        for _ in range(strict.settings.lockout_threshold - 1):
            assert codes(
                await login_errors(client, school.slug, "teacher1", "wrong password number one")
            ) == ["INVALID_CREDENTIALS"]
        locked = await login_errors(client, school.slug, "teacher1", "wrong password number one")
        assert codes(locked) == ["ACCOUNT_LOCKED"]
        assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["ACCOUNT_LOCKED"]
        # Other accounts are unaffected.
        admin = (await sign_in(client, school.slug, "admin"))["accessToken"]
        temporary = await reset_password(client, school, admin, "teacher1")
        assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["INVALID_CREDENTIALS"]
        payload = await sign_in(client, school.slug, "teacher1", temporary)
        me = await viewer(client, school.slug, payload["accessToken"])
        assert me is not None and me["mustChangePassword"] is True
        account = await account_row(factory.engine, school.id, "teacher1")
        assert account.locked_until is None and account.failed_logins == 0


async def test_a_stranger_cannot_lock_the_owner_out(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11 with NIST SP 800-63B 5.2.2 (limit the attacker, not the owner): guesses from one address
    lock the username there only; the owner signs in from their own address meanwhile"""
    strict = with_settings(runtime, lockout_threshold=3, address_failure_limit=1000)
    school = await factory.school()
    async with app_client(strict) as stranger, app_client(strict) as owner:
        for _ in range(strict.settings.lockout_threshold):
            await login_errors(stranger, school.slug, "teacher1", "a stranger's guess")
        assert codes(await login_errors(stranger, school.slug, "teacher1", PASSWORD)) == ["ACCOUNT_LOCKED"]
        await sign_in(owner, school.slug, "teacher1")
    account = await account_row(factory.engine, school.id, "teacher1")
    assert account.locked_until is None


async def test_an_unknown_username_locks_like_a_known_one(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: the lock tells nothing about which usernames exist: an unknown one answers the same
    codes and messages, failure by failure, as a known one"""
    strict = with_settings(runtime, lockout_threshold=3, address_failure_limit=1000)
    school = await factory.school()
    async with app_client(strict) as client:
        known = [await login_errors(client, school.slug, "teacher1", "guess") for _ in range(4)]
        unknown = [await login_errors(client, school.slug, "nobody-here", "guess") for _ in range(4)]
    assert known == unknown
    assert [codes(errors) for errors in known] == [["INVALID_CREDENTIALS"]] * 2 + [["ACCOUNT_LOCKED"]] * 2


async def test_guesses_spread_over_addresses_lock_the_account(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    """LRS 5.11: failures from many addresses add up on the account; at account_lockout_threshold it locks
    everywhere, until an admin resets its password"""
    strict = with_settings(
        runtime, lockout_threshold=3, account_lockout_threshold=4, address_failure_limit=1000
    )
    school = await factory.school()
    for _ in range(strict.settings.account_lockout_threshold):
        async with app_client(strict) as client:
            await login_errors(client, school.slug, "teacher1", "a distributed guess")
    async with app_client(strict) as owner:
        assert codes(await login_errors(owner, school.slug, "teacher1", PASSWORD)) == ["ACCOUNT_LOCKED"]
    assert (await account_row(factory.engine, school.id, "teacher1")).locked_until is not None


async def test_successful_login_resets_the_failure_count(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: only consecutive failures count towards the lockout"""
    strict = with_settings(runtime, lockout_threshold=3, address_failure_limit=1000)
    school = await factory.school()
    async with app_client(strict) as client:
        for _ in range(2):
            await login_errors(client, school.slug, "teacher1", "wrong password number one")
        await sign_in(client, school.slug, "teacher1")
        for _ in range(2):
            assert codes(await login_errors(client, school.slug, "teacher1", "wrong password again")) == [
                "INVALID_CREDENTIALS"
            ]
        await sign_in(client, school.slug, "teacher1")


async def test_address_throttling(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: too many failed sign-ins from one address at a school refuse that address there; each
    school counts its own (pupils of a trust's schools share one address), and other addresses sign in"""
    strict = with_settings(runtime, lockout_threshold=1000, address_failure_limit=4)
    school_a, school_b = await factory.school(), await factory.school()
    address = f"throttle-{uuid.uuid4().hex[:12]}"
    async with app_client(strict, address) as client:
        await login_errors(client, school_a.slug, "teacher1", "wrong password number one")
        await login_errors(client, school_a.slug, "nobody", "wrong password number two")
        await login_errors(client, school_b.slug, "teacher2", "wrong password number three")
        await login_errors(client, school_b.slug, "ghost", "wrong password number four")
        # Four failures from the address, but two at each school: neither is throttled.
        await sign_in(client, school_b.slug, "admin")
        await login_errors(client, school_a.slug, "teacher2", "wrong password number five")
        await login_errors(client, school_a.slug, "ghost", "wrong password number six")
        throttled = await login_errors(client, school_a.slug, "teacher1", PASSWORD)
        assert codes(throttled) == ["TOO_MANY_ATTEMPTS"]
        assert throttled[0]["message"].startswith("Too many failed attempts")
        await sign_in(client, school_b.slug, "teacher1")
    async with app_client(strict) as elsewhere:
        await sign_in(elsewhere, school_a.slug, "teacher1")
    # The accounts themselves were not locked by failures spread across them.
    assert (await account_row(factory.engine, school_a.id, "teacher1")).locked_until is None


# --- tokens ---------------------------------------------------------------------------------------------


async def test_token_of_one_school_is_refused_at_another(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.11: a token issued for school A gives no access at school B"""
    school_a, school_b = await factory.school(), await factory.school()
    token = await login(client, school_a.slug, "admin")
    await assert_refused(client, school_b.slug, token)
    # ... and still works at its own school.
    assert await viewer(client, school_a.slug, token) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_tampered_and_garbage_tokens_are_anonymous(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.11: anything but a valid signed token is anonymous"""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # A pupil's token promoted to a school admin by editing the claims.
    claims["roles"] = ["SCHOOL_ADMIN"]
    promoted = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': json.loads(base64.urlsafe_b64decode(header + '==='))['kid'], 'typ': 'at+jwt'}).encode())}.{payload}."
    foreign_keys = SigningKeys.generate()
    foreign = issue_access_token(
        foreign_keys,
        account_id=school.accounts["teacher1"].id,
        school_id=school.id,
        session_id=uuid.uuid4(),
        roles=["STAFF"],
        ttl=timedelta(minutes=5),
        now=clock.now(),
    )
    for bad in (
        "garbage",
        "a.b.c",
        f"{header}.{payload}.{flipped}",
        promoted,
        unsigned,
        foreign,
        token + "x",
    ):
        await assert_refused(client, school.slug, bad)
    # Not a bearer token at all.
    response = await client.post(
        f"/schools/{school.slug}/graphql", json={"query": VIEWER}, headers={"authorization": f"Basic {token}"}
    )
    assert response.json()["data"]["viewer"] is None
    # The genuine token still works.
    assert await viewer(client, school.slug, token) is not None


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.7: an access token past its expiry is refused"""
    school = await factory.school()
    live = await login(client, school.slug, "teacher1")
    session_id = session_id_of(runtime, live, school.id)
    account_id = school.accounts["teacher1"].id

    def mint(minutes_ago: int) -> str:
        return issue_access_token(
            runtime.auth.keys,
            account_id=account_id,
            school_id=school.id,
            session_id=session_id,
            roles=["STAFF"],
            ttl=runtime.settings.access_token_ttl,
            now=clock.now() - timedelta(minutes=minutes_ago),
        )

    # Same key, same live session: only the time differs.
    assert await viewer(client, school.slug, mint(0)) is not None
    await assert_refused(client, school.slug, mint(60))


async def test_token_for_an_unknown_session_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.7: a correctly signed token is honoured only while its server-side session exists"""
    school = await factory.school()
    token = issue_access_token(
        runtime.auth.keys,
        account_id=school.accounts["admin"].id,
        school_id=school.id,
        session_id=uuid.uuid4(),
        roles=["SCHOOL_ADMIN"],
        ttl=timedelta(minutes=5),
        now=clock.now(),
    )
    await assert_refused(client, school.slug, token)


# --- sessions: logout, refresh rotation, timeouts --------------------------------------------------------


async def test_logout_revokes_the_session_server_side(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.7: logout revokes the session server-side"""
    school = await factory.school()
    signed_in = await sign_in(client, school.slug, "teacher1")
    other = await sign_in(client, school.slug, "teacher1")
    body = await gql(client, school.slug, LOGOUT, token=signed_in["accessToken"])
    assert body["data"]["logout"] == {"ok": True, "errors": []}
    await assert_refused(client, school.slug, signed_in["accessToken"])
    refused = await refresh(client, school.slug, signed_in["refreshToken"])
    assert refused["accessToken"] is None
    assert codes(refused["errors"]) == ["INVALID_REFRESH_TOKEN"]
    # Only that session ended: the account's other session goes on.
    assert await viewer(client, school.slug, other["accessToken"]) is not None
    assert (await refresh(client, school.slug, other["refreshToken"]))["errors"] == []


async def test_logout_needs_a_session(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 5.7: logout is an operation on the caller's own session; an anonymous caller has none"""
    school = await factory.school()
    body = await gql(client, school.slug, LOGOUT)
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.7: refresh tokens rotate; a used one presented again ends the whole session"""
    school = await factory.school()
    first = await sign_in(client, school.slug, "teacher1")
    second = await refresh(client, school.slug, first["refreshToken"])
    assert second["errors"] == []
    assert second["accessToken"] and second["refreshToken"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert await viewer(client, school.slug, second["accessToken"]) is not None
    third = await refresh(client, school.slug, second["refreshToken"])
    assert third["errors"] == []
    # The first refresh token again: someone copied it. The whole family is revoked.
    replay = await refresh(client, school.slug, first["refreshToken"])
    assert replay["accessToken"] is None and replay["refreshToken"] is None
    assert replay["errors"] == [
        {
            "field": "refreshToken",
            "code": "INVALID_REFRESH_TOKEN",
            "message": "The refresh token is unknown, used, expired or revoked: sign in again.",
        }
    ]
    await assert_refused(client, school.slug, third["accessToken"])
    await assert_refused(client, school.slug, first["accessToken"])
    assert codes((await refresh(client, school.slug, third["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]
    session_id = session_id_of(runtime, first["accessToken"], school.id)
    async with bound(factory.engine, school.id) as session:
        row = (
            await session.execute(scoped(AuthSession, school.id).where(AuthSession.id == session_id))
        ).scalar_one()
    assert row.revoked_at is not None and row.revoked_reason == "REFRESH_REUSE"


async def test_unknown_or_foreign_refresh_token_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.11: a refresh token works only at the school that issued it"""
    school_a, school_b = await factory.school(), await factory.school()
    pair = await sign_in(client, school_a.slug, "teacher1")
    assert codes((await refresh(client, school_b.slug, pair["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]
    assert codes((await refresh(client, school_a.slug, "not-a-token"))["errors"]) == ["INVALID_REFRESH_TOKEN"]
    # Being refused elsewhere did not spend it.
    assert (await refresh(client, school_a.slug, pair["refreshToken"]))["errors"] == []


async def test_idle_timeout_refuses_an_old_refresh_token(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.7: a session left idle past the idle timeout cannot be refreshed"""
    school = await factory.school()
    pair = await sign_in(client, school.slug, "teacher1")
    session_id = session_id_of(runtime, pair["accessToken"], school.id)
    async with bound(factory.engine, school.id) as session:
        token = (
            await session.execute(
                scoped(RefreshToken, school.id).where(RefreshToken.session_id == session_id)
            )
        ).scalar_one()
        # Issued with the idle timeout, not the absolute one.
        assert token.expires_at - token.created_at == runtime.settings.session_idle_timeout
    clock.CLOCK.advance(runtime.settings.session_idle_timeout + timedelta(seconds=1))
    assert codes((await refresh(client, school.slug, pair["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]


async def test_idle_timeout_setting_applies(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.7: the idle timeout comes from the settings and is measured from the last refresh"""
    quick = with_settings(runtime, session_idle_timeout=timedelta(minutes=5))
    school = await factory.school()
    async with app_client(quick) as client:
        pair = await sign_in(client, school.slug, "teacher1")
        clock.CLOCK.advance(timedelta(minutes=4))
        renewed = await refresh(client, school.slug, pair["refreshToken"])
        assert renewed["errors"] == [] and renewed["refreshToken"]
        clock.CLOCK.advance(timedelta(minutes=4))  # eight minutes since sign-in, four since the refresh
        again = await refresh(client, school.slug, renewed["refreshToken"])
        assert again["errors"] == [] and again["refreshToken"]
        clock.CLOCK.advance(timedelta(minutes=5, seconds=1))
        assert codes((await refresh(client, school.slug, again["refreshToken"]))["errors"]) == [
            "INVALID_REFRESH_TOKEN"
        ]


async def test_absolute_timeout_ends_the_session(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.7: a session ends at its absolute timeout however active it is: refreshed well within the idle
    timeout all day, its refresh token is refused once the absolute timeout has passed, and its last access
    token, valid a minute before, expires with the session"""
    settings = runtime.settings
    school = await factory.school()
    pair = await sign_in(client, school.slug, "teacher1")
    session_id = session_id_of(runtime, pair["accessToken"], school.id)
    async with bound(factory.engine, school.id) as session:
        row = (
            await session.execute(scoped(AuthSession, school.id).where(AuthSession.id == session_id))
        ).scalar_one()
    assert row.expires_at == clock.now() + settings.session_absolute_timeout
    end = row.expires_at
    every = settings.session_idle_timeout - timedelta(minutes=5)
    while clock.now() + every < end - timedelta(minutes=2):
        clock.CLOCK.advance(every)
        pair = await refresh(client, school.slug, pair["refreshToken"])
        assert pair["errors"] == [], clock.now()
    clock.CLOCK.set(end - timedelta(minutes=2))
    pair = await refresh(client, school.slug, pair["refreshToken"])
    assert pair["errors"] == []
    clock.CLOCK.set(end - timedelta(minutes=1))
    assert await viewer(client, school.slug, pair["accessToken"]) is not None
    clock.CLOCK.set(end + timedelta(minutes=1))  # three minutes since the last refresh
    await assert_refused(client, school.slug, pair["accessToken"])
    assert codes((await refresh(client, school.slug, pair["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]


# --- passwords ------------------------------------------------------------------------------------------


async def test_change_password_with_wrong_current_password(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 8.3: changing one's password needs the current one"""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    payload = await change_password(client, school.slug, token, "not my password at all", NEW_PASSWORD)
    assert payload["accessToken"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("currentPassword", "INVALID_CREDENTIALS")
    ]
    assert await viewer(client, school.slug, token) is not None
    await sign_in(client, school.slug, "teacher1", PASSWORD)
    assert codes(await login_errors(client, school.slug, "teacher1", NEW_PASSWORD)) == ["INVALID_CREDENTIALS"]


@pytest.mark.parametrize(
    ("new_password", "code"),
    [
        ("short one", "TOO_SHORT"),
        ("passwordpassword", "COMMON_PASSWORD"),
        ("teacher1 likes long walks", "CONTAINS_CONTEXT"),
        (PASSWORD, "SAME_PASSWORD"),
    ],
)
async def test_change_password_refuses_weak_passwords(
    client: httpx.AsyncClient, factory: SchoolFactory, new_password: str, code: str
) -> None:
    """LL 7.1.6: a new password must be secure (length, blocklist, no context words); nothing changes otherwise"""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    before = await account_row(factory.engine, school.id, "teacher1")
    payload = await change_password(client, school.slug, token, PASSWORD, new_password)
    assert payload["accessToken"] is None and payload["refreshToken"] is None
    assert code in codes(payload["errors"])
    assert {e["field"] for e in payload["errors"]} == {"newPassword"}
    after = await account_row(factory.engine, school.id, "teacher1")
    assert after.password_hash == before.password_hash
    assert after.password_changed_at == before.password_changed_at
    # The session was not revoked and the old password still signs in.
    assert await viewer(client, school.slug, token) is not None
    await sign_in(client, school.slug, "teacher1", PASSWORD)


async def test_change_password_ends_other_sessions_and_signs_in_afresh(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 8.3: changing a password known to others revokes every session; the caller gets a new one"""
    school = await factory.school()
    elsewhere = await sign_in(client, school.slug, "teacher1")
    here = await sign_in(client, school.slug, "teacher1")
    payload = await change_password(client, school.slug, here["accessToken"], PASSWORD, NEW_PASSWORD)
    assert payload["errors"] == []
    assert payload["accessToken"] and payload["refreshToken"]
    await assert_refused(client, school.slug, elsewhere["accessToken"])
    await assert_refused(client, school.slug, here["accessToken"])
    assert codes((await refresh(client, school.slug, elsewhere["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]
    me = await viewer(client, school.slug, payload["accessToken"])
    assert me is not None and me["username"] == "teacher1"
    assert (await refresh(client, school.slug, payload["refreshToken"]))["errors"] == []
    assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["INVALID_CREDENTIALS"]
    await sign_in(client, school.slug, "teacher1", NEW_PASSWORD)


async def test_no_forced_periodic_password_change(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 5.3: passwords are changed when needed, never on a schedule (NIST SP 800-63B: no forced rotation)"""
    school = await factory.school()
    first = await login(client, school.slug, "teacher1")
    assert (await change_password(client, school.slug, first, PASSWORD, NEW_PASSWORD))["errors"] == []
    changed = await account_row(factory.engine, school.id, "teacher1")
    assert changed.password_changed_at == clock.now()
    clock.CLOCK.advance(timedelta(days=5 * 365))  # five years on the same password
    token = await login(client, school.slug, "teacher1", NEW_PASSWORD)
    me = await viewer(client, school.slug, token)
    assert me is not None and me["mustChangePassword"] is False
    assert "errors" not in await gql(client, school.slug, PUPILS, token=token)
    assert not [f.name for f in dataclasses.fields(Settings) if "password" in f.name and "age" in f.name]


async def test_admin_reset_forces_a_password_change(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 7.1.6: an admin-forced change: until the new password is set, only viewer, changePassword and logout work"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    old_session = await sign_in(client, school.slug, "teacher1")
    temporary = await reset_password(client, school, admin, "teacher1")
    assert len(temporary) >= 20
    # The reset ended the account's sessions and the old password.
    await assert_refused(client, school.slug, old_session["accessToken"])
    assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["INVALID_CREDENTIALS"]

    token = (await sign_in(client, school.slug, "teacher1", temporary))["accessToken"]
    me = await viewer(client, school.slug, token)
    assert me is not None and me["mustChangePassword"] is True
    for query in (
        PUPILS,
        "{ groups { edges { node { id name } } } }",
        "{ staff { edges { node { id } } } }",
        "{ viewer { staff { forename } } }",
    ):
        body = await gql(client, school.slug, query, token=token)
        assert [(e["extensions"]["code"], e["extensions"].get("reason")) for e in body["errors"]] == [
            ("FORBIDDEN", "PASSWORD_CHANGE_REQUIRED")
        ], query
    # logout stays available.
    spare = (await sign_in(client, school.slug, "teacher1", temporary))["accessToken"]
    assert (await gql(client, school.slug, LOGOUT, token=spare))["data"]["logout"]["ok"] is True

    payload = await change_password(client, school.slug, token, temporary, NEW_PASSWORD)
    assert payload["errors"] == []
    fresh = payload["accessToken"]
    me = await viewer(client, school.slug, fresh)
    assert me is not None and me["mustChangePassword"] is False
    assert "errors" not in await gql(client, school.slug, PUPILS, token=fresh)
    # The temporary password worked once: it is gone now.
    assert codes(await login_errors(client, school.slug, "teacher1", temporary)) == ["INVALID_CREDENTIALS"]


async def test_admin_with_a_forced_change_cannot_administer(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 7.1.6: mutations too are refused with PASSWORD_CHANGE_REQUIRED until the password is changed"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    temporary = await reset_password(client, school, admin, "admin")
    token = (await sign_in(client, school.slug, "admin", temporary))["accessToken"]
    body = await gql(
        client,
        school.slug,
        RESET,
        {"id": to_global_id("Account", school.accounts["teacher1"].id)},
        token=token,
    )
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["extensions"].get("reason")) for e in body["errors"]] == [
        ("FORBIDDEN", "PASSWORD_CHANGE_REQUIRED")
    ]
    await sign_in(client, school.slug, "teacher1")


async def test_only_admins_reset_passwords(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 7.1.6: only a school admin can reset another account's password"""
    school = await factory.school()
    target = {"id": to_global_id("Account", school.accounts["teacher2"].id)}
    for username in ("teacher1", "senco", "pupil1", "parent1"):
        token = await login(client, school.slug, username)
        body = await gql(client, school.slug, RESET, target, token=token)
        assert error_codes(body) == ["FORBIDDEN"], username
    assert error_codes(await gql(client, school.slug, RESET, target)) == ["UNAUTHENTICATED"]
    await sign_in(client, school.slug, "teacher2")


async def test_admin_cannot_reset_another_schools_account(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 7.1.6: a school admin's reset reaches only accounts of their own school"""
    school_a, school_b = await factory.school(), await factory.school()
    admin_a = await login(client, school_a.slug, "admin")
    body = await gql(
        client,
        school_a.slug,
        RESET,
        {"id": to_global_id("Account", school_b.accounts["teacher1"].id)},
        token=admin_a,
    )
    payload = body["data"]["resetPassword"]
    assert payload["temporaryPassword"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("accountId", "NOT_FOUND")]
    await sign_in(client, school_b.slug, "teacher1")


async def test_password_hash_is_argon2id(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL-S2 P2: passwords are stored one-way, as argon2id hashes"""
    school = await factory.school()
    token = await login(client, school.slug, "teacher1")
    await change_password(client, school.slug, token, PASSWORD, NEW_PASSWORD)
    stored = (await account_row(factory.engine, school.id, "teacher1")).password_hash
    assert stored is not None and stored.startswith("$argon2id$v=19$")
    assert NEW_PASSWORD not in stored and NEW_PASSWORD.encode().hex() not in stored


async def test_login_rehashes_when_parameters_change(runtime: Runtime, factory: SchoolFactory) -> None:
    """LL-S2 P2: a stored hash is upgraded to the current argon2id parameters at the next sign-in"""
    school = await factory.school()
    before = (await account_row(factory.engine, school.id, "teacher1")).password_hash
    assert before is not None and "m=8,t=1,p=1" in before
    stronger = with_settings(runtime, argon2_time_cost=2, argon2_memory_kib=16)
    async with app_client(stronger) as client:
        await sign_in(client, school.slug, "teacher1")
    after = (await account_row(factory.engine, school.id, "teacher1")).password_hash
    assert after is not None and after.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert after != before
    # Signing in again with the same parameters keeps the hash; the password still works everywhere.
    async with app_client(stronger) as client:
        await sign_in(client, school.slug, "teacher1")
    assert (await account_row(factory.engine, school.id, "teacher1")).password_hash == after
    async with app_client(runtime) as client:
        await sign_in(client, school.slug, "teacher1")


# --- account management by the school admin --------------------------------------------------------------


async def _new_staff(engine: AsyncEngine, school: SchoolData, forename: str = "Nina") -> Staff:
    async with bound(engine, school.id) as session:
        staff = Staff(
            school_id=school.id,
            created_at=clock.now(),
            forename=forename,
            surname="Newcomer",
            work_email=f"{forename.lower()}@{school.slug}.example",
        )
        session.add(staff)
    return staff


async def _new_contact(engine: AsyncEngine, school: SchoolData, pupil_key: str) -> Contact:
    async with bound(engine, school.id) as session:
        contact = Contact(
            school_id=school.id,
            created_at=clock.now(),
            forename="Carl",
            surname="Carer",
            email="carl@example.org",
        )
        session.add(contact)
        await session.flush()
        session.add(
            PupilContact(
                school_id=school.id,
                created_at=clock.now(),
                pupil_id=school.pupils[pupil_key].id,
                contact_id=contact.id,
            )
        )
    return contact


async def _create(
    client: httpx.AsyncClient,
    school: SchoolData,
    token: str,
    person: str,
    username: str,
    *,
    admin: bool = False,
) -> dict[str, Any]:
    body = await gql(
        client, school.slug, CREATE, {"person": person, "u": username, "admin": admin}, token=token
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createAccount"]
    return payload


async def test_admin_creates_staff_pupil_and_parent_accounts(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 4.3: the school admin creates Registered Users; each must replace the temporary password. (pupil3
    is under 13 and has the factory's parent's consent; without one, tests/test_consent.py.)"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    staff = await _new_staff(factory.engine, school)
    contact = await _new_contact(factory.engine, school, "pupil2")
    people = [
        (to_global_id("Staff", staff.id), "nina.newcomer", "STAFF"),
        (to_global_id("Pupil", school.pupils["pupil3"].id), "pat.three", "PUPIL"),
        (to_global_id("Contact", contact.id), "carl.carer", "PARENT"),
    ]
    for person, username, role in people:
        payload = await _create(client, school, admin, person, username)
        assert payload["errors"] == [], payload
        assert payload["account"]["username"] == username
        assert payload["account"]["role"] == role
        assert payload["account"]["status"] == "ACTIVE"
        assert payload["account"]["mustChangePassword"] is True
        temporary = payload["temporaryPassword"]
        token = (await sign_in(client, school.slug, username, temporary))["accessToken"]
        body = await gql(client, school.slug, PUPILS, token=token)
        assert [e["extensions"].get("reason") for e in body["errors"]] == ["PASSWORD_CHANGE_REQUIRED"]
        changed = await change_password(client, school.slug, token, temporary, NEW_PASSWORD)
        assert changed["errors"] == []
        body = await gql(client, school.slug, PUPILS, token=changed["accessToken"])
        assert "errors" not in body, body
        visible = {edge["node"]["id"] for edge in body["data"]["pupils"]["edges"]}
        if role == "PUPIL":
            assert visible == {to_global_id("Pupil", school.pupils["pupil3"].id)}
        if role == "PARENT":
            assert visible == {to_global_id("Pupil", school.pupils["pupil2"].id)}
        assert codes(await login_errors(client, school.slug, username, temporary)) == ["INVALID_CREDENTIALS"]


async def test_created_by_is_recorded(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 7.2: the admin who authorised a new user is recorded against the account"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    payload = await _create(
        client, school, admin, to_global_id("Pupil", school.pupils["pupil3"].id), "pat.three"
    )
    assert payload["errors"] == []
    row = await account_row(factory.engine, school.id, "pat.three")
    assert row.created_by == school.accounts["admin"].id
    assert row.role == "PUPIL" and row.pupil_id == school.pupils["pupil3"].id
    assert row.must_change_password is True
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")


async def test_school_admin_role_only_for_staff(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 7.2: the role is identified and roles may not conflict: a pupil cannot be a school admin"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    payload = await _create(
        client, school, admin, to_global_id("Pupil", school.pupils["pupil3"].id), "pat.admin", admin=True
    )
    assert payload["account"] is None and payload["temporaryPassword"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("schoolAdmin", "ROLE_CONFLICT")]
    async with bound(factory.engine, school.id) as session:
        found = (
            await session.execute(scoped(Account, school.id).where(Account.username == "pat.admin"))
        ).first()
    assert found is None
    staff = await _new_staff(factory.engine, school)
    payload = await _create(client, school, admin, to_global_id("Staff", staff.id), "nina.admin", admin=True)
    assert payload["errors"] == []
    assert payload["account"]["role"] == "SCHOOL_ADMIN"


async def test_create_account_refusals(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3: usernames are unique per school, one account per person, and only people of this school"""
    school, other = await factory.school(), await factory.school()
    admin = await login(client, school.slug, "admin")
    staff = await _new_staff(factory.engine, school)
    cases = [
        (to_global_id("Staff", staff.id), "TEACHER1", ("username", "USERNAME_TAKEN")),
        (to_global_id("Staff", school.staff["teacher1"].id), "someone.new", ("personId", "ACCOUNT_EXISTS")),
        (to_global_id("Staff", other.staff["teacher1"].id), "someone.new", ("personId", "NOT_FOUND")),
        (to_global_id("Group", school.groups["A"].id), "someone.new", ("personId", "NOT_FOUND")),
        ("not-an-id", "someone.new", ("personId", "NOT_FOUND")),
        (to_global_id("Staff", staff.id), "no spaces allowed", ("username", "INVALID_USERNAME")),
    ]
    for person, username, expected in cases:
        payload = await _create(client, school, admin, person, username)
        assert payload["account"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [expected], (person, username)
    async with bound(factory.engine, school.id) as session:
        count = len((await session.execute(scoped(Account, school.id))).scalars().all())
    assert count == len(school.accounts)


async def test_only_admins_create_accounts(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LRS 7.2: new users need the school's (admin's) authorisation"""
    school = await factory.school()
    variables = {"person": to_global_id("Pupil", school.pupils["pupil3"].id), "u": "pat.three"}
    for username in ("teacher1", "senco", "pupil1", "parent1"):
        token = await login(client, school.slug, username)
        body = await gql(client, school.slug, CREATE, variables, token=token)
        assert body["data"] is None
        assert error_codes(body) == ["FORBIDDEN"], username
    assert error_codes(await gql(client, school.slug, CREATE, variables)) == ["UNAUTHENTICATED"]
    async with bound(factory.engine, school.id) as session:
        found = (
            await session.execute(scoped(Account, school.id).where(Account.username == "pat.three"))
        ).first()
    assert found is None


async def test_disable_revokes_sessions_and_reenable_with_reset(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 8.2: an account whose details leaked is disabled at once and re-enabled with new details"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    leaked = await sign_in(client, school.slug, "teacher1")
    account_id = to_global_id("Account", school.accounts["teacher1"].id)
    body = await gql(
        client,
        school.slug,
        SET_STATUS,
        {"id": account_id, "s": "DISABLED", "r": "password leaked"},
        token=admin,
    )
    assert body["data"]["setAccountStatus"] == {
        "account": {"id": account_id, "status": "DISABLED"},
        "errors": [],
    }
    await assert_refused(client, school.slug, leaked["accessToken"])
    assert codes((await refresh(client, school.slug, leaked["refreshToken"]))["errors"]) == [
        "INVALID_REFRESH_TOKEN"
    ]
    assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["ACCOUNT_DISABLED"]
    row = await account_row(factory.engine, school.id, "teacher1")
    assert row.status == "DISABLED" and row.status_reason == "password leaked"

    body = await gql(client, school.slug, SET_STATUS, {"id": account_id, "s": "ACTIVE"}, token=admin)
    assert body["data"]["setAccountStatus"]["account"]["status"] == "ACTIVE"
    temporary = await reset_password(client, school, admin, "teacher1")
    assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["INVALID_CREDENTIALS"]
    token = (await sign_in(client, school.slug, "teacher1", temporary))["accessToken"]
    changed = await change_password(client, school.slug, token, temporary, NEW_PASSWORD)
    assert changed["errors"] == []
    assert "errors" not in await gql(client, school.slug, PUPILS, token=changed["accessToken"])


async def test_disabled_account_does_not_reveal_itself_to_a_wrong_password(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LRS 5.11: the status of an account is told only to someone who knows its password"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    account_id = to_global_id("Account", school.accounts["teacher1"].id)
    await gql(client, school.slug, SET_STATUS, {"id": account_id, "s": "DISABLED"}, token=admin)
    assert codes(await login_errors(client, school.slug, "teacher1", "an entirely wrong guess")) == [
        "INVALID_CREDENTIALS"
    ]


async def test_set_account_status_refusals(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 8.2: only school admins disable accounts, never their own, and only at their school"""
    school, other = await factory.school(), await factory.school()
    admin = await login(client, school.slug, "admin")
    own = {"id": to_global_id("Account", school.accounts["admin"].id), "s": "DISABLED"}
    payload = (await gql(client, school.slug, SET_STATUS, own, token=admin))["data"]["setAccountStatus"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("accountId", "OWN_ACCOUNT")]
    foreign = {"id": to_global_id("Account", other.accounts["teacher1"].id), "s": "DISABLED"}
    payload = (await gql(client, school.slug, SET_STATUS, foreign, token=admin))["data"]["setAccountStatus"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("accountId", "NOT_FOUND")]
    teacher = await login(client, school.slug, "teacher1")
    target = {"id": to_global_id("Account", school.accounts["teacher2"].id), "s": "DISABLED"}
    assert error_codes(await gql(client, school.slug, SET_STATUS, target, token=teacher)) == ["FORBIDDEN"]
    await sign_in(client, school.slug, "teacher2")
    await sign_in(client, other.slug, "teacher1")
    assert await viewer(client, school.slug, admin) is not None


async def test_session_rows_record_the_address(
    client: httpx.AsyncClient, factory: SchoolFactory, runtime: Runtime
) -> None:
    """LRS 5.1: activity is logged against the individual: each session records its account and address"""
    school = await factory.school()
    async with app_client(runtime, "203.0.113.7") as fixed:
        token = (await sign_in(fixed, school.slug, "teacher1"))["accessToken"]
    session_id = session_id_of(runtime, token, school.id)
    async with bound(factory.engine, school.id) as session:
        row = (
            await session.execute(
                select(AuthSession).where(in_school(AuthSession, school.id), AuthSession.id == session_id)
            )
        ).scalar_one()
    assert row.account_id == school.accounts["teacher1"].id
    assert row.client_address == "203.0.113.7"


async def test_change_password_guesses_are_throttled(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: changePassword is no way round the sign-in throttle for guessing the current password"""
    strict = with_settings(runtime, address_failure_limit=3, lockout_threshold=1000)
    school = await factory.school()
    async with app_client(strict) as client:
        token = (await sign_in(client, school.slug, "teacher1"))["accessToken"]
        for guess in ("first wrong guess here", "second wrong guess here", "third wrong guess here"):
            payload = await change_password(client, school.slug, token, guess, NEW_PASSWORD)
            assert [(e["field"], e["code"]) for e in payload["errors"]] == [
                ("currentPassword", "INVALID_CREDENTIALS")
            ]
        payload = await change_password(client, school.slug, token, PASSWORD, NEW_PASSWORD)
        assert payload["accessToken"] is None
        assert codes(payload["errors"]) == ["TOO_MANY_ATTEMPTS"]
        assert codes(await login_errors(client, school.slug, "teacher1", PASSWORD)) == ["TOO_MANY_ATTEMPTS"]
    async with app_client(strict) as elsewhere:
        await sign_in(elsewhere, school.slug, "teacher1", PASSWORD)


async def test_lockout_ends_after_its_duration(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: a lockout is temporary: once lockout_duration has passed the right password works again"""
    strict = with_settings(runtime, lockout_threshold=2, address_failure_limit=1000)
    school = await factory.school()
    async with app_client(strict) as client:
        for _ in range(2):
            await login_errors(client, school.slug, "teacher1", "wrong password number one")
        refused = await login_errors(client, school.slug, "teacher1", PASSWORD)
        assert codes(refused) == ["ACCOUNT_LOCKED"]
        until = clock.now() + strict.settings.lockout_duration
        assert f"locked until {until:%H:%M} UTC" in refused[0]["message"]
        clock.CLOCK.advance(strict.settings.lockout_duration + timedelta(seconds=1))
        await sign_in(client, school.slug, "teacher1")

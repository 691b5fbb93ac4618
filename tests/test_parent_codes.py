"""Parent access codes through the HTTP edge (LL 6.3.4, LL 7.1.4): issued by a school admin for one pupil,
shown once, single use, expiring, valid only at the issuing school; registration links exactly that child.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.opaque_tokens import hash_token
from graph.core.relay import to_global_id
from models import Account, Contact, ParentCode, PupilContact
from server.runtime import Runtime
from tenants.context import bind
from tenants.scoping import scoped
from tests.factories import clock
from tests.factories.apps import app_client, with_settings
from tests.factories.schools import PASSWORD, SchoolData, SchoolFactory, gql, login

PARENT_PASSWORD = "marigold boats on a calm lake"

ISSUE = """
mutation($pupil: ID!, $rel: Relationship! = PARENT) {
  issueParentCode(input: {pupilId: $pupil, relationship: $rel}) { code expiresAt errors { field code message } }
}
"""
REGISTER = """
mutation($code: String!, $u: String!, $p: String!, $f: String!, $s: String!, $e: String) {
  registerParent(input: {code: $code, username: $u, password: $p, forename: $f, surname: $s, email: $e}) {
    accessToken refreshToken errors { field code message }
  }
}
"""
LINK = "mutation($code: String!) { linkChild(input: {code: $code}) { linked errors { field code message } } }"
CHILDREN = """
{
  viewer { username roles children { id forename } }
  pupils { edges { node { id } } }
}
"""
CODE_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


@asynccontextmanager
async def bound(engine: AsyncEngine, school_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school_id])
        yield session


def pupil_id(school: SchoolData, key: str) -> str:
    return to_global_id("Pupil", school.pupils[key].id)


async def issue(
    client: httpx.AsyncClient, school: SchoolData, token: str, pupil_key: str, relationship: str = "PARENT"
) -> str:
    body = await gql(
        client, school.slug, ISSUE, {"pupil": pupil_id(school, pupil_key), "rel": relationship}, token=token
    )
    payload = body["data"]["issueParentCode"]
    assert payload["errors"] == [], payload
    code: str = payload["code"]
    return code


async def leave(client: httpx.AsyncClient, school: SchoolData, token: str, pupil_key: str) -> None:
    """The school admin records that the pupil has left today (deactivatePupil)."""
    body = await gql(
        client,
        school.slug,
        "mutation($p: ID!) { deactivatePupil(input: {pupilId: $p}) { pupil { active } errors { code } } }",
        {"p": pupil_id(school, pupil_key)},
        token=token,
    )
    assert body["data"]["deactivatePupil"] == {"pupil": {"active": False}, "errors": []}, body


async def register(
    client: httpx.AsyncClient,
    slug: str,
    code: str,
    username: str,
    password: str = PARENT_PASSWORD,
    *,
    forename: str = "Rita",
    surname: str = "Registrant",
    email: str | None = "rita@example.org",
) -> dict[str, Any]:
    variables = {"code": code, "u": username, "p": password, "f": forename, "s": surname, "e": email}
    body = await gql(client, slug, REGISTER, variables)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["registerParent"]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def code_rows(engine: AsyncEngine, school_id: uuid.UUID) -> list[ParentCode]:
    async with bound(engine, school_id) as session:
        return list(
            (await session.execute(scoped(ParentCode, school_id).order_by(ParentCode.issued_at))).scalars()
        )


async def account_named(engine: AsyncEngine, school_id: uuid.UUID, username: str) -> Account | None:
    async with bound(engine, school_id) as session:
        return (
            await session.execute(scoped(Account, school_id).where(Account.username == username))
        ).scalar_one_or_none()


async def test_code_registers_a_parent_linked_to_that_child_only(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a parent registers with the school's code and sees that child, and no other"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    body = await gql(client, school.slug, ISSUE, {"pupil": pupil_id(school, "pupil2")}, token=admin)
    payload = body["data"]["issueParentCode"]
    assert payload["errors"] == []
    code = payload["code"]
    assert CODE_FORMAT.match(code), code
    assert payload["expiresAt"] is not None

    registered = await register(client, school.slug, code, "rita.registrant")
    assert registered["errors"] == []
    assert registered["accessToken"] and registered["refreshToken"]
    body = await gql(client, school.slug, CHILDREN, token=registered["accessToken"])
    assert "errors" not in body, body
    assert body["data"]["viewer"]["username"] == "rita.registrant"
    assert body["data"]["viewer"]["roles"] == ["PARENT"]
    assert [c["id"] for c in body["data"]["viewer"]["children"]] == [pupil_id(school, "pupil2")]
    assert [e["node"]["id"] for e in body["data"]["pupils"]["edges"]] == [pupil_id(school, "pupil2")]

    # The account, its contact record and the link are as the code said.
    account = await account_named(factory.engine, school.id, "rita.registrant")
    assert account is not None and account.role == "PARENT" and account.contact_id is not None
    assert account.must_change_password is False
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    async with bound(factory.engine, school.id) as session:
        contact = (
            await session.execute(scoped(Contact, school.id).where(Contact.id == account.contact_id))
        ).scalar_one()
        links = (
            (
                await session.execute(
                    scoped(PupilContact, school.id).where(PupilContact.contact_id == contact.id)
                )
            )
            .scalars()
            .all()
        )
    assert (contact.forename, contact.surname, contact.email) == ("Rita", "Registrant", "rita@example.org")
    assert [(link.pupil_id, link.relationship) for link in links] == [(school.pupils["pupil2"].id, "PARENT")]

    # The new parent can sign in with the chosen password.
    await login(client, school.slug, "rita.registrant", PARENT_PASSWORD)


async def test_code_is_shown_once_and_every_issue_is_recorded(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 7.1.4: a record of parent codes: every issue is a row with who issued it and who used it"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    first = await issue(client, school, admin, "pupil2")
    second = await issue(client, school, admin, "pupil2", "GUARDIAN")
    assert first != second
    rows = await code_rows(factory.engine, school.id)
    assert len(rows) == 2
    for row, code in zip(rows, (first, second)):
        assert row.pupil_id == school.pupils["pupil2"].id
        assert row.issued_by == school.accounts["admin"].id
        # Only a digest is stored, never the code.
        assert row.code_hash == hash_token(code) and code.encode() not in row.code_hash
        assert row.used_at is None and row.used_by is None
        assert row.expires_at - row.issued_at == factory.auth.settings.parent_code_ttl
    assert [r.relationship for r in rows] == ["PARENT", "GUARDIAN"]

    await register(client, school.slug, second, "gina.guardian")
    parent = await account_named(factory.engine, school.id, "gina.guardian")
    assert parent is not None
    rows = await code_rows(factory.engine, school.id)
    assert rows[0].used_at is None and rows[0].used_by is None
    assert rows[1].used_at is not None and rows[1].used_by == parent.id
    # The admin who issued the code authorised the account it created.
    assert parent.created_by == school.accounts["admin"].id


async def test_code_is_single_use(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: a parent code works once"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    assert (await register(client, school.slug, code, "first.parent"))["errors"] == []
    again = await register(client, school.slug, code, "second.parent")
    assert again["accessToken"] is None
    assert again["errors"] == [
        {
            "field": "code",
            "code": "INVALID_PARENT_CODE",
            "message": "This parent code is not valid: it is unknown, already used, withdrawn or expired.",
        }
    ]
    assert await account_named(factory.engine, school.id, "second.parent") is None


async def test_code_is_read_forgivingly(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: a code typed in lower case, with spaces instead of dashes, is the same code"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    typed = " " + code.lower().replace("-", " ") + " "
    assert (await register(client, school.slug, typed, "typing.parent"))["errors"] == []


async def test_expired_code_is_refused(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: parent codes expire: once their time to live has passed they link no one"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    clock.CLOCK.advance(factory.auth.settings.parent_code_ttl + timedelta(seconds=1))
    payload = await register(client, school.slug, code, "late.parent")
    assert problems(payload) == [("code", "INVALID_PARENT_CODE")]
    assert await account_named(factory.engine, school.id, "late.parent") is None


async def test_code_of_one_school_is_refused_at_another(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a code is valid only at the school that issued it"""
    school_a, school_b = await factory.school(), await factory.school()
    admin = await login(client, school_a.slug, "admin")
    code = await issue(client, school_a, admin, "pupil2")
    payload = await register(client, school_b.slug, code, "wandering.parent")
    assert problems(payload) == [("code", "INVALID_PARENT_CODE")]
    assert await account_named(factory.engine, school_b.id, "wandering.parent") is None
    # Not spent by the attempt elsewhere.
    assert (await register(client, school_a.slug, code, "wandering.parent"))["errors"] == []


async def test_link_child_adds_a_second_child(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: a second code, redeemed by the signed-in parent, links a second child"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    first = await issue(client, school, admin, "pupil2")
    token = (await register(client, school.slug, first, "two.kids"))["accessToken"]
    second = await issue(client, school, admin, "pupilB1", "CARER")
    body = await gql(client, school.slug, LINK, {"code": second}, token=token)
    assert body["data"]["linkChild"] == {"linked": True, "errors": []}
    body = await gql(client, school.slug, CHILDREN, token=token)
    assert "errors" not in body, body
    expected = {pupil_id(school, "pupil2"), pupil_id(school, "pupilB1")}
    assert {c["id"] for c in body["data"]["viewer"]["children"]} == expected
    assert {e["node"]["id"] for e in body["data"]["pupils"]["edges"]} == expected
    rows = await code_rows(factory.engine, school.id)
    parent = await account_named(factory.engine, school.id, "two.kids")
    assert parent is not None
    assert [r.used_by for r in rows] == [parent.id, parent.id]
    async with bound(factory.engine, school.id) as session:
        link = (
            await session.execute(
                scoped(PupilContact, school.id).where(
                    PupilContact.contact_id == parent.contact_id,
                    PupilContact.pupil_id == school.pupils["pupilB1"].id,
                )
            )
        ).scalar_one()
    assert link.relationship == "CARER"
    # The code is spent.
    body = await gql(client, school.slug, LINK, {"code": second}, token=token)
    assert body["data"]["linkChild"]["linked"] is False
    assert problems(body["data"]["linkChild"]) == [("code", "INVALID_PARENT_CODE")]


async def test_link_child_is_for_parents_only(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: only a parent's account can redeem a code to link a child"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    for username in ("teacher1", "pupil1", "admin"):
        token = await login(client, school.slug, username)
        body = await gql(client, school.slug, LINK, {"code": code}, token=token)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], username
    body = await gql(client, school.slug, LINK, {"code": code})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert all(r.used_at is None for r in await code_rows(factory.engine, school.id))


async def test_weak_password_does_not_consume_the_code(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a registration refused for its password leaves the code usable"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    for weak, expected in (
        ("too short", "TOO_SHORT"),
        ("passwordpassword", "COMMON_PASSWORD"),
        ("hopeful.parent forever more", "CONTAINS_CONTEXT"),
    ):
        payload = await register(client, school.slug, code, "hopeful.parent", weak)
        assert payload["accessToken"] is None
        assert ("password", expected) in problems(payload), payload
        assert {field for field, _ in problems(payload)} == {"password"}
    assert await account_named(factory.engine, school.id, "hopeful.parent") is None
    assert (await code_rows(factory.engine, school.id))[0].used_at is None
    assert (await register(client, school.slug, code, "hopeful.parent"))["errors"] == []


async def test_registration_input_is_checked_without_spending_the_code(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a refused registration (taken username, missing name, bad email) leaves the code usable"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil2")
    payload = await register(client, school.slug, code, "Teacher1")
    assert problems(payload) == [("username", "USERNAME_TAKEN")]
    payload = await register(client, school.slug, code, "x", forename=" ", surname="", email="not-an-email")
    assert {field for field, _ in problems(payload)} == {"username", "forename", "surname", "email"}
    assert (await code_rows(factory.engine, school.id))[0].used_at is None
    assert (await register(client, school.slug, code, "fine.parent", email=None))["errors"] == []


async def test_only_admins_issue_codes(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.4: parent codes come from the school (its admins), nobody else"""
    school = await factory.school()
    variables = {"pupil": pupil_id(school, "pupil1")}
    for username in ("teacher1", "senco", "pupil1", "parent1"):
        token = await login(client, school.slug, username)
        body = await gql(client, school.slug, ISSUE, variables, token=token)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], username
    body = await gql(client, school.slug, ISSUE, variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert await code_rows(factory.engine, school.id) == []


async def test_codes_only_for_active_pupils_of_this_school(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a code is for a pupil of this school who has not left"""
    school, other = await factory.school(), await factory.school()
    admin = await login(client, school.slug, "admin")
    body = await gql(client, school.slug, ISSUE, {"pupil": pupil_id(other, "pupil1")}, token=admin)
    assert problems(body["data"]["issueParentCode"]) == [("pupilId", "NOT_FOUND")]
    body = await gql(
        client, school.slug, ISSUE, {"pupil": to_global_id("Staff", school.staff["teacher1"].id)}, token=admin
    )
    assert problems(body["data"]["issueParentCode"]) == [("pupilId", "NOT_FOUND")]
    await leave(client, school, admin, "pupil3")
    body = await gql(client, school.slug, ISSUE, {"pupil": pupil_id(school, "pupil3")}, token=admin)
    assert problems(body["data"]["issueParentCode"]) == [("pupilId", "PUPIL_INACTIVE")]
    assert await code_rows(factory.engine, school.id) == []
    assert await code_rows(factory.engine, other.id) == []


async def test_guessing_codes_is_throttled(runtime: Runtime, factory: SchoolFactory) -> None:
    """LRS 5.11: failed code redemptions count against the address like failed sign-ins"""
    strict = with_settings(runtime, address_failure_limit=3)
    school = await factory.school()
    async with app_client(runtime) as helper:
        admin = await login(helper, school.slug, "admin")
        code = await issue(helper, school, admin, "pupil2")
    async with app_client(strict) as client:
        for guess in ("AAAA-AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB-BBBB", "CCCC-CCCC-CCCC-CCCC"):
            payload = await register(client, school.slug, guess, "guessing.parent")
            assert problems(payload) == [("code", "INVALID_PARENT_CODE")]
        payload = await register(client, school.slug, code, "guessing.parent")
        assert problems(payload) == [(None, "TOO_MANY_ATTEMPTS")]
        # Signing in from that address is refused too.
        body = await gql(
            client,
            school.slug,
            'mutation { login(input: {username: "teacher1", password: "'
            + PASSWORD
            + '"}) { errors { code } } }',
        )
        assert body["data"]["login"]["errors"] == [{"code": "TOO_MANY_ATTEMPTS"}]
    # The code itself was not spent, and works from another address.
    async with app_client(strict) as elsewhere:
        assert (await register(elsewhere, school.slug, code, "patient.parent"))["errors"] == []


async def test_code_for_a_pupil_who_has_left_is_refused(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.2: a code issued before the pupil left no longer links anyone to the leaver (LL 6.3.4)"""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    code = await issue(client, school, admin, "pupil3")
    await leave(client, school, admin, "pupil3")
    payload = await register(client, school.slug, code, "leaver.parent")
    assert problems(payload) == [("code", "INVALID_PARENT_CODE")]
    assert await account_named(factory.engine, school.id, "leaver.parent") is None
    # A signed-in parent cannot link the leaver either.
    parent = await login(client, school.slug, "parent1")
    body = await gql(client, school.slug, LINK, {"code": code}, token=parent)
    assert problems(body["data"]["linkChild"]) == [("code", "INVALID_PARENT_CODE")]
    assert (await code_rows(factory.engine, school.id))[0].used_at is None

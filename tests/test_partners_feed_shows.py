"""The change feed follows what an object shows (issue 14, migration 0028): a person is served again when
their account's username, their links, a linked person's sourcedId or status, or the school's org
changes, and a class when its terms or the org change, though none of those is the person's or class's
own row. A partner syncing by the feed then fetches the object and finds the change. A re-import that
changes nothing serves nothing. And OneRoster's own delta (``filter=dateLastModified>...``) serves every
person an import edited, contacts included, and every class, course and enrolment it changed. Over HTTP
with partner tokens, on real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.clock import FixedClock
from graph.core.relay import to_global_id
from tenants.context import bind
from tests.factories.partners import PartnerFactory
from tests.factories.roster import enrol, klass, oneroster, upload, user
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_partners import partners, reader, roster_url  # noqa: F401 - fixtures
from tests.test_partners_scopes import _token
from tests.test_roster_import import UPNS

SET_ORG = "mutation($o: String!) { setRosterOrg(input: {orgSourcedId: $o}) { errors { code } } }"
LINK = "mutation($i: LinkContactInput!) { linkContact(input: $i) { errors { code } } }"
UNLINK = "mutation($i: UnlinkContactInput!) { unlinkContact(input: $i) { errors { code } } }"


def sourced(row: Any) -> str:
    return str(getattr(row, "source_id", None) or getattr(row, "external_id", None) or row.id)


async def read_on(
    client: httpx.AsyncClient, school: SchoolData, since: str
) -> tuple[set[tuple[str, str]], str]:
    """Every (collection, sourcedId) the feed serves after ``since``, and where it stopped."""
    served: set[tuple[str, str]] = set()
    while True:
        response = await client.get(roster_url(school, "changes"), params={"since": since, "limit": "100"})
        assert response.status_code == 200, response.text
        body = response.json()
        served |= {(c["collection"], c["sourcedId"]) for c in body["changes"]}
        if body["next"] == since:
            return served, since
        since = body["next"]


async def as_admin(
    client: httpx.AsyncClient, school: SchoolData, query: str, variables: dict[str, Any]
) -> Any:
    """A school admin's mutation (the partner's token set aside for it); its payload, checked for errors."""
    partner = client.headers.pop("authorization")
    try:
        body = await gql(
            client, school.slug, query, variables, token=await login(client, school.slug, "admin")
        )
    finally:
        client.headers["authorization"] = partner
    payload = next(iter(body["data"].values()))
    assert payload["errors"] == [], body
    return payload


async def user_object(client: httpx.AsyncClient, school: SchoolData, row: Any) -> dict[str, Any]:
    response = await client.get(roster_url(school, f"users/{sourced(row)}"))
    assert response.status_code == 200, response.text
    obj: dict[str, Any] = response.json()["user"]
    return obj


def agents(obj: dict[str, Any]) -> list[str]:
    return [a["sourcedId"] for a in obj["agents"]]


async def test_a_new_account_serves_its_person_with_the_username(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    """LL 10.2: a pupil given an account (createAccount) is served again, and their object has the
    username; no one else is."""
    school, client = reader
    _, since = await read_on(client, school, "0")
    pupil = school.pupils["pupil3"]  # the factory gives pupil3 no account
    assert (await user_object(client, school, pupil))["username"] == ""
    await as_admin(
        client,
        school,
        "mutation($i: CreateAccountInput!) { createAccount(input: $i) { errors { code } } }",
        {"i": {"personId": to_global_id("Pupil", pupil.id), "username": "pat.three"}},
    )
    served, _ = await read_on(client, school, since)
    assert served == {("users", sourced(pupil))}
    assert (await user_object(client, school, pupil))["username"] == "pat.three"


async def test_linking_and_unlinking_a_contact_serves_both_ends(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    """A contact linked to a pupil (linkContact), the link's relationship changed, then unlinked: each
    time the pupil and the contact are served again, and their objects' agents and the contact's role
    show the link as it now is."""
    school, client = reader
    _, since = await read_on(client, school, "0")
    pupil, contact = school.pupils["pupil2"], school.contacts["parent1"]
    link = {"contactId": to_global_id("Contact", contact.id), "pupilId": to_global_id("Pupil", pupil.id)}
    before = agents(await user_object(client, school, contact))
    assert sourced(pupil) not in before

    both = {("users", sourced(pupil)), ("users", sourced(contact))}

    await as_admin(client, school, LINK, {"i": link})
    served, since = await read_on(client, school, since)
    assert served == both
    assert sorted(agents(await user_object(client, school, contact))) == sorted([*before, sourced(pupil)])
    assert sourced(contact) in agents(await user_object(client, school, pupil))
    assert (await user_object(client, school, contact))["role"] == "parent"

    # The same link again as guardian (the link's relationship updated): the contact's role follows.
    await as_admin(client, school, LINK, {"i": {**link, "relationship": "GUARDIAN"}})
    served, since = await read_on(client, school, since)
    assert served == both
    assert (await user_object(client, school, contact))["role"] == "guardian"

    await as_admin(client, school, UNLINK, {"i": link})
    served, _ = await read_on(client, school, since)
    assert served == both
    assert agents(await user_object(client, school, contact)) == before
    assert (await user_object(client, school, contact))["role"] == "parent"
    assert sourced(contact) not in agents(await user_object(client, school, pupil))


async def test_a_pupil_leaving_serves_their_contacts(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    """LL 11.1: a leaver (deactivatePupil) is served as tobedeleted, and their parent is served again:
    the parent's agents no longer name them."""
    school, client = reader
    _, since = await read_on(client, school, "0")
    pupil, parent = school.pupils["pupil1"], school.contacts["parent1"]
    assert sourced(pupil) in agents(await user_object(client, school, parent))
    await as_admin(
        client,
        school,
        "mutation($i: DeactivatePupilInput!) { deactivatePupil(input: $i) { errors { code } } }",
        {"i": {"pupilId": to_global_id("Pupil", pupil.id)}},
    )
    served, _ = await read_on(client, school, since)
    assert served == {("users", sourced(pupil)), ("users", sourced(parent))}
    assert sourced(pupil) not in agents(await user_object(client, school, parent))


async def test_the_schools_org_serves_every_person_and_class(
    reader: tuple[SchoolData, httpx.AsyncClient],  # noqa: F811 - the fixture
) -> None:
    """setRosterOrg: every person's orgs and every class's school name the org, so each is served again
    and shows it."""
    school, client = reader
    _, since = await read_on(client, school, "0")
    for org in ("org-elsewhere", "org-renamed"):  # set, then changed
        await as_admin(client, school, SET_ORG, {"o": org})
        served, since = await read_on(client, school, since)
        users = (await client.get(roster_url(school, "users?limit=1000"))).json()["users"]
        classes = (await client.get(roster_url(school, "classes?limit=1000"))).json()["classes"]
        every = {("users", u["sourcedId"]) for u in users} | {("classes", c["sourcedId"]) for c in classes}
        assert served == every
        assert {o["sourcedId"] for u in users for o in u["orgs"]} == {org}
        assert {c["school"]["sourcedId"] for c in classes} == {org}
    await as_admin(client, school, SET_ORG, {"o": "org-renamed"})  # the same again: nothing changed
    assert (await read_on(client, school, since))[0] == set()


SESSIONS = [
    {"sourcedId": "y1", "title": "2026/27", "type": "schoolYear", "startDate": "2026-09-01",
     "endDate": "2027-07-31", "schoolYear": "2027"},
    {"sourcedId": "y2", "title": "2027/28", "type": "schoolYear", "startDate": "2027-09-01",
     "endDate": "2028-07-31", "schoolYear": "2028"},
]  # fmt: skip
ENROLLMENTS = [enrol("e-t1", "c1", "t1", "teacher"), enrol("e-p1", "c1", "p1"), enrol("e-p2", "c2", "p2")]


def _users(agents: str) -> list[dict[str, str]]:
    return [
        user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
        *(user(p, "student", f"Pat{p}", "Pupil", user_ids=f"{{UPN:{UPNS[p]}}}") for p in ("p1", "p2")),
        user("m1", "parent", "Mo", "Parent", email="mo@home.example", agents=agents),
    ]


def _classes(terms: str) -> list[dict[str, str]]:
    return [klass("c1", "Class 9X", terms=terms), klass("c2", "Class 9Y", terms="y1")]


def _package(*, terms: str, agents: str = "p1", users: list[dict[str, str]] | None = None) -> bytes:
    return oneroster(
        users=_users(agents) if users is None else users,
        classes=_classes(terms),
        sessions=SESSIONS,
        enrollments=ENROLLMENTS,
    )


async def _import(client: httpx.AsyncClient, school: SchoolData, admin: str, package: bytes) -> None:
    """The package through a school admin's importRoster, committed without errors."""
    body = await upload(client, school.slug, admin, package)
    assert body["data"]["importRoster"]["errors"] == [], body


async def _imported_school(
    client: httpx.AsyncClient, factory: SchoolFactory, package: bytes | None = None
) -> tuple[SchoolData, str]:
    """A school that says it is org-1 and has imported ``package`` (by default :func:`_package`, terms y1),
    and its admin's token."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    assert (await gql(client, school.slug, SET_ORG, {"o": "org-1"}, token=admin))["data"]["setRosterOrg"]
    await _import(client, school, admin, _package(terms="y1") if package is None else package)
    return school, admin


async def _as_partner(client: httpx.AsyncClient, registry: PartnerFactory, school: SchoolData) -> None:
    """The client's requests from here on are a partner's approved at the school with roster.read."""
    client.headers["authorization"] = f"Bearer {await _token(client, registry, school, ['roster.read'])}"


def _oneroster_time(instant: Any) -> str:
    """An instant as OneRoster's dateLastModified writes it (UTC, milliseconds, Z)."""
    return str(instant.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


async def test_an_import_serves_what_it_changed_and_nothing_when_it_changes_nothing(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
) -> None:
    """LL 10.2: a school admin's roster import (importRoster). The same package again serves nothing; a
    class moved to another term is served with its new terms; a parent's agents changed in users.csv
    serves the parent and both pupils (the one linked and the one unlinked)."""
    school, admin = await _imported_school(client, factory)
    await _as_partner(client, partners, school)
    _, since = await read_on(client, school, "0")

    async def imported(package: bytes) -> set[tuple[str, str]]:
        nonlocal since
        client.headers["authorization"], partner_token = f"Bearer {admin}", client.headers["authorization"]
        await _import(client, school, admin, package)
        client.headers["authorization"] = partner_token
        served, since = await read_on(client, school, since)
        return served

    assert await imported(_package(terms="y1")) == set()
    assert await imported(_package(terms="y2")) == {("classes", "c1")}
    c1 = (await client.get(roster_url(school, "classes/c1"))).json()["class"]
    assert [t["sourcedId"] for t in c1["terms"]] == ["y2"]
    assert await imported(_package(terms="y2", agents="p2")) == {
        ("users", "m1"),
        ("users", "p1"),
        ("users", "p2"),
    }
    m1 = (await client.get(roster_url(school, "users/m1"))).json()["user"]
    assert [a["sourcedId"] for a in m1["agents"]] == ["p2"]
    without_parent = _package(terms="y2", users=[u for u in _users("p2") if u["sourcedId"] != "m1"])
    # The parent has left (missing from a bulk file): served as tobedeleted, and the pupil they were
    # linked to is served again without them.
    assert await imported(without_parent) == {("users", "m1"), ("users", "p2")}
    p2 = (await client.get(roster_url(school, "users/p2"))).json()["user"]
    assert p2["agents"] == []


async def test_a_term_leaving_serves_its_classes(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
    engine: AsyncEngine,
) -> None:
    """A term deactivated while classes still name it (no operation of the product does that alone today:
    an import that drops a term also moves its classes, which the test above covers; so the test writes
    the term as the runtime role, as an operation would, and what is under test is the database's
    trigger): its classes are served again, without the term."""
    school, _ = await _imported_school(client, factory)
    await _as_partner(client, partners, school)
    _, since = await read_on(client, school, "0")
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            text("UPDATE terms SET active = false WHERE school_id = :s AND source_id = 'y1'"),
            {"s": school.id},
        )
    served, _ = await read_on(client, school, since)
    assert served == {("classes", "c1"), ("classes", "c2")}
    classes = (await client.get(roster_url(school, "classes"))).json()["classes"]
    assert {c["sourcedId"]: c["terms"] for c in classes} == {"c1": [], "c2": []}


async def test_a_date_last_modified_filter_serves_every_person_an_import_edited(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
    clock: FixedClock,
) -> None:
    """OneRoster's own delta: ``filter=dateLastModified>'T'`` after an import an hour later serves exactly
    the persons it edited, a parent (a contact) as well as a pupil (contacts had no ``updated_at`` until
    migration 0030: an edited parent kept the date it was made)."""
    school, _ = await _imported_school(client, factory)
    since = clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(hours=1))
    users = _users("p1")
    for row in users:
        if row["sourcedId"] == "m1":
            row["email"] = "mo.new@home.example"
        if row["sourcedId"] == "p1":
            row["givenName"] = "Patricia"
    # The admin signs in again: their first token expired within the hour.
    admin = await login(client, school.slug, "admin")
    await _import(client, school, admin, _package(terms="y1", users=users))

    await _as_partner(client, partners, school)
    edited_since = f"dateLastModified>'{_oneroster_time(since)}'"
    response = await client.get(roster_url(school, "users"), params={"filter": edited_since})
    assert response.status_code == 200, response.text
    changed = {u["sourcedId"]: u for u in response.json()["users"]}
    assert set(changed) == {"m1", "p1"}
    assert changed["m1"]["email"] == "mo.new@home.example"
    assert changed["m1"]["dateLastModified"] == _oneroster_time(clock.now())


async def test_a_date_last_modified_filter_serves_the_classes_and_enrolments_an_import_changed(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
    clock: FixedClock,
) -> None:
    """OneRoster's delta for the classes, their courses and the enrolments: an import an hour later that
    renames one class and enrols one more pupil is served, by ``filter=dateLastModified>'T'`` from between
    the two imports, as exactly that class, its course and that enrolment. Every object carries its row's
    date (a class and its course the group's, an enrolment the link's), as OneRoster 1.1 requires of every
    object; until this test the three collections said null, which no delta filter ever serves."""
    school, _ = await _imported_school(client, factory)
    since = clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(hours=1))
    classes = [klass("c1", "Class 9X", terms="y1"), klass("c2", "Class 9Z", terms="y1")]
    package = oneroster(
        users=_users("p1"),
        classes=classes,
        sessions=SESSIONS,
        enrollments=[*ENROLLMENTS, enrol("e-p2b", "c1", "p2")],
    )
    admin = await login(client, school.slug, "admin")  # the first token expired within the hour
    await _import(client, school, admin, package)

    await _as_partner(client, partners, school)
    edited_since = f"dateLastModified>'{_oneroster_time(since)}'"
    changed: dict[str, dict[str, str]] = {}
    for collection in ("classes", "courses", "enrollments"):
        every = await client.get(roster_url(school, collection))
        assert every.status_code == 200, every.text
        assert all(o["dateLastModified"] for o in every.json()[collection]), every.json()
        response = await client.get(roster_url(school, collection), params={"filter": edited_since})
        assert response.status_code == 200, response.text
        changed[collection] = {o["sourcedId"]: o["dateLastModified"] for o in response.json()[collection]}
    now = _oneroster_time(clock.now())
    assert changed == {"classes": {"c2": now}, "courses": {"course-c2": now}, "enrollments": {"c1:p2:s": now}}

"""A member of staff's OneRoster role and a person's preferred given name survive import and export.

Staff keep the role the MIS gave (``staff.staff_role``): an aide is exported as ``aide``, and the roles
OneRoster 1.1 does not have (principal, site administrator, ...) as ``administrator``, which re-imports
without losing the stored role. The preferred given name (1.2 ``preferredGivenName``, schoolgraph's
``preferred_forename``) is kept beside the legal one: it is what ``displayName`` shows, and the export
carries the legal name.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.core.relay import to_global_id
from roster.oneroster import SPECS_12
from tenants.context import bind
from tests.factories.people import new_school, new_upn
from tests.factories.roster import (
    csv_text,
    export,
    oneroster,
    oneroster_11_violations,
    own_layout,
    problems,
    run_import,
    set_org,
    user,
    with_file,
)
from tests.factories.schools import SchoolFactory, gql, login


async def _school(engine: AsyncEngine, factory: SchoolFactory) -> Any:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    return school


async def _rows(engine: AsyncEngine, school_id: uuid.UUID, sql: str) -> dict[str, tuple[Any, ...]]:
    """source id -> the rest of each row of ``sql`` (its first column is the source id)."""
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return {r[0]: tuple(r[1:]) for r in await session.execute(text(sql))}


def _users(exported: bytes) -> dict[str, dict[str, str]]:
    archive = zipfile.ZipFile(io.BytesIO(exported))
    assert oneroster_11_violations(archive) == []
    return {r["sourcedId"]: r for r in csv.DictReader(io.StringIO(archive.read("users.csv").decode()))}


def _package_12(users: list[dict[str, str]], roles: list[tuple[str, str]]) -> bytes:
    """A 1.2 bulk package of ``users`` (every 1.2 users column) and their roles at org-1 (roles.csv)."""
    user_columns, role_columns = SPECS_12["users.csv"], SPECS_12["roles.csv"]
    role_rows = [
        {
            "sourcedId": f"r-{sid}",
            "userSourcedId": sid,
            "roleType": "primary",
            "role": role,
            "orgSourcedId": "org-1",
        }
        for sid, role in roles
    ]
    package = oneroster(version="1.2", users=users, absent=("classes.csv", "enrollments.csv"))
    package = with_file(
        package, "users.csv", csv_text(user_columns, ([u.get(c, "") for c in user_columns] for u in users))
    )
    return with_file(
        package,
        "roles.csv",
        csv_text(role_columns, ([r.get(c, "") for c in role_columns] for r in role_rows)),
    )


def _user_12(sid: str, given: str, family: str, preferred: str = "", **more: str) -> dict[str, str]:
    return {"sourcedId": sid, "enabledUser": "true", "username": f"user.{sid}", "givenName": given,
            "familyName": family, "preferredGivenName": preferred} | more  # fmt: skip


async def test_aides_are_exported_as_aides(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 5.1.4: a 1.1 package's aide, teacher and administrator are stored with their role and exported
    with it (an aide used to be exported as administrator); the export re-imports with no change."""
    school = await _school(engine, factory)
    package = oneroster(
        users=[
            user("t1", "teacher", "Tina", "Teach"),
            user("a1", "aide", "Alex", "Aide"),
            user("ad1", "administrator", "Ada", "Office"),
        ],
        absent=("classes.csv", "enrollments.csv"),
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    stored = await _rows(
        engine, school.id, "SELECT source_id, staff_role, teaching FROM staff WHERE source_id IS NOT NULL"
    )
    assert stored == {"t1": ("teacher", True), "a1": ("aide", False), "ad1": ("administrator", False)}

    exported = await export(engine, school.id)

    roles = {sid: row["role"] for sid, row in _users(exported).items() if sid in stored}
    assert roles == {"t1": "teacher", "a1": "aide", "ad1": "administrator"}
    again = await run_import(engine, school.id, exported)
    assert again.outcome == "COMMITTED", problems(again)
    assert again.changes == 0


async def test_a_principal_is_exported_as_administrator_and_stays_a_principal(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 5.1.4: 1.2 roles that 1.1 does not have (principal, siteAdministrator) are exported as
    administrator; importing that export keeps the stored role, and changes nothing."""
    school = await _school(engine, factory)
    users = [_user_12("pr1", "Priya", "Head"), _user_12("sa1", "Sam", "Site"), _user_12("a1", "Alex", "Aide")]
    package = _package_12(users, [("pr1", "principal"), ("sa1", "siteAdministrator"), ("a1", "aide")])
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)

    exported = await export(engine, school.id)

    roles = {sid: row["role"] for sid, row in _users(exported).items() if sid in {"pr1", "sa1", "a1"}}
    assert roles == {"pr1": "administrator", "sa1": "administrator", "a1": "aide"}
    again = await run_import(engine, school.id, exported)
    assert again.outcome == "COMMITTED", problems(again)
    assert again.changes == 0
    stored = await _rows(
        engine, school.id, "SELECT source_id, staff_role FROM staff WHERE source_id IS NOT NULL"
    )
    assert stored == {"pr1": ("principal",), "sa1": ("siteAdministrator",), "a1": ("aide",)}


PEOPLE = """
query { pupils(first: 50) { edges { node { id forename preferredForename surname displayName } } }
        staff(first: 50) { edges { node { id forename preferredForename surname displayName } } } }
"""
PUPIL = "query($id: ID!) { pupil(id: $id) { id forename preferredForename displayName } }"


async def test_a_preferred_given_name_is_shown_and_the_legal_one_exported(
    engine: AsyncEngine, factory: SchoolFactory, client: httpx.AsyncClient
) -> None:
    """LL 5.1.4: 1.2 ``preferredGivenName`` is kept beside the legal given name (it used to replace it): the
    school's admin sees it as ``preferredForename`` and in ``displayName``; another school's admin and an
    anonymous caller get nothing of the pupil; the 1.1 export carries the legal name only."""
    school = await _school(engine, factory)
    users = [
        _user_12("p1", "Patricia", "One", "Pat", userIds=f"{{UPN:{new_upn()}}}"),
        _user_12("p2", "Samuel", "Two"),
        _user_12("t1", "Robert", "Teach", "Bob", email="bob@school.example"),
    ]
    report = await run_import(
        engine, school.id, _package_12(users, [("p1", "student"), ("p2", "student"), ("t1", "teacher")])
    )
    assert report.outcome == "COMMITTED", problems(report)
    stored = await _rows(
        engine,
        school.id,
        "SELECT source_id, forename, preferred_forename FROM pupils WHERE source_id IS NOT NULL",
    )
    assert stored == {"p1": ("Patricia", "Pat"), "p2": ("Samuel", None)}

    admin = await login(client, school.slug, "admin")
    body = await gql(client, school.slug, PEOPLE, token=admin)
    assert "errors" not in body, body
    shown = {
        n["surname"]: (n["forename"], n["preferredForename"], n["displayName"])
        for kind in ("pupils", "staff")
        for n in (e["node"] for e in body["data"][kind]["edges"])
        if n["surname"] in {"One", "Two", "Teach"}
    }
    assert shown == {
        "One": ("Patricia", "Pat", "Pat One"),
        "Two": ("Samuel", None, "Samuel Two"),
        "Teach": ("Robert", "Bob", "Bob Teach"),
    }

    pupil_id = to_global_id(
        "Pupil",
        (await _rows(engine, school.id, "SELECT source_id, id FROM pupils WHERE source_id = 'p1'"))["p1"][0],
    )
    other = await new_school(factory)
    elsewhere = await gql(
        client, other.slug, PUPIL, {"id": pupil_id}, token=await login(client, other.slug, "admin")
    )
    assert elsewhere["data"]["pupil"] is None
    anonymous = await gql(client, school.slug, PUPIL, {"id": pupil_id})
    assert anonymous["data"]["pupil"] is None
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]

    exported = _users(await export(engine, school.id))
    assert (exported["p1"]["givenName"], exported["t1"]["givenName"]) == ("Patricia", "Robert")
    assert not [row for row in exported.values() if "Pat" in row.values() or "Bob" in row.values()]


async def test_schoolgraph_csv_carries_a_preferred_forename(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: the optional ``preferred_forename`` of schoolgraph's pupils.csv and staff.csv is kept beside
    the legal forename; a blank one never clears it, one too long is a warning on its row."""
    school = await new_school(factory)
    upn = new_upn()
    pupil = {"pupil_id": "sg-p1", "upn": upn, "forename": "Elizabeth", "surname": "Bennet",
             "date_of_birth": "2015-04-01", "gender": "F", "preferred_forename": "Lizzy"}  # fmt: skip
    staff = {"staff_id": "sg-t1", "forename": "Fitzwilliam", "surname": "Darcy", "work_email": "fd@school.example",
             "teaching": "yes", "preferred_forename": "F" * 101}  # fmt: skip
    report = await run_import(
        engine, school.id, own_layout({"pupils.csv": [pupil], "staff.csv": [staff]}, slug=school.slug)
    )
    assert report.outcome == "COMMITTED", problems(report)
    assert problems(report, "TOO_LONG") == [("staff.csv", 2, "preferred_forename", "TOO_LONG")]
    sql = "SELECT source_id, forename, preferred_forename FROM {} WHERE source_id LIKE 'sg-%'"
    assert await _rows(engine, school.id, sql.format("pupils")) == {"sg-p1": ("Elizabeth", "Lizzy")}
    assert await _rows(engine, school.id, sql.format("staff")) == {"sg-t1": ("Fitzwilliam", None)}

    blank = own_layout({"pupils.csv": [pupil | {"preferred_forename": ""}]}, slug=school.slug)
    again = await run_import(engine, school.id, blank, mode="delta")
    assert again.outcome == "COMMITTED", problems(again)
    assert await _rows(engine, school.id, sql.format("pupils")) == {"sg-p1": ("Elizabeth", "Lizzy")}

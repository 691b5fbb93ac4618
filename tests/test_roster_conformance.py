"""Roster packages as MIS exporters write them: the 1.2 column sets, optional and vendor columns, shifted rows.

Each package is written here (tests/factories/roster.py), in the shape the OneRoster 1.1 tables and the 1.2
CSV binding give it, with the quirks real exports have.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from roster.oneroster import SPECS_11, SPECS_12
from tenants.context import bind
from tests.factories.people import new_school, new_upn, wrong_check_letter
from tests.factories.roster import (
    ATTEMPT_ONLY,
    counts,
    csv_text,
    enrol,
    export,
    fingerprint,
    klass,
    oneroster,
    oneroster_11_violations,
    problems,
    run_import,
    set_org,
    set_urn,
    user,
    with_file,
)
from tests.factories.schools import SchoolFactory


async def _school(engine: AsyncEngine, factory: SchoolFactory) -> Any:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    return school


async def _names(engine: AsyncEngine, school_id: uuid.UUID) -> dict[str, tuple[str, str]]:
    """source id -> (forename, surname) of the school's imported pupils."""
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        rows = await session.execute(
            text("SELECT source_id, forename, surname FROM pupils WHERE source_id IS NOT NULL")
        )
        return {r.source_id: (r.forename, r.surname) for r in rows}


async def _scalar(engine: AsyncEngine, school_id: uuid.UUID, sql: str, **params: Any) -> Any:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return (await session.execute(text(sql), params)).scalar()


def _rows(columns: tuple[str, ...], *rows: dict[str, str]) -> list[list[str]]:
    return [[row.get(c, "") for c in columns] for row in rows]


async def test_a_complete_1_2_users_file_imports_and_profile_passwords_are_reported(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a 1.2 users.csv with every column of the 1.2 binding (resourceSourcedIds among them) imports
    with roles.csv; passwords in userProfiles.csv are never read, and the report says so."""
    school = await _school(engine, factory)
    users = SPECS_12["users.csv"]
    assert "resourceSourcedIds" in users
    pupil = {
        "sourcedId": "p1", "enabledUser": "true", "username": "pat.one", "givenName": "Patricia",
        "familyName": "One", "userIds": f"{{UPN:{new_upn()}}}", "resourceSourcedIds": "res-1,res-2",
        "preferredGivenName": "Pat", "primaryOrgSourcedId": "org-1", "pronouns": "she/her",
    }  # fmt: skip
    roles = {"sourcedId": "r1", "userSourcedId": "p1", "roleType": "primary", "role": "student",
             "orgSourcedId": "org-1"}  # fmt: skip
    profile = {"sourcedId": "up1", "userSourcedId": "p1", "profileType": "app", "vendorId": "v",
               "credentialType": "password", "username": "pat.one", "password": "hunter2"}  # fmt: skip
    package = oneroster(version="1.2", users=[pupil], absent=("classes.csv", "enrollments.csv"))
    package = with_file(package, "users.csv", csv_text(users, _rows(users, pupil)))
    package = with_file(
        package, "roles.csv", csv_text(SPECS_12["roles.csv"], _rows(SPECS_12["roles.csv"], roles))
    )
    profiles = SPECS_12["userProfiles.csv"]
    package = with_file(package, "userProfiles.csv", csv_text(profiles, _rows(profiles, profile)))

    report = await run_import(engine, school.id, package)

    assert report.outcome == "COMMITTED", problems(report)
    assert problems(report, "UNKNOWN_COLUMN", "PASSWORDS_IGNORED") == [
        ("userProfiles.csv", 2, "password", "PASSWORDS_IGNORED")
    ]
    assert counts(report)["pupils"]["create"] == 1
    # the legal names stay the pupil's names; the preferred given name is kept beside them
    assert await _names(engine, school.id) == {"p1": ("Patricia", "One")}
    preferred = "SELECT preferred_forename FROM pupils WHERE source_id = 'p1'"
    assert await _scalar(engine, school.id, preferred) == "Pat"


async def test_optional_columns_may_be_absent_and_vendor_columns_are_warnings(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: enrollments.csv without primary, beginDate and endDate imports; users.csv with an MIS's own
    admissionNumber and ncYear imports with a warning naming each column, which is not read."""
    school = await _school(engine, factory)
    users_header = (*SPECS_11["users.csv"], "admissionNumber", "ncYear")
    pupil = user("p1", "student", "Zoë", "O'Brien-Šimić") | {"admissionNumber": "000123", "ncYear": "5"}
    enrollments_header = ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role")
    package = oneroster(users=[pupil], classes=[klass("c1", "5B")], enrollments=[enrol("e1", "c1", "p1")])
    package = with_file(package, "users.csv", csv_text(users_header, _rows(users_header, pupil)))
    package = with_file(
        package,
        "enrollments.csv",
        csv_text(enrollments_header, _rows(enrollments_header, enrol("e1", "c1", "p1"))),
    )

    report = await run_import(engine, school.id, package)

    assert report.outcome == "COMMITTED", problems(report)
    assert problems(report, "UNKNOWN_COLUMN", "MISSING_COLUMN") == [
        ("users.csv", 1, "admissionNumber", "UNKNOWN_COLUMN"),
        ("users.csv", 1, "ncYear", "UNKNOWN_COLUMN"),
    ]
    assert counts(report)["memberships"]["create"] == 1
    assert await _names(engine, school.id) == {"p1": ("Zoë", "O'Brien-Šimić")}


async def test_a_column_schoolgraph_needs_is_still_required(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a 1.1 users.csv without role is refused naming the column; nothing but the attempt is
    recorded."""
    school = await _school(engine, factory)
    header = tuple(c for c in SPECS_11["users.csv"] if c != "role")
    pupil = user("p1", "student", "Pat", "One")
    package = with_file(oneroster(users=[pupil]), "users.csv", csv_text(header, _rows(header, pupil)))
    before = await fingerprint(owner_engine)
    report = await run_import(engine, school.id, package)
    assert report.outcome == "REFUSED"
    assert problems(report, "MISSING_COLUMN") == [("users.csv", 1, "role", "MISSING_COLUMN")]
    after = await fingerprint(owner_engine)
    assert {t for t in after if after[t] != before[t]} == ATTEMPT_ONLY


def _shifted(identifier: str) -> str:
    """users.csv with p2's familyName written ``Smith,Jones`` without quotes: every later value moves one
    column on (Jones to middleName, the identifier to email, ...); the blank password is the extra field."""
    header = SPECS_11["users.csv"]
    line = [v for v in _rows(header, user("p2", "student", "Sam", "Smith", identifier=identifier))[0]]
    family = header.index("familyName")
    line[family : family + 1] = ["Smith", "Jones"]
    return csv_text(header, _rows(header, user("p1", "student", "Pat", "One"))) + ",".join(line) + "\r\n"


async def test_a_shifted_row_is_never_imported(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 10.2: a row with one field more than the header (an unquoted comma in a name) is a row error
    naming file, row and counts, whether the shifted values would all be valid (the surname's second half
    in middleName) or not (the identifier in email); with fewer fields it is an error too. Nothing is
    written."""
    school = await _school(engine, factory)
    width = len(SPECS_11["users.csv"])
    for identifier in ("", "ID-7"):
        package = with_file(oneroster(), "users.csv", _shifted(identifier))
        report = await run_import(engine, school.id, package)
        assert report.outcome == "REFUSED"
        assert problems(report, "ROW_TOO_LONG", "INVALID_EMAIL") == [("users.csv", 3, None, "ROW_TOO_LONG")]
        assert f"has {width + 1} fields but the header has {width}" in report.problems[0].message
    short = csv_text(SPECS_11["users.csv"], []) + "p3,,,true,org-1,student\r\n"
    report = await run_import(engine, school.id, with_file(oneroster(), "users.csv", short))
    assert problems(report, "ROW_TOO_SHORT") == [("users.csv", 2, None, "ROW_TOO_SHORT")]
    assert f"has 6 fields but the header has {width}" in report.problems[0].message
    assert await _names(engine, school.id) == {}


async def _urn_school(owner_engine: AsyncEngine, factory: SchoolFactory) -> tuple[Any, str]:
    """A school with a URN (returned too) and no OneRoster org recorded."""
    school = await new_school(factory)
    urn = str(100000 + uuid.uuid4().int % 899999)
    await set_urn(owner_engine, school.id, urn)
    return school, urn


async def test_a_delta_without_orgs_follows_a_bulk_that_named_the_school_by_urn(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a bulk package whose org carries the school's URN records that org; the MIS's next delta,
    without orgs.csv, then imports (and is recorded as a delta)."""
    school, urn = await _urn_school(owner_engine, factory)
    orgs = [{"sourcedId": "mis-42", "name": "Ours", "type": "school", "identifier": urn}]
    bulk = oneroster(orgs=orgs, users=[user("p1", "student", "Pat", "One", org="mis-42")])
    first = await run_import(engine, school.id, bulk)
    assert first.outcome == "COMMITTED", problems(first)
    assert problems(first, "ORG_RECORDED") == [("orgs.csv", None, "identifier", "ORG_RECORDED")]

    delta = oneroster(
        users=[user("p2", "student", "Sam", "Two", org="mis-42")], mode="delta", absent=("orgs.csv",)
    )
    second = await run_import(engine, school.id, delta)

    assert second.outcome == "COMMITTED", problems(second)
    assert (second.mode, counts(second)["pupils"]) == (
        "DELTA",
        {"create": 1, "update": 0, "deactivate": 0, "unchanged": 0},
    )
    assert await _names(engine, school.id) == {"p1": ("Pat", "One"), "p2": ("Sam", "Two")}


async def test_a_refused_delta_is_recorded_as_a_delta(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a delta without orgs.csv for a school whose org is not known is refused (MISSING_FILE), and
    the history records it as the delta its manifest says it is."""
    school, _ = await _urn_school(owner_engine, factory)
    delta = oneroster(users=[user("p2", "student", "Sam", "Two")], mode="delta", absent=("orgs.csv",))
    report = await run_import(engine, school.id, delta)
    assert report.outcome == "REFUSED"
    assert problems(report) == [("orgs.csv", None, None, "MISSING_FILE")]
    recorded = await _scalar(
        engine, school.id, "SELECT mode FROM roster_imports WHERE id = :i", i=report.import_id
    )
    assert (report.mode, recorded) == ("DELTA", "DELTA")


async def test_the_export_keeps_to_the_1_1_vocabulary_and_reimports_unchanged(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 5.1.4: pupils whose sex is other or unspecified are exported with sex left blank (1.1 knows only
    male and female), the package passes the 1.1 conformance check, and importing it again changes nothing
    (a blank sex keeps the recorded one)."""
    school = await _school(engine, factory)
    pupils = [user(f"p{i}", "student", f"Pat{i}", "Pupil", user_ids=f"{{UPN:{new_upn()}}}") for i in range(3)]
    sexes = ["female", "other", "unspecified"]
    demographics = [
        {"sourcedId": f"p{i}", "birthDate": "2015-03-01", "sex": sex} for i, sex in enumerate(sexes)
    ]
    package = oneroster(users=pupils, demographics=demographics, absent=("classes.csv", "enrollments.csv"))
    assert (await run_import(engine, school.id, package)).outcome == "COMMITTED"

    exported = await export(engine, school.id)

    archive = zipfile.ZipFile(io.BytesIO(exported))
    assert oneroster_11_violations(archive) == []
    rows = csv.DictReader(io.StringIO(archive.read("demographics.csv").decode()))
    written = {r["sourcedId"]: r["sex"] for r in rows if r["sourcedId"].startswith("p")}
    assert written == {"p0": "female", "p1": "", "p2": ""}
    again = await run_import(engine, school.id, exported)
    assert again.outcome == "COMMITTED", problems(again)
    assert again.changes == 0
    genders = await _scalar(
        engine,
        school.id,
        "SELECT string_agg(gender, ',' ORDER BY source_id) FROM pupils WHERE source_id LIKE 'p_'",
    )
    assert genders == "FEMALE,OTHER,NOT_KNOWN"


async def test_an_enrolled_user_of_another_org_is_named_as_such(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: in a trust's package, an enrollment at this school of a user who is in users.csv but
    belongs to another school's org is refused saying so, not as a user missing from the package."""
    school = await _school(engine, factory)
    orgs = [
        {"sourcedId": "org-1", "name": "Ours", "type": "school"},
        {"sourcedId": "org-2", "name": "Theirs", "type": "school"},
    ]
    package = oneroster(
        orgs=orgs,
        users=[user("p1", "student", "Pat", "One"), user("p9", "student", "Kim", "Nine", org="org-2")],
        classes=[klass("c1", "5B")],
        enrollments=[enrol("e1", "c1", "p1"), enrol("e9", "c1", "p9"), enrol("e8", "c1", "p8")],
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "REFUSED"
    found = {p.row: p.message for p in report.problems if p.code == "UNKNOWN_USER"}
    assert found == {
        3: "'p9' is in users.csv as a user of org 'org-2', not of this school: enrolled here, they would "
        "need to be this school's too.",
        4: "'p8' is neither in the package's users nor a person at this school.",
    }


async def test_one_bad_optional_cell_is_a_warning_on_its_row(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a free-text identifier shaped like a UPN with a wrong check letter, and a 300-character
    preferred name, are warnings on their rows: the pupils import without them (no UPN; the legal name).
    A 300-character legal name, which schoolgraph needs, still refuses the package."""
    school = await _school(engine, factory)
    bad = wrong_check_letter(new_upn())
    report = await run_import(
        engine, school.id, oneroster(users=[user("p1", "student", "Pat", "One", identifier=bad)])
    )
    assert report.outcome == "COMMITTED", problems(report)
    assert problems(report, "IDENTIFIER_NOT_UPN", "INVALID_UPN") == [
        ("users.csv", 2, "identifier", "IDENTIFIER_NOT_UPN")
    ]
    assert await _scalar(engine, school.id, "SELECT upn IS NULL FROM pupils WHERE source_id = 'p1'") is True

    pupil = {"sourcedId": "p2", "enabledUser": "true", "givenName": "Sam", "familyName": "Two",
             "preferredGivenName": "S" * 300}  # fmt: skip
    roles = {"sourcedId": "r2", "userSourcedId": "p2", "roleType": "primary", "role": "student",
             "orgSourcedId": "org-1"}  # fmt: skip
    package = oneroster(version="1.2", users=[pupil], absent=("classes.csv", "enrollments.csv"), mode="delta")
    package = with_file(
        package,
        "roles.csv",
        csv_text(SPECS_12["roles.csv"], _rows(SPECS_12["roles.csv"], roles)),
        mode="delta",
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    assert [(p.severity, p.column, p.code) for p in report.problems if p.code == "TOO_LONG"] == [
        ("WARNING", "preferredGivenName", "TOO_LONG")
    ]
    assert (await _names(engine, school.id))["p2"] == ("Sam", "Two")

    long_name = oneroster(
        users=[user("p3", "student", "Kim", "K" * 300)],
        mode="delta",
        absent=("classes.csv", "enrollments.csv"),
    )
    report = await run_import(engine, school.id, long_name)
    assert report.outcome == "REFUSED"
    assert [(p.severity, p.column, p.code) for p in report.problems if p.code == "TOO_LONG"] == [
        ("ERROR", "familyName", "TOO_LONG")
    ]

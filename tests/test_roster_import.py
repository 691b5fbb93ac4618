"""Roster import semantics: bulk and delta, all-or-nothing, dry runs, checks, the own layout, extended data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.core.relay import to_global_id
from roster import merge
from tenants.context import bind
from tests.factories import clock
from tests.factories.audit import entries
from tests.factories.people import new_school, new_uln, new_upn
from tests.factories.roster import (
    ATTEMPT_ONLY,
    NEW_PASSWORD,
    activate,
    activation_codes,
    counts,
    enrol,
    export,
    fingerprint,
    imported_accounts,
    klass,
    oneroster,
    own_layout,
    problems,
    rename_column,
    run_import,
    set_org,
    set_urn,
    user,
)
from tests.factories.schools import SchoolFactory, gql, login

TODAY = clock.school_day()


def years_ago(years: int, days: int = 0) -> str:
    return (TODAY.replace(year=TODAY.year - years) - timedelta(days=days)).isoformat()


def _package(*, pupils: tuple[str, ...] = ("p1", "p2"), mode: str = "bulk", **extra: Any) -> bytes:
    users = [
        user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
        *(user(p, "student", f"Pat{p}", "Pupil", user_ids=f"{{UPN:{UPNS[p]}}}") for p in pupils),
        user("m1", "parent", "Mo", "Parent", email="mo@home.example", agents="p1"),
    ]
    enrollments = [enrol("e-t1", "c1", "t1", "teacher"), *(enrol(f"e-{p}", "c1", p) for p in pupils)]
    demographics = [{"sourcedId": p, "birthDate": years_ago(14), "sex": "female"} for p in pupils]
    return oneroster(
        users=users,
        classes=[klass("c1", "Class 9X", terms="y1")],
        sessions=[
            {"sourcedId": "y1", "title": "2026/27", "type": "schoolYear", "startDate": "2026-09-01",
             "endDate": "2027-07-31", "schoolYear": "2027"},
        ],
        enrollments=enrollments,
        demographics=demographics,
        mode=mode,
        **extra,
    )  # fmt: skip


UPNS = {f"p{i}": new_upn() for i in range(1, 4)}
ULN = new_uln()


async def _school(engine: AsyncEngine, factory: SchoolFactory) -> Any:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    return school


async def _scalar(engine: AsyncEngine, school_id: uuid.UUID, sql: str, **params: Any) -> Any:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return (await session.execute(text(sql), params)).scalar()


async def test_a_bulk_file_without_a_pupil_deactivates_them_and_their_data_stays(
    engine: AsyncEngine, client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1, LL 11.2: a pupil missing from a bulk users.csv has left: record inactive with today's leaving
    date, account disabled and every session revoked at once; the record and memberships stay (never deleted)."""
    school = await _school(engine, factory)
    first = await run_import(engine, school.id, _package())
    assert first.outcome == "COMMITTED", problems(first)
    assert counts(first)["pupils"]["create"] == 2
    # p2 has signed in: a school admin issued their activation code and they chose a password.
    admin = await login(client, school.slug, "admin")
    account = (await imported_accounts(client, school.slug, admin))["user.p2"]
    code = (await activation_codes(client, school.slug, admin, [account["id"]]))["user.p2"]
    assert (await activate(client, school.slug, "user.p2", code))["errors"] == []
    token = await login(client, school.slug, "user.p2", NEW_PASSWORD)
    assert (await gql(client, school.slug, "{ viewer { username } }", token=token))["data"]["viewer"]

    second = await run_import(engine, school.id, _package(pupils=("p1",)))
    assert second.outcome == "COMMITTED", problems(second)
    assert counts(second)["pupils"] == {"create": 0, "update": 0, "deactivate": 1, "unchanged": 1}
    assert counts(second)["accounts"]["deactivate"] == 1
    row = await _scalar(
        engine, school.id, "SELECT row(active, date_of_leaving)::text FROM pupils WHERE source_id = 'p2'"
    )
    assert row == f"(f,{TODAY.isoformat()})"
    assert (
        await _scalar(engine, school.id, "SELECT status FROM accounts WHERE username = 'user.p2'")
        == "DISABLED"
    )
    live = "SELECT count(*) FROM auth_sessions s JOIN accounts a ON a.school_id = s.school_id AND a.id = s.account_id WHERE a.username = 'user.p2' AND s.revoked_at IS NULL"
    assert await _scalar(engine, school.id, live) == 0
    body = await gql(client, school.slug, "{ viewer { username } }", token=token)
    assert body["data"]["viewer"] is None  # the token reaches nothing (LL 11.2)
    # Data stays: the record, its group membership, its account row.
    assert await _scalar(engine, school.id, "SELECT count(*) FROM pupils WHERE source_id = 'p2'") == 1
    memberships = "SELECT count(*) FROM group_pupils gp JOIN pupils p ON p.school_id = gp.school_id AND p.id = gp.pupil_id WHERE p.source_id = 'p2'"
    assert await _scalar(engine, school.id, memberships) == 1
    # A second run of the same file changes nothing.
    assert (await run_import(engine, school.id, _package(pupils=("p1",)))).changes == 0


async def test_delta_tobedeleted_deactivates_and_unlinks(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 11.1: in delta mode only tobedeleted removes: a user marked so is deactivated, an enrollment unlinked;
    records the delta does not mention stay as they are."""
    school = await _school(engine, factory)
    assert (await run_import(engine, school.id, _package(pupils=("p1", "p2", "p3")))).outcome == "COMMITTED"
    delta = oneroster(
        users=[user("p2", "student", "Patp2", "Pupil", status="tobedeleted")],
        enrollments=[enrol("e-p3", "c1", "p3", status="tobedeleted")],
        mode="delta",
        absent=("classes.csv", "academicSessions.csv"),
    )
    report = await run_import(engine, school.id, delta)
    assert report.outcome == "COMMITTED", problems(report)
    assert (report.format, report.mode) == ("ONEROSTER_1_1", "DELTA")
    assert counts(report)["pupils"]["deactivate"] == 1
    assert counts(report)["memberships"]["deactivate"] == 1
    active = "SELECT string_agg(source_id || ':' || active, ',' ORDER BY source_id) FROM pupils"
    assert await _scalar(engine, school.id, active) == "p1:true,p2:false,p3:true"


async def test_a_failure_half_way_through_a_commit_leaves_the_database_exactly_as_before(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LL 10.2 (an import is one transaction): a failure injected after people and groups were written and
    before the links leaves every table of the database, audit log included, exactly as it was."""
    school = await _school(engine, factory)
    assert (await run_import(engine, school.id, _package(pupils=("p1",)))).outcome == "COMMITTED"
    reached: list[str] = []
    original = merge.Merge._links

    async def failing(self: merge.Merge, *args: Any) -> None:
        reached.append("links")
        written = await self._scalar(text("SELECT count(*) FROM pupils WHERE source_id = 'p3'"))
        assert written == 1  # the half before the failure really was written, in the transaction
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(merge.Merge, "_links", failing)
    before = await fingerprint(owner_engine)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await run_import(engine, school.id, _package(pupils=("p1", "p2", "p3")))
    assert reached == ["links"]
    assert await fingerprint(owner_engine) == before
    monkeypatch.setattr(merge.Merge, "_links", original)
    report = await run_import(engine, school.id, _package(pupils=("p1", "p2", "p3")))
    assert counts(report)["pupils"]["create"] == 2


async def test_a_dry_run_counts_what_a_commit_would_do_and_writes_nothing(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: the dry run's report is the commit's report (same statements, rolled back); only the history
    entry and the audit event of the attempt are written."""
    school = await _school(engine, factory)
    assert (await run_import(engine, school.id, _package(pupils=("p1", "p2")))).outcome == "COMMITTED"
    package = _package(pupils=("p1", "p3"))
    before = await fingerprint(owner_engine)
    dry = await run_import(engine, school.id, package, dry_run=True)
    after = await fingerprint(owner_engine)
    assert dry.outcome == "DRY_RUN"
    assert {t for t in after if after[t] != before[t]} == ATTEMPT_ONLY
    recorded = (await entries(engine, school.id, "roster.import"))[-1]
    assert (recorded.outcome, recorded.target_id, recorded.detail["dryRun"]) == (
        "SUCCESS",
        dry.import_id,
        True,
    )
    real = await run_import(engine, school.id, package)
    assert real.outcome == "COMMITTED"
    assert counts(dry) == counts(real)
    assert counts(dry)["pupils"] == {"create": 1, "update": 0, "deactivate": 1, "unchanged": 1}


async def test_under_13s_are_flagged_as_needing_recorded_parental_consent(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 6.3.2: a pupil under 13 is imported with a warning that a parent's consent must be recorded before
    their account can be activated; a 13-year-old is not flagged. The warning names demographics.csv's row."""
    school = await _school(engine, factory)
    package = oneroster(
        users=[user("young", "student", "Yan", "Young"), user("old", "student", "Ola", "Older")],
        demographics=[
            {"sourcedId": "young", "birthDate": years_ago(12, days=-1), "sex": "male"},
            {"sourcedId": "old", "birthDate": years_ago(13), "sex": "female"},
        ],
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED"
    assert problems(report, "PARENTAL_CONSENT_REQUIRED") == [
        ("demographics.csv", 2, "birthDate", "PARENTAL_CONSENT_REQUIRED")
    ]
    assert "LL 6.3.2" in next(p.message for p in report.problems if p.code == "PARENTAL_CONSENT_REQUIRED")


async def test_a_pupil_whose_parent_has_consented_is_not_flagged_again(
    engine: AsyncEngine, client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.2: the warning is for the under-13s whose account cannot be activated yet. Once the school has
    recorded a parent's consent, the next import of the same pupil (a nightly MIS sync of a primary school
    lists every pupil again) does not flag them; a new under-13 in it is flagged. A pupil with no date of
    birth is still reported as such, but not as one who cannot be activated once a parent has consented."""
    school = await _school(engine, factory)

    def package(*pupils: str) -> bytes:
        return oneroster(
            users=[
                *(user(p, "student", f"Yan{p}", "Young") for p in pupils),
                user("mum", "parent", "Mia", "Young", email="mia@home.example", agents="young,anon"),
            ],
            demographics=[
                {"sourcedId": p, "birthDate": years_ago(9), "sex": "male"} for p in pupils if p != "anon"
            ],
        )

    def messages(report: Any, code: str) -> dict[str, str]:
        return {p.message.split("'")[1]: p.message for p in report.problems if p.code == code}

    first = await run_import(engine, school.id, package("young", "anon"))
    assert problems(first, "PARENTAL_CONSENT_REQUIRED") == [
        ("demographics.csv", 2, "birthDate", "PARENTAL_CONSENT_REQUIRED")
    ]
    assert "cannot be activated until a parent's consent" in messages(first, "DATE_OF_BIRTH_MISSING")["anon"]
    mum = await _scalar(engine, school.id, "SELECT id FROM contacts WHERE source_id = 'mum'")
    admin = await login(client, school.slug, "admin")
    for child in ("young", "anon"):
        pupil = await _scalar(engine, school.id, "SELECT id FROM pupils WHERE source_id = :s", s=child)
        recorded = await gql(
            client,
            school.slug,
            """mutation($p: ID!, $c: ID!, $on: Date!) { recordPaperConsent(input: {pupilId: $p, contactId: $c,
                 evidenceReference: "Admission form 14", givenOn: $on}) { errors { code } } }""",
            {"p": to_global_id("Pupil", pupil), "c": to_global_id("Contact", mum), "on": str(TODAY)},
            token=admin,
        )
        assert recorded["data"]["recordPaperConsent"]["errors"] == [], recorded

    again = await run_import(engine, school.id, package("young", "anon", "baby"))
    assert again.outcome == "COMMITTED"
    assert problems(again, "PARENTAL_CONSENT_REQUIRED") == [
        ("demographics.csv", 3, "birthDate", "PARENTAL_CONSENT_REQUIRED")  # baby's row, not young's
    ]
    assert list(messages(again, "PARENTAL_CONSENT_REQUIRED")) == ["baby"]
    assert messages(again, "DATE_OF_BIRTH_MISSING") == {
        "anon": "Pupil 'anon' has no date of birth (a parent's consent is recorded)."
    }


async def test_every_error_names_its_file_row_and_column_and_nothing_is_written(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: emails, UPN check letters, ULN check digits, dates, enumerations, duplicates and references
    to unknown classes and users are checked; one error anywhere refuses the whole package."""
    school = await _school(engine, factory)
    package = oneroster(
        users=[
            user("u1", "teacher", "Ann", "Lee", email="ann at school"),
            user("u2", "student", "Bo", "Bell", user_ids="{UPN:R247962919251}"),
            user("u3", "student", "Cy", "Cole", user_ids="{ULN:1000000063}"),
            user("u3", "student", "Cy", "Cole"),
            user("u4", "wizard", "Di", "Dee"),
            user("u5", "student", "Ed", "Eve", user_ids="{ULN:9999999999}"),
        ],
        classes=[klass("c1", "Class"), klass("c2", "Class 2", kind="lecture")],
        enrollments=[enrol("e1", "c9", "u2"), enrol("e2", "c1", "ghost")],
        sessions=[
            {
                "sourcedId": "s1",
                "title": "T",
                "type": "term",
                "startDate": "2026-13-01",
                "endDate": "2027-01-01",
            }
        ],
    )
    before = await fingerprint(owner_engine)
    report = await run_import(engine, school.id, package)
    assert report.outcome == "REFUSED"
    errors = {(p.file, p.row, p.column, p.code) for p in report.problems if p.severity == "ERROR"}
    assert errors == {
        ("users.csv", 2, "email", "INVALID_EMAIL"),
        ("users.csv", 3, "userIds", "INVALID_UPN"),
        ("users.csv", 4, "userIds", "INVALID_ULN"),
        ("users.csv", 6, "role", "INVALID_VALUE"),
        ("classes.csv", 3, "classType", "INVALID_VALUE"),
        ("academicSessions.csv", 2, "startDate", "INVALID_DATE"),
    }
    # Row-level errors stop the import before the package-wide checks; fixing them shows the rest.
    fixed = oneroster(
        users=[
            user("u3", "student", "Cy", "Cole"),
            user("u3", "student", "Cy", "Cole"),
            user("u5", "student", "E", "E"),
        ],
        classes=[klass("c1", "Class")],
        enrollments=[enrol("e1", "c9", "u5"), enrol("e2", "c1", "ghost")],
    )
    second = await run_import(engine, school.id, fixed)
    assert {(p.file, p.row, p.column, p.code) for p in second.problems if p.severity == "ERROR"} == {
        ("users.csv", 3, "sourcedId", "DUPLICATE_ID"),
        ("enrollments.csv", 2, "classSourcedId", "UNKNOWN_CLASS"),
        ("enrollments.csv", 3, "userSourcedId", "UNKNOWN_USER"),
    }
    after = await fingerprint(owner_engine)
    assert {t for t in after if after[t] != before[t]} == ATTEMPT_ONLY


async def test_a_misspelled_header_names_the_expected_one(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: `dataLastModified` -> expected `dateLastModified`, with file, row 1 and the column as written."""
    school = await _school(engine, factory)
    package = rename_column(
        oneroster(users=[user("u1", "teacher", "A", "B", email="a@b.example")]),
        "users.csv",
        "dateLastModified",
        "dataLastModified",
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "REFUSED"
    [problem] = [p for p in report.problems if p.severity == "ERROR"]
    assert (problem.file, problem.row, problem.column, problem.code, problem.expected) == (
        "users.csv", 1, "dataLastModified", "MISSPELLED_COLUMN", "dateLastModified",
    )  # fmt: skip


async def test_a_trust_package_imports_only_this_schools_rows(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a trust's package names all its schools; each school takes its own org's rows (and its
    departments'), and the rest are skipped and counted."""
    school = await _school(engine, factory)
    package = oneroster(
        orgs=[
            {"sourcedId": "trust", "name": "Trust", "type": "district"},
            {"sourcedId": "org-1", "name": "Ours", "type": "school", "parentSourcedId": "trust"},
            {"sourcedId": "dept", "name": "Science", "type": "department", "parentSourcedId": "org-1"},
            {"sourcedId": "org-2", "name": "Theirs", "type": "school", "parentSourcedId": "trust"},
        ],
        users=[
            user("a1", "student", "A", "One"),
            user("a2", "teacher", "A", "Two", email="a2@x.example", org="dept"),
            user("b1", "student", "B", "One", org="org-2"),
        ],
        classes=[klass("ca", "A class"), klass("cb", "B class", org="org-2")],
        enrollments=[enrol("ea", "ca", "a1"), enrol("eb", "cb", "b1", org="org-2")],
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    assert report.skipped_other_schools == 3
    assert {k: v["create"] for k, v in counts(report).items()} == {
        "groups": 1, "staff": 1, "pupils": 1, "memberships": 1, "accounts": 2,
    }  # fmt: skip


async def test_hand_made_pupils_are_adopted_by_upn_not_duplicated(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: the first import of a school set up by hand takes over the pupil with the same UPN (its
    source id recorded) instead of creating a second one; the next import matches it by source id."""
    school = await _school(engine, factory)
    existing = school.pupils["pupil1"]
    package = oneroster(users=[user("mis-1", "student", existing.forename, "Renamed", user_ids=f"{{UPN:{existing.upn}}}")], mode="delta")  # fmt: skip
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    assert counts(report)["pupils"] == {"create": 0, "update": 1, "deactivate": 0, "unchanged": 0}
    row = await _scalar(
        engine, school.id, "SELECT source_id || ' ' || surname FROM pupils WHERE id = :i", i=existing.id
    )
    assert row == "mis-1 Renamed"
    assert (await run_import(engine, school.id, package)).changes == 0


async def test_usernames_already_taken_get_no_account(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 11.3, LRS 5.1: an import never takes over another person's username; that person gets no account
    and a warning says so (the import goes on)."""
    school = await _school(engine, factory)
    package = oneroster(
        users=[user("x1", "teacher", "New", "Teacher", username="teacher1", email="n@t.example")]
    )
    report = await run_import(engine, school.id, package, mode="delta")
    assert report.outcome == "COMMITTED"
    assert problems(report, "USERNAME_TAKEN") == [("users.csv", 2, "username", "USERNAME_TAKEN")]
    assert counts(report)["staff"]["create"] == 1 and "accounts" not in counts(report)


async def test_export_of_a_hand_made_school_reimports_with_no_changes(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 5.1.4: a school set up in schoolgraph (no source ids at all) exports as OneRoster with its own ids,
    and importing that export changes nothing."""
    school = await new_school(factory)
    package = await export(engine, school.id)
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    assert report.changes == 0, counts(report)
    assert counts(report)["pupils"]["unchanged"] == len(school.pupils)
    assert counts(report)["memberships"]["unchanged"] == len(school.pupils)


# --- schoolgraph's own layout (LL-S1) -----------------------------------------------------------------


def _own(extended: bool = False, **pupil: str) -> bytes:
    files: dict[str, list[dict[str, Any]]] = {
        "pupils.csv": [
            {"pupil_id": "P1", "upn": UPNS["p1"], "uln": ULN, "forename": "Amy", "surname": "Ash",
             "date_of_birth": years_ago(9), "gender": "F", "email": "amy@pupils.example", "username": "amy.ash",
             **pupil},
            {"pupil_id": "P2", "upn": UPNS["p2"], "uln": "9999999999", "forename": "Ben", "surname": "Birch",
             "date_of_birth": years_ago(14), "gender": "male"},
        ],
        "staff.csv": [
            {"staff_id": "S1", "title": "Ms", "forename": "Cara", "surname": "Cedar", "work_email": "cc@s.example",
             "teaching": "Y", "role_text": "Class teacher", "staff_code": "CC", "username": "cara.cedar"},
            {"staff_id": "S2", "forename": "Dan", "surname": "Dale", "work_email": "dd@s.example", "teaching": "N",
             "date_of_leaving": years_ago(0, days=1)},
        ],
        "groups.csv": [
            {"group_id": "G4", "name": "4 Oak", "type": "registration", "year_group": "4"},
            {"group_id": "GR", "name": "Reception", "type": "YEAR", "year_group": "R"},
        ],
        "memberships.csv": [
            {"group_id": "G4", "person_id": "P1", "role": "pupil"},
            {"group_id": "G4", "person_id": "S1", "role": "teacher"},
        ],
    }  # fmt: skip
    if extended:
        files["extended.csv"] = [
            {"pupil_id": "P1", "lea_care": "N", "sen_status": "K", "pupil_premium": "Y", "eal": "POL"},
            {"pupil_id": "P2", "eal": "ENG"},
        ]
    return own_layout(files)


async def test_the_own_layout_carries_the_schedule_1_fields(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL-S1: pupils (name, date of birth, gender, email, UPN, ULN), staff (title, names, work email,
    teaching, role text, staff code, date of leaving) and groups (name, type, id, year group) import from
    schoolgraph's own CSV layout; ULN 9999999999 means no ULN; a past leaving date imports a leaver."""
    school = await new_school(factory)
    package = own_layout({}, slug=school.slug)
    assert (await run_import(engine, school.id, package)).outcome == "COMMITTED"
    report = await run_import(engine, school.id, _own_for(school.slug))
    assert report.outcome == "COMMITTED", problems(report)
    assert (report.format, report.mode) == ("SCHOOLGRAPH_CSV", "BULK")
    assert {k: v["create"] for k, v in counts(report).items() if v["create"]} == {
        "groups": 2, "staff": 2, "pupils": 2, "memberships": 1, "teaching": 1, "accounts": 2,
    }  # fmt: skip
    pupil = await _scalar(
        engine, school.id,
        "SELECT concat_ws('|', upn, coalesce(uln, '-'), date_of_birth, gender) FROM pupils WHERE source_id = 'P2'",
    )  # fmt: skip
    assert pupil == f"{UPNS['p2']}|-|{years_ago(14)}|MALE"
    staff = await _scalar(
        engine, school.id,
        "SELECT string_agg(concat_ws('|', source_id, title, teaching, role_text, staff_code, active), ',' ORDER BY source_id) FROM staff WHERE source_id IS NOT NULL",
    )  # fmt: skip
    assert staff == "S1|Ms|t|Class teacher|CC|t,S2|f|f"
    years = await _scalar(engine, school.id, "SELECT string_agg(external_id || ':' || year_group, ',' ORDER BY external_id) FROM groups WHERE external_id IN ('G4', 'GR')")  # fmt: skip
    assert years == "G4:4,GR:-1"
    assert problems(report, "PARENTAL_CONSENT_REQUIRED") == [
        ("pupils.csv", 2, "date_of_birth", "PARENTAL_CONSENT_REQUIRED")
    ]
    assert (await run_import(engine, school.id, _own_for(school.slug))).changes == 0


def _own_for(slug: str, extended: bool = False, **pupil: str) -> bytes:
    import io
    import zipfile

    package = zipfile.ZipFile(io.BytesIO(_own(extended, **pupil)))
    files = {n: package.read(n).decode() for n in package.namelist()}
    files["school.csv"] = f"urn,slug,name\r\n,{slug},Test\r\n"
    from tests.factories.roster import zip_bytes

    return zip_bytes(files)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"upn": "R247962919251"}, ("pupils.csv", 2, "upn", "INVALID_UPN")),
        ({"upn": ""}, ("pupils.csv", 2, "upn", "REQUIRED")),
        ({"uln": "1000000063"}, ("pupils.csv", 2, "uln", "INVALID_ULN")),
        ({"date_of_birth": "01/09/2016"}, ("pupils.csv", 2, "date_of_birth", "INVALID_DATE")),
        ({"date_of_birth": years_ago(1)}, ("pupils.csv", 2, "date_of_birth", "INVALID_DATE_OF_BIRTH")),
        ({"gender": "robot"}, ("pupils.csv", 2, "gender", "INVALID_VALUE")),
        ({"email": "amy@"}, ("pupils.csv", 2, "email", "INVALID_EMAIL")),
        ({"upn": UPNS["p2"]}, ("pupils.csv", 3, "upn", "DUPLICATE_UPN")),
    ],
)
async def test_the_own_layout_is_checked_field_by_field(
    change: dict[str, str], expected: tuple[Any, ...], engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL-S1, LL 6.3.2: UPN check letter, ULN check digit, dates (and a plausible date of birth), gender,
    email and duplicate UPNs are errors on their row and column; nothing is written."""
    school = await new_school(factory)
    pupils = await _scalar(engine, school.id, "SELECT count(*) FROM pupils")
    report = await run_import(engine, school.id, _own_for(school.slug, **change))
    assert report.outcome == "REFUSED"
    errors = [(p.file, p.row, p.column, p.code) for p in report.problems if p.severity == "ERROR"]
    assert errors == [expected], problems(report)
    assert await _scalar(engine, school.id, "SELECT count(*) FROM pupils") == pupils


async def test_the_own_layout_must_name_this_school(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 10.2: school.csv names the school (URN or address); another school's files are refused."""
    school = await new_school(factory)
    report = await run_import(engine, school.id, _own_for("some-other-school"))
    assert problems(report, "NOT_THIS_SCHOOL") == [("school.csv", 2, "slug", "NOT_THIS_SCHOOL")]


async def test_extended_data_is_dropped_without_the_opt_in_and_stored_with_it(
    engine: AsyncEngine, client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-A 3.2: without the school's opt-in, extended pupil data is dropped with a warning (nothing stored);
    once a school admin opts in (who and when recorded), the same file stores it; revoking deletes it."""
    school = await new_school(factory)
    dropped = await run_import(engine, school.id, _own_for(school.slug, extended=True))
    assert dropped.outcome == "COMMITTED"
    assert problems(dropped, "EXTENDED_DATA_DROPPED") == [
        ("extended.csv", 2, "pupil_id", "EXTENDED_DATA_DROPPED")
    ]
    assert await _scalar(engine, school.id, "SELECT count(*) FROM pupil_extended_data") == 0

    admin = await login(client, school.slug, "admin")
    body = await gql(
        client, school.slug, "mutation { optInToExtendedData { setting { enabled approvedBy approvedAt } errors { code } } }",
        token=admin,
    )  # fmt: skip
    setting = body["data"]["optInToExtendedData"]["setting"]
    assert setting["enabled"] is True and setting["approvedBy"] == "Mrs Ada Admin" and setting["approvedAt"]

    stored = await run_import(engine, school.id, _own_for(school.slug, extended=True))
    assert counts(stored)["extendedData"] == {"create": 2, "update": 0, "deactivate": 0, "unchanged": 0}
    rows = await _scalar(
        engine, school.id,
        "SELECT string_agg(concat_ws('|', p.source_id, e.lea_care, e.sen_status, e.pupil_premium, e.eal), ',' "
        "ORDER BY p.source_id) FROM pupil_extended_data e JOIN pupils p ON p.school_id = e.school_id AND p.id = e.pupil_id",
    )  # fmt: skip
    assert rows == "P1|f|K|t|t,P2|f"
    assert (await run_import(engine, school.id, _own_for(school.slug, extended=True))).changes == 0
    query = "{ extendedPupilData(first: 10) { edges { node { pupil { forename } leaCare senStatus pupilPremium eal } } } }"
    listed = await gql(client, school.slug, query, token=admin)
    assert sorted((e["node"]["pupil"]["forename"], e["node"]["senStatus"], e["node"]["eal"])
                  for e in listed["data"]["extendedPupilData"]["edges"]) == [("Amy", "K", True), ("Ben", None, False)]  # fmt: skip

    body = await gql(
        client, school.slug, "mutation { revokeExtendedData { setting { enabled revokedBy revokedAt } deletedRows } }",
        token=admin,
    )  # fmt: skip
    revoked = body["data"]["revokeExtendedData"]
    assert revoked["deletedRows"] == 2
    assert revoked["setting"]["enabled"] is False and revoked["setting"]["revokedBy"] == "Mrs Ada Admin"
    assert await _scalar(engine, school.id, "SELECT count(*) FROM pupil_extended_data") == 0
    assert (await gql(client, school.slug, query, token=admin))["data"]["extendedPupilData"]["edges"] == []
    again = await run_import(engine, school.id, _own_for(school.slug, extended=True))
    assert "EXTENDED_DATA_DROPPED" in again.problem_codes  # revoked: dropped again, nothing stored


async def test_passwords_in_a_package_are_never_stored(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL-S2 P2: users.csv passwords are ignored (a warning); imported accounts have no password at all."""
    school = await _school(engine, factory)
    package = oneroster(
        users=[{**user("u1", "teacher", "A", "B", email="a@b.example"), "password": "Password1-"}]
    )
    report = await run_import(engine, school.id, package)
    assert "PASSWORDS_IGNORED" in report.problem_codes
    hashes = await _scalar(
        engine,
        school.id,
        "SELECT count(*) FROM accounts WHERE username = 'user.u1' AND password_hash IS NULL AND status = 'PENDING'",
    )
    assert hashes == 1


async def test_an_admin_cannot_import_themself_out(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 11.1 (access ends for leavers, not for the admin running the import): a bulk file that leaves out
    the importing admin's own staff record keeps it active, with a warning; others are deactivated."""
    from roster.service import Importer

    school = await _school(engine, factory)
    admin = school.staff["admin"]
    first = oneroster(
        users=[
            user("s-admin", "administrator", "Ada", "Admin", email=admin.work_email),
            user("s-other", "teacher", "Otto", "Other", email="otto@school.example"),
        ]
    )
    report = await run_import(engine, school.id, first)
    assert counts(report)["staff"] == {"create": 1, "update": 1, "deactivate": 0, "unchanged": 0}  # adopted
    by = Importer(name="admin", account_id=school.accounts["admin"].id, staff_id=admin.id)
    report = await run_import(engine, school.id, oneroster(users=[user("x", "student", "Xi", "Xu")]), by=by)
    assert counts(report)["staff"]["deactivate"] == 1
    assert [p.code for p in report.problems if p.code == "OWN_RECORD_KEPT"] == ["OWN_RECORD_KEPT"]
    assert await _scalar(engine, school.id, "SELECT active FROM staff WHERE id = :i", i=admin.id) is True


async def test_a_username_that_cannot_be_one_gets_no_account(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 11.3, LRS 5.1: usernames follow the account rules; a person with an impossible one is imported
    without an account, and the warning names the row."""
    school = await _school(engine, factory)
    report = await run_import(
        engine, school.id, oneroster(users=[user("u9", "student", "A", "B", username="a b")])
    )
    assert report.outcome == "COMMITTED"
    assert problems(report, "INVALID_USERNAME") == [("users.csv", 2, "username", "INVALID_USERNAME")]
    assert counts(report)["pupils"]["create"] == 1 and "accounts" not in counts(report)


async def test_a_constraint_the_checks_missed_refuses_the_import_cleanly(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LL 10.2: should a write still break a database rule (here two pupils swapping UPNs, with the check
    that would have said so switched off), the import is refused with CONFLICT and nothing is written."""
    from roster.checks import Checks

    school = await _school(engine, factory)
    upn_a, upn_b = new_upn(), new_upn()
    users = [user("a", "student", "A", "A", user_ids=f"{{UPN:{upn_a}}}"), user("b", "student", "B", "B", user_ids=f"{{UPN:{upn_b}}}")]  # fmt: skip
    assert (await run_import(engine, school.id, oneroster(users=users))).outcome == "COMMITTED"
    swapped = [user("a", "student", "A", "A", user_ids=f"{{UPN:{upn_b}}}"), user("b", "student", "B", "B", user_ids=f"{{UPN:{upn_a}}}")]  # fmt: skip
    checked = await run_import(engine, school.id, oneroster(users=swapped))
    assert problems(checked, "UPN_TAKEN") == [("users.csv", 2, "userIds", "UPN_TAKEN"), ("users.csv", 3, "userIds", "UPN_TAKEN")]  # fmt: skip

    async def unchecked(self: Checks) -> None:
        return None

    monkeypatch.setattr(Checks, "against_school", unchecked)
    before = await fingerprint(owner_engine)
    report = await run_import(engine, school.id, oneroster(users=swapped))
    assert report.outcome == "REFUSED"
    assert [p.code for p in report.problems if p.severity == "ERROR"] == ["CONFLICT"]
    assert "uq_pupils_school_id_upn" in report.problems[-1].message
    after = await fingerprint(owner_engine)
    assert {t for t in after if after[t] != before[t]} == ATTEMPT_ONLY


async def test_the_school_is_recognised_by_its_urn(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: an org whose identifier is the school's URN names the school without any mapping."""
    school = await new_school(factory)
    urn = str(100000 + abs(hash(school.slug)) % 899999)
    await set_urn(owner_engine, school.id, urn)
    package = oneroster(
        orgs=[{"sourcedId": "mis-42", "name": "Ours", "type": "school", "identifier": urn}],
        users=[user("u1", "teacher", "Ann", "Lee", email="ann@school.example", org="mis-42")],
    )
    report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    assert counts(report)["staff"]["create"] == 1

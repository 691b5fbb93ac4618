"""Third-party OneRoster packages in ../shared/data/oneroster: what each one does, decided and documented here.

An extra conformance set beside the suite's own packages (built by tests/factories/roster.py): these files
are not in the repository, so where they are absent the module is skipped and says why.

| package | outcome |
|---|---|
| v1p1-bulk-moodle-full | imports: 2 staff, 3 pupils, 1 parent linked to 1 child, 1 class (the other is tobedeleted), 3 terms; quirks as warnings |
| v1p1-bulk-moodle-minimal | imports: 2 staff (no email: no account), 3 pupils, 1 parent, 2 classes, 5 terms |
| v1p1-bulk-rosterhub | imports: 20 pupils, 5 classes, 25 memberships, 4 terms; the 5 teacher enrollments of students skipped |
| v1p2-delta-moodle | imports (1.2 delta): 1 pupil with date of birth, 1 class, 1 membership, 1 term |
| v1p2-broken-headers-moodle | refused: per-file, per-column header errors naming the expected names; nothing written |

None of the packages carries a URN, so each school says which org it is (``setRosterOrg``) first.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories.roster import (
    ATTEMPT_ONLY,
    PACKAGES,
    counts,
    export,
    fingerprint,
    problems,
    run_import,
    set_org,
)
from tests.factories.schools import SchoolFactory

pytestmark = [
    pytest.mark.skipif(
        not PACKAGES.is_dir(),
        reason=f"the third-party OneRoster packages are not at {PACKAGES} (an extra conformance set, not in the repo)",
    ),
]

ZERO = {"create": 0, "update": 0, "deactivate": 0}

VALID: dict[str, dict[str, Any]] = {
    "v1p1-bulk-moodle-full": {
        "org": "org-sch-222-456",
        "format": ("ONEROSTER_1_1", "BULK"),
        "created": {
            "terms": 3,
            "groups": 1,
            "staff": 2,
            "pupils": 3,
            "contacts": 1,
            "memberships": 1,
            "teaching": 1,
            "contactLinks": 1,
            "groupTerms": 1,
            "accounts": 6,
        },
        "warnings": {
            "STATUS_IN_BULK",  # status and dateLastModified filled in although bulk
            "STATUS_READ_AS",  # 'inactive'
            "VALUE_CASE",  # 'Scheduled', 'TRUE'
            "COURSES_ABSENT",  # classes name courses, no courses.csv
            "UNKNOWN_ORG",  # the org's parent is not defined
            "UNKNOWN_TERM",  # a session's parent is not defined
            "ROLE_MISMATCH",  # a teacher enrolled as a student
            "AGENT_IGNORED",  # staff named as agents
            "PASSWORDS_IGNORED",
            "UPN_MISSING",
            "DATE_OF_BIRTH_MISSING",
        },
    },
    "v1p1-bulk-moodle-minimal": {
        "org": "org-sch-222-456",
        "format": ("ONEROSTER_1_1", "BULK"),
        "created": {
            "terms": 5,
            "groups": 2,
            "staff": 2,
            "pupils": 3,
            "contacts": 1,
            "memberships": 2,
            "teaching": 2,
            "groupTerms": 3,
            "accounts": 4,
        },
        "warnings": {
            "VALUE_CASE",
            "COURSES_ABSENT",
            "PASSWORDS_IGNORED",
            "ROLE_MISMATCH",
            "STAFF_EMAIL_MISSING",
            "UPN_MISSING",
            "DATE_OF_BIRTH_MISSING",
        },
    },
    "v1p1-bulk-rosterhub": {
        "org": "or0001",
        "format": ("ONEROSTER_1_1", "BULK"),
        "created": {
            "terms": 4,
            "groups": 5,
            "pupils": 20,
            "memberships": 25,
            "groupTerms": 5,
            "accounts": 20,
        },
        "warnings": {
            "UNKNOWN_MANIFEST_KEY",  # fiel.demographics
            "EXTENSION_COLUMN",  # metadata.* columns
            "ROLE_MISMATCH",  # two students enrolled as teachers (5 enrollments)
            "UPN_MISSING",
            "DATE_OF_BIRTH_MISSING",
        },
    },
    "v1p2-delta-moodle": {
        "org": "ORG_1",
        "format": ("ONEROSTER_1_2", "DELTA"),
        "created": {"terms": 1, "groups": 1, "pupils": 1, "memberships": 1, "groupTerms": 1, "accounts": 1},
        "warnings": {"VALUE_CASE", "PASSWORDS_IGNORED", "UPN_MISSING"},
    },
}


@pytest.mark.parametrize("name", sorted(VALID))
async def test_each_valid_package_imports_with_its_quirks_as_warnings(
    name: str, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a real MIS package imports, its quirks reported as warnings with file/row/column;
    re-importing it changes nothing (0 changes), and so does exporting then re-importing (LL 5.1.4)."""
    expected = VALID[name]
    school = await factory.school()
    await set_org(engine, school.id, expected["org"])
    first = await run_import(engine, school.id, PACKAGES / f"{name}.zip")
    assert first.outcome == "COMMITTED", problems(first)
    assert (first.format, first.mode) == expected["format"]
    assert first.error_count == 0
    assert {k: v["create"] for k, v in counts(first).items() if v["create"]} == expected["created"]
    assert set(first.problem_codes) == expected["warnings"]
    for problem in first.problems:
        assert problem.severity == "WARNING" and problem.message
        if problem.code not in ("PASSWORDS_IGNORED",):
            assert problem.file, problem

    again = await run_import(engine, school.id, PACKAGES / f"{name}.zip")
    assert again.outcome == "COMMITTED"
    assert again.changes == 0, counts(again)
    assert all(v["unchanged"] for v in counts(again).values())

    package = await export(engine, school.id)
    round_trip = await run_import(engine, school.id, package)
    assert round_trip.outcome == "COMMITTED", problems(round_trip)
    assert (round_trip.format, round_trip.mode) == ("ONEROSTER_1_1", "BULK")
    assert round_trip.changes == 0, counts(round_trip)


async def test_quirks_are_reported_where_they_are(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 10.2: each quirk of the moodle full package is named with its file, row and column."""
    school = await factory.school()
    await set_org(engine, school.id, "org-sch-222-456")
    report = await run_import(engine, school.id, PACKAGES / "v1p1-bulk-moodle-full.zip")
    found = set(problems(report))
    assert ("classes.csv", 2, "classType", "VALUE_CASE") in found
    assert ("academicSessions.csv", 4, "status", "STATUS_READ_AS") in found
    assert ("orgs.csv", 2, "parentSourcedId", "UNKNOWN_ORG") in found
    assert ("enrollments.csv", 3, "role", "ROLE_MISMATCH") in found
    assert ("users.csv", 3, "agentSourcedIds", "AGENT_IGNORED") in found
    case = next(p for p in report.problems if p.code == "VALUE_CASE" and p.file == "classes.csv")
    assert "'Scheduled' is read as 'scheduled'" in case.message


async def test_rosterhub_students_enrolled_as_teachers_are_skipped(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: users.csv says student, enrollments.csv says teacher: no teaching assignment, a warning per row."""
    school = await factory.school()
    await set_org(engine, school.id, "or0001")
    report = await run_import(engine, school.id, PACKAGES / "v1p1-bulk-rosterhub.zip")
    assert problems(report, "ROLE_MISMATCH") == [
        ("enrollments.csv", row, "role", "ROLE_MISMATCH") for row in (2, 3, 4, 5, 6)
    ]
    assert "teaching" not in counts(report)


async def test_broken_headers_package_is_refused_with_per_column_errors_and_nothing_written(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: misspelled headers and a lower-case file name refuse the package, naming each file, column and
    the expected name; nothing is written but the import's history entry."""
    school = await factory.school()
    await set_org(engine, school.id, "org-sch-222-456")
    before = await fingerprint(owner_engine)
    report = await run_import(engine, school.id, PACKAGES / "v1p2-broken-headers-moodle.zip")
    after = await fingerprint(owner_engine)
    assert report.outcome == "REFUSED"
    assert report.changes == 0
    errors = {(p.file, p.column, p.code, p.expected) for p in report.problems if p.severity == "ERROR"}
    assert {
        ("userprofiles.csv", None, "FILE_NAME_CASE", "userProfiles.csv"),
        ("roles.csv", "dataLastModified", "MISSPELLED_COLUMN", "dateLastModified"),
        ("userprofiles.csv", "dataLastModified", "MISSPELLED_COLUMN", "dateLastModified"),
        ("users.csv", "prefferedGivenName", "MISSPELLED_COLUMN", "preferredGivenName"),
        ("users.csv", "prefferedMiddleName", "MISSPELLED_COLUMN", "preferredMiddleName"),
        ("users.csv", "prefferedFamilyName", "MISSPELLED_COLUMN", "preferredFamilyName"),
    } <= errors
    message = next(p.message for p in report.problems if p.column == "prefferedGivenName")
    assert message == "Column 'prefferedGivenName' is not a users.csv column: expected 'preferredGivenName'."
    assert all(p.row in (1, None) for p in report.problems if p.severity == "ERROR")
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed == ATTEMPT_ONLY, changed


async def test_a_package_of_another_school_is_refused(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """LL 10.2: a package whose orgs do not include this school (no mapping, no URN) is refused."""
    school = await factory.school()
    report = await run_import(engine, school.id, PACKAGES / "v1p1-bulk-rosterhub.zip")
    assert report.outcome == "REFUSED"
    assert problems(report, "NOT_THIS_SCHOOL") == [("orgs.csv", None, "sourcedId", "NOT_THIS_SCHOOL")]
    assert "or0001 (Sample School)" in report.problems[-1].message

    await set_org(engine, school.id, "some-other-org")
    assert (await run_import(engine, school.id, PACKAGES / "v1p1-bulk-rosterhub.zip")).outcome == "REFUSED"

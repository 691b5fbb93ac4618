"""Reading roster files without a database: headers, values, manifests (LL 10.2: tolerant, precise)."""

from __future__ import annotations

import io
import uuid
import zipfile

from roster.csvio import TableSpec, check_header
from roster.oneroster import SPECS_11, OneRosterReader
from roster.package import PackageError, open_zip
from roster.problems import ProblemLog
from roster.reading import SchoolRef
from roster.values import Values, split_list, user_ids

SPEC = TableSpec("roles.csv", ("sourcedId", "status", "dateLastModified", "userSourcedId", "role"))


def _codes(log: ProblemLog) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.column, p.expected) for p in log.items]


def test_a_misspelled_header_names_the_expected_column() -> None:
    """LL 10.2: `dataLastModified` is an error that names `dateLastModified`, not a silent unknown column."""
    log = ProblemLog()
    table = check_header(SPEC, ["sourcedId", "status", "dataLastModified", "userSourcedId", "role"], log)
    assert table is None
    assert _codes(log) == [("MISSPELLED_COLUMN", "dataLastModified", "dateLastModified")]
    assert (
        log.items[0].message
        == "Column 'dataLastModified' is not a roles.csv column: expected 'dateLastModified'."
    )


def test_header_quirks_that_are_read_anyway() -> None:
    """LL 10.2: wrong case and order are read by name with warnings; metadata.* and trailing unnamed columns
    are ignored; a missing column is an error, an unknown one a warning (an error when the spec is strict)."""
    log = ProblemLog()
    table = check_header(
        SPEC, ["status", "SourcedId", "dateLastModified", "userSourcedId", "role", "metadata.x", "", ""], log
    )
    assert table is not None and table.index["sourcedId"] == 1
    assert [c for c, _, _ in _codes(log)] == [
        "COLUMN_CASE",
        "EXTENSION_COLUMN",
        "UNNAMED_COLUMN",
        "COLUMN_ORDER",
    ]
    log = ProblemLog()
    assert check_header(SPEC, ["sourcedId", "status", "dateLastModified", "colour"], log) is None
    assert _codes(log) == [
        ("UNKNOWN_COLUMN", "colour", None),
        ("MISSING_COLUMN", "userSourcedId", "userSourcedId"),
        ("MISSING_COLUMN", "role", "role"),
    ]
    assert [p.severity for p in log.items] == ["WARNING", "ERROR", "ERROR"]
    log = ProblemLog()
    strict = TableSpec(SPEC.file, SPEC.columns, strict=True)
    assert check_header(strict, [*SPEC.columns, "colour"], log) is None
    assert [(p.severity, p.code) for p in log.items] == [("ERROR", "UNKNOWN_COLUMN")]


def test_values_are_tolerated_with_a_warning_or_refused_with_an_error() -> None:
    """LL 10.2: enumeration case is tolerated (warned once per column and value); bad dates are errors."""
    log = ProblemLog()
    values = Values(log, "classes.csv")
    allowed = {"homeroom": "homeroom", "scheduled": "scheduled"}
    assert values.enum(2, "classType", "Scheduled", allowed) == "scheduled"
    assert values.enum(3, "classType", "Scheduled", allowed) == "scheduled"
    assert values.enum(4, "classType", "lecture", allowed) is None
    assert values.day(5, "startDate", "2026-02-30") is None
    assert values.day(6, "startDate", "2026-09-01") is not None
    values.timestamp(7, "dateLastModified", "2023-05-01T18:25:43.511Z")
    values.timestamp(8, "dateLastModified", "1/05/2023")
    assert [(p.severity, p.code, p.row) for p in log.items] == [
        ("WARNING", "VALUE_CASE", 2),
        ("ERROR", "INVALID_VALUE", 4),
        ("ERROR", "INVALID_DATE", 5),
        ("ERROR", "INVALID_DATE", 8),
    ]


def test_list_and_user_id_fields() -> None:
    assert split_list(" a, b ,,c ") == ["a", "b", "c"]
    assert user_ids("{LDAP:12},{upn : B801200005001},{ULN:9276308686}") == {
        "LDAP": "12",
        "UPN": "B801200005001",
        "ULN": "9276308686",
    }


def _zip(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    buffer.seek(0)
    return buffer


def test_files_in_one_folder_of_the_zip_are_found_and_hashed() -> None:
    """MIS exports often put the files in a folder; the package's SHA-256 is of its bytes."""
    package = open_zip(
        _zip({"export/users.csv": "x", "export/orgs.csv": "y", "__MACOSX/._users.csv": ""}), "p.zip"
    )
    assert package.files == {"orgs.csv": "export/orgs.csv", "users.csv": "export/users.csv"}
    assert len(package.sha256) == 64 and package.size > 0
    try:
        open_zip(io.BytesIO(b"not a zip"), "p.zip")
    except PackageError as error:
        assert error.code == "NOT_A_ZIP"
    else:
        raise AssertionError("a non-zip was accepted")


def test_manifest_typos_and_missing_values_are_read_with_warnings() -> None:
    """LL 10.2: `fiel.demographics` is read as `file.demographics`; an empty value as absent."""
    manifest = (
        "propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.1\r\nfiel.demographics,absent\r\n"
        "file.users,Bulk\r\nfile.orgs,bulk\r\nfile.classes,\r\n"
    )
    orgs = (
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\r\nmine,,,Ours,school,,\r\n"
    )
    users = ",".join(SPECS_11["users.csv"]) + "\r\n"
    package = open_zip(_zip({"manifest.csv": manifest, "orgs.csv": orgs, "users.csv": users}), "p.zip")
    log = ProblemLog()
    reader = OneRosterReader(package, log, SchoolRef(uuid.uuid4(), "s", None, "mine"))
    assert reader.prepare()
    assert [(p.code, p.row) for p in log.items[:3]] == [
        ("UNKNOWN_MANIFEST_KEY", 4),
        ("VALUE_CASE", 5),
        ("MANIFEST_VALUE_MISSING", 7),
    ]
    assert log.items[0].expected == "file.demographics"
    assert reader.file_modes["users.csv"] == "bulk" and reader.file_modes["classes.csv"] == "absent"
    assert reader.school_orgs == {"mine"}

"""The rows of a package in schoolgraph's own layout, checked and shaped for the staging tables.

One generator per file, each yielding tuples in the column order its :class:`~roster.reading.Load` names
(roster/schoolgraph_csv.py). A row with an error is reported and not staged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from common.identifiers import IdentifierError, validate_uln, validate_upn
from roster.csvio import Table, read_rows
from roster.values import Values

if TYPE_CHECKING:
    from roster.schoolgraph_csv import SchoolgraphReader

GENDERS = {
    "female": "FEMALE",
    "f": "FEMALE",
    "male": "MALE",
    "m": "MALE",
    "other": "OTHER",
    "o": "OTHER",
    "not_known": "NOT_KNOWN",
    "not known": "NOT_KNOWN",
    "u": "NOT_KNOWN",
    "x": "NOT_KNOWN",
}
GROUP_TYPES = {t.lower(): t for t in ("REGISTRATION", "YEAR", "CLASS", "SUBJECT", "CUSTOM")}
YES_NO = {
    "y": True,
    "yes": True,
    "true": True,
    "1": True,
    "n": False,
    "no": False,
    "false": False,
    "0": False,
}
YEAR_WORDS = {"n": -2, "nursery": -2, "r": -1, "reception": -1}
SEN = {"n": "N", "k": "K", "e": "E", "s": "S"}
ENGLISH = {"ENG", "ENB"}
UNKNOWN_LANGUAGE = {"REF", "NOT"}
MEMBER_ROLES = {"pupil": "student", "teacher": "teacher"}


def _yes_no(values: Values, row_no: int, column: str, value: str) -> bool | None:
    if not value:
        return None
    answer = YES_NO.get(value.lower())
    if answer is None:
        values.log.error(
            "INVALID_VALUE", f"{value!r} is not Y or N.", file=values.file, row=row_no, column=column
        )
    return answer


def _id_and_names(
    values: Values, table: Table, row_no: int, row: list[str], id_column: str
) -> tuple[str | None, str | None, str | None]:
    """The row's id (required, at most 255 characters), forename and surname (required, at most 100)."""
    raw_id = table.get(row, id_column)
    values.required(row_no, id_column, raw_id)
    sid = values.text(row_no, id_column, raw_id, 255)
    names = []
    for column in ("forename", "surname"):
        value = table.get(row, column)
        values.required(row_no, column, value)
        names.append(values.text(row_no, column, value, 100))
    return sid, names[0], names[1]


def pupils(reader: SchoolgraphReader) -> Iterator[tuple[Any, ...]]:
    file = "pupils.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        raw_id = table.get(row, "pupil_id")
        values.required(row_no, "pupil_id", raw_id)
        sid = values.text(row_no, "pupil_id", raw_id, 255)
        upn, uln = _identifiers(values, table, row_no, row)
        names = []
        for column in ("forename", "surname"):
            value = table.get(row, column)
            values.required(row_no, column, value)
            names.append(values.text(row_no, column, value, 100))
        born = None
        if values.required(row_no, "date_of_birth", table.get(row, "date_of_birth")):
            born = values.day(row_no, "date_of_birth", table.get(row, "date_of_birth"))
        gender = _gender(values, row_no, table.get(row, "gender"))
        email = values.email(row_no, "email", table.get(row, "email"))
        username = values.username(row_no, "username", table.get(row, "username"))
        preferred = _preferred(values, table, row_no, row)
        if log.errors == errors:
            yield _person(
                row_no,
                file,
                sid,
                "PUPIL",
                "student",
                username,
                forename=names[0],
                surname=names[1],
                email=email,
                upn=upn,
                upn_column="upn",
                uln=uln,
                dob=born,
                gender=gender,
                dob_file=file,
                dob_row=row_no,
                preferred_forename=preferred,
            )


def _identifiers(values: Values, table: Table, row_no: int, row: list[str]) -> tuple[str | None, str | None]:
    """The pupil's UPN (required) and ULN (optional), each valid or an error."""
    upn = uln = None
    if values.required(row_no, "upn", table.get(row, "upn")):
        try:
            upn = validate_upn(table.get(row, "upn"))
        except IdentifierError as error:
            values.log.error(error.code, f"{error.message}.", file=values.file, row=row_no, column="upn")
    try:
        uln = validate_uln(table.get(row, "uln"))
    except IdentifierError as error:
        values.log.error(error.code, f"{error.message}.", file=values.file, row=row_no, column="uln")
    return upn, uln


def _preferred(values: Values, table: Table, row_no: int, row: list[str]) -> str | None:
    """The optional preferred forename: one that cannot be a name is a warning on the row, and left out."""
    return values.text(row_no, "preferred_forename", table.get(row, "preferred_forename"), 100, optional=True)


def _gender(values: Values, row_no: int, raw: str) -> str | None:
    if not values.required(row_no, "gender", raw):
        return None
    gender = GENDERS.get(raw.lower())
    if gender is None:
        values.log.error(
            "INVALID_VALUE",
            f"{raw!r} is not a gender (FEMALE or F, MALE or M, OTHER or O, NOT_KNOWN or U).",
            file=values.file,
            row=row_no,
            column="gender",
        )
    return gender


def staff(reader: SchoolgraphReader) -> Iterator[tuple[Any, ...]]:
    file = "staff.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        sid, forename, surname = _id_and_names(values, table, row_no, row, "staff_id")
        values.required(row_no, "work_email", table.get(row, "work_email"))
        work = values.email(row_no, "work_email", table.get(row, "work_email"))
        second = values.email(row_no, "secondary_email", table.get(row, "secondary_email"))
        teaching = None
        if values.required(row_no, "teaching", table.get(row, "teaching")):
            teaching = _yes_no(values, row_no, "teaching", table.get(row, "teaching"))
        leaving = values.day(row_no, "date_of_leaving", table.get(row, "date_of_leaving"))
        preferred = _preferred(values, table, row_no, row)
        if log.errors == errors:
            yield _person(
                row_no,
                file,
                sid,
                "STAFF",
                "teacher" if teaching else "administrator",
                values.username(row_no, "username", table.get(row, "username")),
                title=values.text(row_no, "title", table.get(row, "title"), 20),
                forename=forename,
                surname=surname,
                email=work,
                secondary_email=second,
                teaching=teaching,
                role_text=values.text(row_no, "role_text", table.get(row, "role_text"), 100),
                staff_code=values.text(row_no, "staff_code", table.get(row, "staff_code"), 20),
                date_of_leaving=leaving,
                preferred_forename=preferred,
            )


def groups(reader: SchoolgraphReader) -> Iterator[tuple[Any, ...]]:
    file = "groups.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        raw_id = table.get(row, "group_id")
        values.required(row_no, "group_id", raw_id)
        sid = values.text(row_no, "group_id", raw_id, 255)
        raw_name = table.get(row, "name")
        values.required(row_no, "name", raw_name)
        name = values.text(row_no, "name", raw_name, 100)
        kind = None
        if values.required(row_no, "type", table.get(row, "type")):
            kind = values.enum(row_no, "type", table.get(row, "type"), GROUP_TYPES)
        raw_year = table.get(row, "year_group")
        year = YEAR_WORDS.get(raw_year.lower())
        if year is None:
            year = values.integer(row_no, "year_group", raw_year, -2, 14)
        subject = values.text(row_no, "subject", table.get(row, "subject"), 100)
        if log.errors == errors:
            yield (row_no, file, sid, None, name, kind, year, subject, [])


def memberships(reader: SchoolgraphReader) -> Iterator[tuple[Any, ...]]:
    file = "memberships.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        group, person = table.get(row, "group_id"), table.get(row, "person_id")
        values.required(row_no, "group_id", group)
        values.required(row_no, "person_id", person)
        role = values.enum(row_no, "role", table.get(row, "role"), {"pupil": "pupil", "teacher": "teacher"})
        values.required(row_no, "role", table.get(row, "role"))
        if log.errors == errors:
            yield (row_no, file, f"{group}/{person}", None, group, person, MEMBER_ROLES[role or "pupil"])


def extended(reader: SchoolgraphReader) -> Iterator[tuple[Any, ...]]:
    file = "extended.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        sid = table.get(row, "pupil_id")
        values.required(row_no, "pupil_id", sid)
        sen_raw = table.get(row, "sen_status")
        sen = SEN.get(sen_raw.lower()) if sen_raw else None
        if sen_raw and sen is None:
            log.error(
                "INVALID_VALUE",
                f"{sen_raw!r} is not a DfE SEN provision code (N, K, E or S).",
                file=file,
                row=row_no,
                column="sen_status",
            )
        eal = _eal(values, row_no, table.get(row, "eal"))
        lea = _yes_no(values, row_no, "lea_care", table.get(row, "lea_care"))
        premium = _yes_no(values, row_no, "pupil_premium", table.get(row, "pupil_premium"))
        if log.errors == errors:
            yield (row_no, sid, lea, sen, premium, eal)


def _eal(values: Values, row_no: int, raw: str) -> bool | None:
    """English as an additional language: Y/N, or a DfE first-language code (ENG/ENB: no; REF/NOT: not
    known; any other code: yes)."""
    eal = YES_NO.get(raw.lower()) if raw else None
    if not raw or eal is not None:
        return eal
    code = raw.upper()
    if code in ENGLISH:
        return False
    if code in UNKNOWN_LANGUAGE:
        return None
    if code.isalpha() and 3 <= len(code) <= 4:
        return True
    values.log.error(
        "INVALID_VALUE",
        f"{raw!r} is neither Y/N nor a DfE first-language code (ENG, ENB, OTH, ...).",
        file=values.file,
        row=row_no,
        column="eal",
    )
    return None


def _person(
    row_no: int,
    file: str,
    sid: str | None,
    kind: str,
    role: str,
    username: str | None,
    *,
    title: str | None = None,
    forename: str | None = None,
    surname: str | None = None,
    email: str | None = None,
    secondary_email: str | None = None,
    teaching: bool | None = None,
    role_text: str | None = None,
    staff_code: str | None = None,
    date_of_leaving: date | None = None,
    upn: str | None = None,
    upn_column: str | None = None,
    uln: str | None = None,
    dob: date | None = None,
    gender: str | None = None,
    dob_file: str | None = None,
    dob_row: int | None = None,
    preferred_forename: str | None = None,
) -> tuple[Any, ...]:
    """A row for staging.PEOPLE, in staging.PEOPLE_COPY order."""
    return (
        row_no,
        file,
        sid,
        None,
        kind,
        role,
        username,
        title,
        forename,
        surname,
        email,
        secondary_email,
        None,
        teaching,
        role_text,
        staff_code,
        date_of_leaving,
        upn,
        upn_column,
        uln,
        dob,
        gender,
        dob_file,
        dob_row,
        [],
        True,
        preferred_forename,
    )

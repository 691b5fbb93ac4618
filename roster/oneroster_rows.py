"""The rows of a OneRoster package's files, checked and shaped for the staging tables (roster/staging.py).

One generator per file, each yielding tuples in the column order its :class:`~roster.reading.Load` names.
A row with an error is reported and not staged; rows of another school's org are skipped and counted
(:meth:`OneRosterReader.in_school`). users.csv and enrollments.csv are the large files: their loops read
fields by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from common.identifiers import IdentifierError, validate_uln, validate_upn
from people.validation import is_phone_number
from roster.csvio import Table, read_rows
from roster.oneroster_spec import (
    CLASS_TYPES,
    ENROLLMENT_ROLES,
    GENDER,
    GROUP_TYPE,
    KIND_OF_ROLE,
    ROLE_TYPES,
    SESSION_TYPES,
    SEXES,
    TERM_TYPE,
    UPN_SHAPE,
    USER_ROLES_11,
    USER_ROLES_12,
)
from roster.problems import ProblemLog
from roster.values import Values, split_list, user_ids

if TYPE_CHECKING:
    from roster.oneroster import OneRosterReader

USER_COLUMNS = (
    "sourcedId", "orgSourcedIds", "role", "status", "dateLastModified", "enabledUser", "givenName",
    "familyName", "preferredGivenName", "preferredFamilyName", "username", "email", "phone", "sms",
    "password", "userIds", "identifier", "agentSourcedIds",
)  # fmt: skip
"""The users.csv columns the reader uses (of 1.1 or 1.2), in the order its loop unpacks their positions."""


def phone_or_none(value: str) -> str | None:
    """A phone number as typed when it is one (as the admin's forms accept: at most 40 characters, 7 to 15
    digits), else None."""
    if not value or len(value) > 40 or not is_phone_number(value):
        return None
    return value


def users(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """users.csv: people of this school. In 1.1 the row's org and role say whose and what they are; in 1.2
    roles.csv does (roster/matching.py), so kind and role stay empty here.

    Longer than a function should be, on purpose: one loop over the largest file with its columns'
    positions in local variables (reading them from a dict per field cost about 5% of this file's parse)."""
    file = "users.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    v12 = reader.version == "1.2"
    roles = USER_ROLES_12 if v12 else USER_ROLES_11
    # The hot loop (the largest file but one) reads fields by position, from local variables, out of a
    # stripped copy of the row; a column the version does not have reads the "" appended at ``width``.
    width = table.width
    (
        i_sid, i_orgs, i_role, i_status, i_modified, i_enabled, i_given, i_family, i_pgiven, i_pfamily,
        i_username, i_email, i_phone, i_sms, i_password, i_ids, i_identifier, i_agents,
    ) = (table.index.get(c, width) for c in USER_COLUMNS)  # fmt: skip
    padding = [""] * (width + 1)
    for row_no, raw in read_rows(reader.package, table, log):
        row = [v.strip() for v in raw]
        row += padding[len(row) :]
        errors = log.errors
        sid = row[i_sid]
        values.required(row_no, "sourcedId", sid)
        kind = role = None
        in_school: bool | None = None
        if not v12:
            if not values.required(row_no, "orgSourcedIds", row[i_orgs]):
                continue
            if not reader.in_school(split_list(row[i_orgs]), file, row_no, "orgSourcedIds"):
                continue
            in_school = True
            if values.required(row_no, "role", row[i_role]):
                role = values.enum(row_no, "role", row[i_role], roles)
                kind = KIND_OF_ROLE.get(role or "")
        status = reader.status(values, table, row_no, raw, file) if row[i_status] else None
        values.timestamp(row_no, "dateLastModified", row[i_modified])
        if row[i_enabled] not in ("true", "false"):
            values.boolean(row_no, "enabledUser", row[i_enabled])
        forename, surname = row[i_given], row[i_family]
        # The legal names are givenName and familyName; the preferred given name is kept beside them (shown
        # where names are displayed, never exported in their place). One that cannot be a name is a warning.
        # preferredFamilyName has no place in schoolgraph: it is checked the same way and not kept.
        preferred = None
        if v12:
            preferred = values.text(row_no, "preferredGivenName", row[i_pgiven], 100, optional=True)
            values.text(row_no, "preferredFamilyName", row[i_pfamily], 100, optional=True)
        if values.required(row_no, "givenName", forename):
            forename = values.text(row_no, "givenName", forename, 100) or ""
        if values.required(row_no, "familyName", surname):
            surname = values.text(row_no, "familyName", surname, 100) or ""
        username = values.username(row_no, "username", row[i_username])
        email = values.email(row_no, "email", row[i_email]) if row[i_email] else None
        phone = _phone(log, row_no, row[i_phone], row[i_sms]) if row[i_phone] or row[i_sms] else None
        if row[i_password]:
            reader.password_seen(file, row_no)
        ids = user_ids(row[i_ids]) if row[i_ids] else {}
        upn, upn_column = _upn(log, row_no, ids, row[i_identifier], kind)
        uln = _uln(log, row_no, ids["ULN"]) if "ULN" in ids else None
        if log.errors != errors:
            continue
        teaching = True if role == "teacher" else (False if kind == "STAFF" else None)
        yield (
            row_no, file, sid, status, kind, role, username, None, forename, surname, email, None,
            phone, teaching, None, None, None, upn, upn_column, uln, None, None, None, None,
            split_list(row[i_agents]), in_school, preferred,
        )  # fmt: skip


def _phone(log: ProblemLog, row_no: int, phone: str, sms: str) -> str | None:
    """phone, else sms, when it is a phone number; otherwise a warning and None."""
    number = phone or sms
    if phone_or_none(number) is None:
        log.warning(
            "PHONE_IGNORED",
            "The phone number is not 7 to 15 digits and is not kept.",
            file="users.csv",
            row=row_no,
            column="phone" if phone else "sms",
        )
        return None
    return number


def _uln(log: ProblemLog, row_no: int, value: str) -> str | None:
    try:
        return validate_uln(value)
    except IdentifierError as error:
        log.error(error.code, f"{error.message}.", file="users.csv", row=row_no, column="userIds")
        return None


def _upn(
    log: ProblemLog, row_no: int, ids: dict[str, str], identifier: str, kind: str | None
) -> tuple[str | None, str | None]:
    """The UPN: a ``{UPN:...}`` user id (an error when it is not a valid UPN), or an identifier shaped like
    one (pupils only). ``identifier`` is free text that often holds a UPN: one whose check letter is wrong
    is a warning, and the pupil is imported without it (UPN_MISSING says what that means)."""
    if kind not in (None, "PUPIL"):
        return None, None
    if "UPN" in ids:
        value, column = ids["UPN"], "userIds"
    elif UPN_SHAPE.match(identifier):
        value, column = identifier, "identifier"
    else:
        return None, None
    try:
        return validate_upn(value), column
    except IdentifierError as error:
        if column == "identifier":
            log.warning(
                "IDENTIFIER_NOT_UPN",
                f"identifier {value!r} is shaped like a UPN but is not one ({error.message}): it is not "
                "kept as the pupil's UPN.",
                file="users.csv",
                row=row_no,
                column=column,
            )
        else:
            log.error(error.code, f"{error.message}.", file="users.csv", row=row_no, column=column)
        return None, None


def roles(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """roles.csv (1.2): each user's roles at this school's orgs."""
    file = "roles.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        sid = table.get(row, "sourcedId")
        values.required(row_no, "sourcedId", sid)
        org = table.get(row, "orgSourcedId")
        if not values.required(row_no, "orgSourcedId", org) or not reader.in_school(
            [org], file, row_no, "orgSourcedId"
        ):
            continue
        status = reader.status(values, table, row_no, row, file)
        user = table.get(row, "userSourcedId")
        values.required(row_no, "userSourcedId", user)
        role_type = values.enum(row_no, "roleType", table.get(row, "roleType"), ROLE_TYPES)
        role = values.enum(row_no, "role", table.get(row, "role"), USER_ROLES_12)
        values.required(row_no, "role", table.get(row, "role"))
        for column in ("beginDate", "endDate"):
            values.day(row_no, column, table.get(row, column))
        if log.errors == errors:
            yield (row_no, sid, status, user, role_type, role, org)


def demographics(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """demographics.csv: dates of birth and sexes."""
    file = "demographics.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        sid = table.get(row, "sourcedId")
        values.required(row_no, "sourcedId", sid)
        status = reader.status(values, table, row_no, row, file)
        born = values.day(row_no, "birthDate", table.get(row, "birthDate"))
        sex = values.enum(row_no, "sex", table.get(row, "sex"), SEXES)
        if log.errors == errors:
            yield (row_no, sid, status, born, GENDER.get(sex or ""))


def classes(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """classes.csv: this school's classes (homeroom: registration groups)."""
    file = "classes.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        school = table.get(row, "schoolSourcedId")
        if not values.required(row_no, "schoolSourcedId", school) or not reader.in_school(
            [school], file, row_no, "schoolSourcedId"
        ):
            continue
        sid, status = _identity(reader, values, table, row_no, row, file)
        title = table.get(row, "title")
        if values.required(row_no, "title", title):
            title = values.text(row_no, "title", title, 100) or ""
        kind = None
        if values.required(row_no, "classType", table.get(row, "classType")):
            kind = values.enum(row_no, "classType", table.get(row, "classType"), CLASS_TYPES)
        subject = _subject(log, row_no, table.get(row, "subjects"))
        _check_course(reader, row_no, table.get(row, "courseSourcedId"))
        if log.errors == errors:
            term_ids = split_list(table.get(row, "termSourcedIds"))
            yield (row_no, file, sid, status, title, GROUP_TYPE.get(kind or ""), None, subject, term_ids)


def _identity(
    reader: OneRosterReader, values: Values, table: Table, row_no: int, row: list[str], file: str
) -> tuple[str, str | None]:
    """A row's ``sourcedId`` (required), its status and its ``dateLastModified`` checked, in that order."""
    sid = table.get(row, "sourcedId")
    values.required(row_no, "sourcedId", sid)
    status = reader.status(values, table, row_no, row, file)
    values.timestamp(row_no, "dateLastModified", table.get(row, "dateLastModified"))
    return sid, status


def _subject(log: ProblemLog, row_no: int, subjects: str) -> str | None:
    """The class's subjects as one text, cut to its first 100 characters (with a warning)."""
    subject = ", ".join(split_list(subjects)) or None
    if subject and len(subject) > 100:
        log.warning(
            "TRUNCATED",
            "subjects is longer than 100 characters: only its first 100 are kept.",
            file="classes.csv",
            row=row_no,
            column="subjects",
        )
        subject = subject[:100]
    return subject


def _check_course(reader: OneRosterReader, row_no: int, course: str) -> None:
    """A class's course is only checked against courses.csv (schoolgraph does not keep courses)."""
    if not course:
        return
    if reader.course_ids is None:
        reader.log.warning_once(
            "COURSES_ABSENT",
            "Classes name courses but the package has no courses.csv: the course references are not "
            "checked (schoolgraph does not keep courses).",
            file="classes.csv",
            row=row_no,
            column="courseSourcedId",
            key="absent",
        )
    elif course not in reader.course_ids:
        reader.log.warning(
            "UNKNOWN_COURSE",
            f"Course {course!r} is not in courses.csv.",
            file="classes.csv",
            row=row_no,
            column="courseSourcedId",
        )


def sessions(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """academicSessions.csv: terms."""
    file = "academicSessions.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    for row_no, row in read_rows(reader.package, table, log):
        errors = log.errors
        sid, status = _identity(reader, values, table, row_no, row, file)
        title = table.get(row, "title")
        if values.required(row_no, "title", title):
            title = values.text(row_no, "title", title, 200) or ""
        kind = None
        if values.required(row_no, "type", table.get(row, "type")):
            kind = values.enum(row_no, "type", table.get(row, "type"), SESSION_TYPES)
        start, end = _dates(values, table, row_no, row)
        year = values.integer(row_no, "schoolYear", table.get(row, "schoolYear"), 1900, 2200)
        if log.errors == errors:
            parent = table.get(row, "parentSourcedId") or None
            yield (row_no, sid, status, title, TERM_TYPE.get(kind or ""), start, end, parent, year)


def _dates(values: Values, table: Table, row_no: int, row: list[str]) -> tuple[Any, Any]:
    """A session's start and end dates, both required, the end not before the start."""
    start = end = None
    if values.required(row_no, "startDate", table.get(row, "startDate")):
        start = values.day(row_no, "startDate", table.get(row, "startDate"))
    if values.required(row_no, "endDate", table.get(row, "endDate")):
        end = values.day(row_no, "endDate", table.get(row, "endDate"))
    if start and end and end < start:
        values.log.error(
            "INVALID_DATE",
            f"endDate {end} is before startDate {start}.",
            file=values.file,
            row=row_no,
            column="endDate",
        )
    return start, end


def enrollments(reader: OneRosterReader) -> Iterator[tuple[Any, ...]]:
    """enrollments.csv: who is in and who teaches each class of this school."""
    file = "enrollments.csv"
    table, log = reader.tables[file], reader.log
    values = Values(log, file)
    ix = table.index
    i_sid, i_class, i_school, i_user, i_role = (
        ix["sourcedId"],
        ix["classSourcedId"],
        ix["schoolSourcedId"],
        ix["userSourcedId"],
        ix["role"],
    )
    i_status = ix.get("status")
    optional = [(c, ix[c]) for c in ("dateLastModified", "primary", "beginDate", "endDate") if c in ix]
    school_orgs = reader.school_orgs
    for row_no, row in read_rows(reader.package, table, log):
        school = row[i_school].strip()
        if school not in school_orgs and (
            not values.required(row_no, "schoolSourcedId", school)
            or not reader.in_school([school], file, row_no, "schoolSourcedId")
        ):
            continue
        errors = log.errors
        sid, klass, user = row[i_sid].strip(), row[i_class].strip(), row[i_user].strip()
        if not (sid and klass and user):
            values.required(row_no, "sourcedId", sid)
            values.required(row_no, "classSourcedId", klass)
            values.required(row_no, "userSourcedId", user)
        status = row[i_status].strip() if i_status is not None else ""
        if status:
            status = reader.status(values, table, row_no, row, file) or ""
        role = row[i_role].strip()
        if role not in ("student", "teacher"):
            values.required(row_no, "role", role)
            role = values.enum(row_no, "role", role, ENROLLMENT_ROLES) or ""
        for column, i in optional:
            value = row[i].strip() if i < len(row) else ""
            if value:
                if column == "primary":
                    values.boolean(row_no, column, value)
                elif column == "dateLastModified":
                    values.timestamp(row_no, column, value)
                else:
                    values.day(row_no, column, value)
        if log.errors == errors:
            yield (row_no, file, sid, status or None, klass, user, role)

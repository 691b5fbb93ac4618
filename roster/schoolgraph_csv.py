"""schoolgraph's own CSV layout for the Schedule 1 data (LL-S1): docs/roster-csv.md, docs/templates/.

Files (a zip or a folder): ``school.csv`` (which school: its URN or its address slug), ``pupils.csv``,
``staff.csv``, ``groups.csv``, ``memberships.csv`` and the optional ``extended.csv`` (LEA care, SEN status,
pupil premium, EAL; kept only when the school has opted in, LL-A 3.2). Every file but school.csv may be
left out; a file present is a full snapshot in bulk mode (the default): pupils, staff and groups missing
from it are deactivated. In delta mode nothing is deactivated (the layout has no status column; record a
leaver with staff ``date_of_leaving`` or in schoolgraph itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auth.parent_codes import username_problem
from common.identifiers import IdentifierError, validate_email, validate_uln, validate_upn
from roster import staging
from roster.csvio import Table, TableSpec, Values, read_header_only, read_rows
from roster.package import Package
from roster.problems import ProblemLog
from roster.reading import ABSENT, BULK, DELTA, Load, Modes, SchoolRef

SPECS = {
    "school.csv": TableSpec(
        "school.csv", ("urn", "slug", "name"), optional_columns=frozenset({"urn", "slug", "name"})
    ),
    "pupils.csv": TableSpec(
        "pupils.csv",
        ("pupil_id", "upn", "uln", "forename", "surname", "date_of_birth", "gender", "email", "username"),
        required=frozenset({"pupil_id", "upn", "forename", "surname", "date_of_birth", "gender"}),
        optional_columns=frozenset({"uln", "email", "username"}),
    ),
    "staff.csv": TableSpec(
        "staff.csv",
        (
            "staff_id",
            "title",
            "forename",
            "surname",
            "work_email",
            "secondary_email",
            "teaching",
            "role_text",
            "staff_code",
            "date_of_leaving",
            "username",
        ),
        required=frozenset({"staff_id", "forename", "surname", "work_email", "teaching"}),
        optional_columns=frozenset(
            {"title", "secondary_email", "role_text", "staff_code", "date_of_leaving", "username"}
        ),
    ),
    "groups.csv": TableSpec(
        "groups.csv",
        ("group_id", "name", "type", "year_group", "subject"),
        required=frozenset({"group_id", "name", "type"}),
        optional_columns=frozenset({"year_group", "subject"}),
    ),
    "memberships.csv": TableSpec(
        "memberships.csv",
        ("group_id", "person_id", "role"),
        required=frozenset({"group_id", "person_id", "role"}),
    ),
    "extended.csv": TableSpec(
        "extended.csv",
        ("pupil_id", "lea_care", "sen_status", "pupil_premium", "eal"),
        required=frozenset({"pupil_id"}),
        optional_columns=frozenset({"lea_care", "sen_status", "pupil_premium", "eal"}),
    ),
}
FILES = tuple(SPECS)

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


class SchoolgraphReader:
    """Reads a package in schoolgraph's own CSV layout for one school."""

    format = "SCHOOLGRAPH_CSV"
    roles_from_roles_file = False

    def __init__(self, package: Package, log: ProblemLog, school: SchoolRef, mode: str = "auto") -> None:
        self.package, self.log, self.school = package, log, school
        self.mode = DELTA if mode == DELTA else BULK
        self.modes = Modes()
        self.tables: dict[str, Table] = {}
        self.skipped_other_schools = 0

    def prepare(self) -> bool:
        log = self.log
        present = set(self.package.files)
        lower = {name.lower(): name for name in FILES}
        for name in sorted(present):
            right = lower.get(name.lower())
            if right is None:
                log.warning(
                    "UNKNOWN_FILE", f"{name} is not a schoolgraph roster file and is ignored.", file=name
                )
            elif right != name:
                log.error("FILE_NAME_CASE", f"{name} must be named {right}.", file=name, expected=right)
        if "school.csv" not in present:
            log.error(
                "MISSING_FILE",
                "school.csv is missing: it names the school the files are for (its URN or address).",
                file="school.csv",
                expected="school.csv",
            )
        for name in FILES:
            if name in present:
                table = read_header_only(self.package, SPECS[name], log)
                if table is not None:
                    self.tables[name] = table
        if log.errors:
            return False
        self._check_school()
        mode = self.mode
        people = self.modes.people
        people["PUPIL"] = mode if "pupils.csv" in self.tables else ABSENT
        people["STAFF"] = mode if "staff.csv" in self.tables else ABSENT
        self.modes.groups = mode if "groups.csv" in self.tables else ABSENT
        self.modes.enrollments = mode if "memberships.csv" in self.tables else ABSENT
        self.modes.extended = mode if "extended.csv" in self.tables else ABSENT
        return not log.errors

    def _check_school(self) -> None:
        log, table, school = self.log, self.tables["school.csv"], self.school
        rows = list(read_rows(self.package, table, log))
        if len(rows) != 1:
            log.error(
                "INVALID_VALUE",
                f"school.csv must have exactly one row (it has {len(rows)}).",
                file="school.csv",
            )
            return
        row_no, row = rows[0]
        urn, slug = table.get(row, "urn"), table.get(row, "slug")
        if not urn and not slug:
            log.error(
                "REQUIRED",
                "Give the school's URN or its address slug.",
                file="school.csv",
                row=row_no,
                column="urn",
            )
        if urn and urn != school.urn:
            log.error(
                "NOT_THIS_SCHOOL",
                f"The files are for the school with URN {urn}, not this one.",
                file="school.csv",
                row=row_no,
                column="urn",
            )
        if slug and slug != school.slug:
            log.error(
                "NOT_THIS_SCHOOL",
                f"The files are for the school at /schools/{slug}, not this one.",
                file="school.csv",
                row=row_no,
                column="slug",
            )

    def loads(self) -> list[Load]:
        loads = []
        people = []
        if "pupils.csv" in self.tables:
            people.append(self._pupils())
        if "staff.csv" in self.tables:
            people.append(self._staff())
        if people:
            loads.append(
                Load(
                    staging.PEOPLE,
                    staging.PEOPLE_COPY,
                    staging.batched(_chain(people)),
                    "pupils.csv, staff.csv",
                )
            )
        if "groups.csv" in self.tables:
            columns = [
                "row_no",
                "file",
                "sourced_id",
                "status",
                "name",
                "type",
                "year_group",
                "subject",
                "term_ids",
            ]
            loads.append(Load(staging.GROUPS, columns, staging.batched(self._groups()), "groups.csv"))
        if "memberships.csv" in self.tables:
            columns = ["row_no", "file", "sourced_id", "status", "group_sid", "person_sid", "role"]
            loads.append(
                Load(staging.ENROLLMENTS, columns, staging.batched(self._memberships()), "memberships.csv")
            )
        if "extended.csv" in self.tables:
            columns = ["row_no", "pupil_sid", "lea_care", "sen_status", "pupil_premium", "eal"]
            loads.append(Load(staging.EXTENDED, columns, staging.batched(self._extended()), "extended.csv"))
        return loads

    def _username(self, file: str, row_no: int, value: str) -> str | None:
        if not value:
            return None
        if username_problem(value) is not None:
            self.log.warning(
                "INVALID_USERNAME",
                f"{value!r} cannot be a username (3 to 64 letters, digits, '.', '_', '-', '@'): no account "
                "is created.",
                file=file,
                row=row_no,
                column="username",
            )
            return None
        return value

    def _email(self, values: Values, row_no: int, column: str, value: str) -> str | None:
        if not value:
            return None
        try:
            return validate_email(value)
        except IdentifierError as error:
            self.log.error(error.code, f"{error.message}.", file=values.file, row=row_no, column=column)
            return None

    def _yes_no(self, values: Values, row_no: int, column: str, value: str) -> bool | None:
        if not value:
            return None
        answer = YES_NO.get(value.lower())
        if answer is None:
            self.log.error(
                "INVALID_VALUE", f"{value!r} is not Y or N.", file=values.file, row=row_no, column=column
            )
        return answer

    def _pupils(self) -> Iterator[tuple[Any, ...]]:
        file = "pupils.csv"
        table, log = self.tables[file], self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
            errors = log.errors
            raw_id = table.get(row, "pupil_id")
            values.required(row_no, "pupil_id", raw_id)
            sid = values.text(row_no, "pupil_id", raw_id, 255)
            upn = uln = None
            if values.required(row_no, "upn", table.get(row, "upn")):
                try:
                    upn = validate_upn(table.get(row, "upn"))
                except IdentifierError as error:
                    log.error(error.code, f"{error.message}.", file=file, row=row_no, column="upn")
            try:
                uln = validate_uln(table.get(row, "uln"))
            except IdentifierError as error:
                log.error(error.code, f"{error.message}.", file=file, row=row_no, column="uln")
            names = []
            for column in ("forename", "surname"):
                value = table.get(row, column)
                values.required(row_no, column, value)
                names.append(values.text(row_no, column, value, 100))
            born = None
            if values.required(row_no, "date_of_birth", table.get(row, "date_of_birth")):
                born = values.day(row_no, "date_of_birth", table.get(row, "date_of_birth"))
            gender = None
            raw = table.get(row, "gender")
            if values.required(row_no, "gender", raw):
                gender = GENDERS.get(raw.lower())
                if gender is None:
                    log.error(
                        "INVALID_VALUE",
                        f"{raw!r} is not a gender (FEMALE or F, MALE or M, OTHER or O, NOT_KNOWN or U).",
                        file=file,
                        row=row_no,
                        column="gender",
                    )
            email = self._email(values, row_no, "email", table.get(row, "email"))
            username = self._username(file, row_no, table.get(row, "username"))
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
                )

    def _staff(self) -> Iterator[tuple[Any, ...]]:
        file = "staff.csv"
        table, log = self.tables[file], self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
            errors = log.errors
            raw_id = table.get(row, "staff_id")
            values.required(row_no, "staff_id", raw_id)
            sid = values.text(row_no, "staff_id", raw_id, 255)
            names = []
            for column in ("forename", "surname"):
                value = table.get(row, column)
                values.required(row_no, column, value)
                names.append(values.text(row_no, column, value, 100))
            values.required(row_no, "work_email", table.get(row, "work_email"))
            work = self._email(values, row_no, "work_email", table.get(row, "work_email"))
            second = self._email(values, row_no, "secondary_email", table.get(row, "secondary_email"))
            teaching = None
            if values.required(row_no, "teaching", table.get(row, "teaching")):
                teaching = self._yes_no(values, row_no, "teaching", table.get(row, "teaching"))
            leaving = values.day(row_no, "date_of_leaving", table.get(row, "date_of_leaving"))
            if log.errors == errors:
                yield _person(
                    row_no,
                    file,
                    sid,
                    "STAFF",
                    "teacher" if teaching else "administrator",
                    self._username(file, row_no, table.get(row, "username")),
                    title=values.text(row_no, "title", table.get(row, "title"), 20),
                    forename=names[0],
                    surname=names[1],
                    email=work,
                    secondary_email=second,
                    teaching=teaching,
                    role_text=values.text(row_no, "role_text", table.get(row, "role_text"), 100),
                    staff_code=values.text(row_no, "staff_code", table.get(row, "staff_code"), 20),
                    date_of_leaving=leaving,
                )

    def _groups(self) -> Iterator[tuple[Any, ...]]:
        file = "groups.csv"
        table, log = self.tables[file], self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
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

    def _memberships(self) -> Iterator[tuple[Any, ...]]:
        file = "memberships.csv"
        table, log = self.tables[file], self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
            errors = log.errors
            group, person = table.get(row, "group_id"), table.get(row, "person_id")
            values.required(row_no, "group_id", group)
            values.required(row_no, "person_id", person)
            role = values.enum(
                row_no, "role", table.get(row, "role"), {"pupil": "pupil", "teacher": "teacher"}
            )
            values.required(row_no, "role", table.get(row, "role"))
            if log.errors == errors:
                yield (row_no, file, f"{group}/{person}", None, group, person, MEMBER_ROLES[role or "pupil"])

    def _extended(self) -> Iterator[tuple[Any, ...]]:
        file = "extended.csv"
        table, log = self.tables[file], self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
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
            eal_raw = table.get(row, "eal")
            eal = YES_NO.get(eal_raw.lower()) if eal_raw else None
            if eal_raw and eal is None:
                code = eal_raw.upper()
                if code in ENGLISH:
                    eal = False
                elif code in UNKNOWN_LANGUAGE:
                    eal = None
                elif code.isalpha() and 3 <= len(code) <= 4:
                    eal = True
                else:
                    log.error(
                        "INVALID_VALUE",
                        f"{eal_raw!r} is neither Y/N nor a DfE first-language code (ENG, ENB, OTH, ...).",
                        file=file,
                        row=row_no,
                        column="eal",
                    )
            lea = self._yes_no(values, row_no, "lea_care", table.get(row, "lea_care"))
            premium = self._yes_no(values, row_no, "pupil_premium", table.get(row, "pupil_premium"))
            if log.errors == errors:
                yield (row_no, sid, lea, sen, premium, eal)

    def finish(self) -> None:
        pass


def _chain(iterators: list[Iterator[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
    for iterator in iterators:
        yield from iterator


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
    date_of_leaving: Any = None,
    upn: str | None = None,
    upn_column: str | None = None,
    uln: str | None = None,
    dob: Any = None,
    gender: str | None = None,
    dob_file: str | None = None,
    dob_row: int | None = None,
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
    )

"""schoolgraph's own CSV layout for the Schedule 1 data (LL-S1): docs/roster-csv.md, docs/templates/.

Files (a zip or a folder): ``school.csv`` (which school: its URN or its address slug), ``pupils.csv``,
``staff.csv``, ``groups.csv``, ``memberships.csv`` and the optional ``extended.csv`` (LEA care, SEN status,
pupil premium, EAL; kept only when the school has opted in, LL-A 3.2). Every file but school.csv may be
left out; a file present is a full snapshot in bulk mode (the default): pupils, staff and groups missing
from it are deactivated. In delta mode nothing is deactivated (the layout has no status column; record a
leaver with staff ``date_of_leaving`` or in schoolgraph itself).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from roster import schoolgraph_rows as rows
from roster import staging
from roster.csvio import Table, TableSpec, read_header_only, read_rows
from roster.package import Package
from roster.problems import ProblemLog
from roster.reading import ABSENT, BULK, DELTA, Load, Modes, SchoolRef

SPECS = {
    "school.csv": TableSpec(
        "school.csv", ("urn", "slug", "name"), optional_columns=frozenset({"urn", "slug", "name"})
    ),
    "pupils.csv": TableSpec(
        "pupils.csv",
        (
            "pupil_id",
            "upn",
            "uln",
            "forename",
            "surname",
            "date_of_birth",
            "gender",
            "email",
            "username",
            "preferred_forename",
        ),
        required=frozenset({"pupil_id", "upn", "forename", "surname", "date_of_birth", "gender"}),
        optional_columns=frozenset({"uln", "email", "username", "preferred_forename"}),
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
            "preferred_forename",
        ),
        required=frozenset({"staff_id", "forename", "surname", "work_email", "teaching"}),
        optional_columns=frozenset(
            {
                "title",
                "secondary_email",
                "role_text",
                "staff_code",
                "date_of_leaving",
                "username",
                "preferred_forename",
            }
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


class SchoolgraphReader:
    """Reads a package in schoolgraph's own CSV layout for one school."""

    format = "SCHOOLGRAPH_CSV"
    roles_from_roles_file = False
    org_to_record: str | None = None

    def __init__(
        self,
        package: Package,
        log: ProblemLog,
        school: SchoolRef,
        mode: str = "auto",
        *,
        strict: bool = False,
    ) -> None:
        self.package, self.log, self.school = package, log, school
        self.strict = strict
        """Whether a column the layout does not have refuses the package (else a warning)."""
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
                table = read_header_only(self.package, replace(SPECS[name], strict=self.strict), log)
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
            people.append(rows.pupils(self))
        if "staff.csv" in self.tables:
            people.append(rows.staff(self))
        if people:
            loads.append(
                Load(
                    staging.PEOPLE,
                    staging.PEOPLE_COPY,
                    staging.batched(itertools.chain.from_iterable(people)),
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
            loads.append(Load(staging.GROUPS, columns, staging.batched(rows.groups(self)), "groups.csv"))
        if "memberships.csv" in self.tables:
            columns = ["row_no", "file", "sourced_id", "status", "group_sid", "person_sid", "role"]
            loads.append(
                Load(staging.ENROLLMENTS, columns, staging.batched(rows.memberships(self)), "memberships.csv")
            )
        if "extended.csv" in self.tables:
            columns = ["row_no", "pupil_sid", "lea_care", "sen_status", "pupil_premium", "eal"]
            loads.append(
                Load(staging.EXTENDED, columns, staging.batched(rows.extended(self)), "extended.csv")
            )
        return loads

    def finish(self) -> None:
        pass

"""OneRoster 1.1 and 1.2 CSV packages: the manifest, file names, headers, orgs, and the rows to stage.

Mapping (docs/roster-csv.md has the full table): users with role ``student`` are pupils; ``teacher``,
``aide``, ``administrator`` (and the 1.2 administrative roles) are staff; ``parent``, ``guardian`` and
``relative`` are contacts, linked to the pupils named in ``agentSourcedIds``. Classes are groups
(``homeroom`` a registration group, ``scheduled`` a class); enrollments are group memberships (students)
and teaching assignments (teachers); academic sessions are terms. A pupil's UPN is the ``{UPN:...}`` entry
of ``userIds`` or an ``identifier`` shaped like a UPN; the ULN a ``{ULN:...}`` entry; date of birth and sex
come from demographics.csv. Passwords in users.csv and userProfiles.csv are never read, only reported.

The package must name this school: an org in orgs.csv whose ``sourcedId`` is the one a school admin set for
the school (``roster_sources``), or whose ``identifier`` is the school's URN. Rows of other orgs (a trust's
package holds all its schools) are skipped and counted; departments under the school's org belong to it.
An org matched by the URN while the school has none recorded is recorded by the import (``org_to_record``),
so that the MIS's deltas, which leave orgs.csv out, name the school too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from roster import oneroster_rows as rows
from roster import staging
from roster.csvio import Table, read_header_only, read_rows
from roster.oneroster_manifest import file_modes, read_manifest
from roster.oneroster_rows import phone_or_none
from roster.oneroster_spec import ORG_TYPES, SPECS_11, SPECS_12, STATUS, STATUS_ALIASES, table_spec
from roster.package import Package
from roster.problems import ProblemLog
from roster.reading import ABSENT, BULK, KINDS, Load, Modes, SchoolRef
from roster.values import Values, split_list

__all__ = ["SPECS_11", "SPECS_12", "OneRosterReader", "Org", "phone_or_none"]


ROLE_COLUMNS = ("row_no", "sourced_id", "status", "user_id", "role_type", "role", "org_id")
DEMOGRAPHIC_COLUMNS = ("row_no", "sourced_id", "status", "dob", "gender")
CLASS_COLUMNS = (
    "row_no",
    "file",
    "sourced_id",
    "status",
    "name",
    "type",
    "year_group",
    "subject",
    "term_ids",
)
SESSION_COLUMNS = (
    "row_no",
    "sourced_id",
    "status",
    "title",
    "type",
    "start_date",
    "end_date",
    "parent_id",
    "school_year",
)
ENROLLMENT_COLUMNS = ("row_no", "file", "sourced_id", "status", "group_sid", "person_sid", "role")
"""The staging columns each file's rows fill, in the order roster/oneroster_rows.py yields them."""


@dataclass
class Org:
    row: int
    sourced_id: str
    status: str | None
    name: str
    type: str | None
    identifier: str
    parent: str


class OneRosterReader:
    """Reads a OneRoster 1.1 or 1.2 CSV package (zip or folder) for one school."""

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
        self.package, self.log, self.school, self.mode_override = package, log, school, mode
        self.strict = strict
        """Whether a column the specification does not have refuses the package (else a warning)."""
        self.version = "1.1"
        self.format = "ONEROSTER_1_1"
        self.modes = Modes()
        self.file_modes: dict[str, str] = {}
        self.tables: dict[str, Table] = {}
        self.orgs: dict[str, Org] = {}
        self.school_orgs: set[str] = set()
        self.course_ids: set[str] | None = None
        self.skipped_other_schools = 0
        self.passwords: dict[str, tuple[int, int]] = {}
        """file -> (rows carrying a password, the first of them): never read, only reported."""
        self._unknown_orgs: set[str] = set()

    # --- preparing ---------------------------------------------------------------------------------------

    def prepare(self) -> bool:
        manifest, self.version = read_manifest(self.package, self.log)
        self.format = "ONEROSTER_1_2" if self.version == "1.2" else "ONEROSTER_1_1"
        self.roles_from_roles_file = self.version == "1.2"
        specs = SPECS_12 if self.version == "1.2" else SPECS_11
        self.file_modes = file_modes(
            self.package,
            self.log,
            manifest,
            specs,
            mode_override=self.mode_override,
            org_known=bool(self.school.org_sourced_id),
        )
        # Set before any refusal, so that the history records a refused delta as the delta it is.
        self._set_modes()
        for file, mode in self.file_modes.items():
            if mode == ABSENT or file not in self.package.files:
                continue
            spec = replace(table_spec(file, specs[file]), strict=self.strict)
            table = read_header_only(self.package, spec, self.log)
            if table is not None:
                self.tables[file] = table
        if self.log.errors:
            return False
        self._read_orgs()
        if "courses.csv" in self.tables:
            self.course_ids = self._course_ids()
        if "userProfiles.csv" in self.tables:
            self._scan_profiles()
        return not self.log.errors

    def _read_orgs(self) -> None:
        """orgs.csv, and which of its orgs are this school: its own org and the departments under it."""
        accepted = {self.school.own_org_id}
        if self.school.org_sourced_id:
            accepted.add(self.school.org_sourced_id)
        if "orgs.csv" not in self.tables:
            self.school_orgs = accepted
            return
        self.orgs = self._orgs()
        urn = self.school.urn
        roots = {
            o.sourced_id
            for o in self.orgs.values()
            if o.sourced_id in accepted or (urn and o.identifier == urn)
        }
        if not roots:
            names = ", ".join(f"{o.sourced_id} ({o.name})" for o in list(self.orgs.values())[:10])
            self.log.error(
                "NOT_THIS_SCHOOL",
                "No org in orgs.csv is this school: a school admin sets which org it is (setRosterOrg, or "
                f"`schoolgraph roster import --org`), or the org's identifier is the school's URN. Orgs: {names}.",
                file="orgs.csv",
                column="sourcedId",
            )
            return
        by_urn = [o for o in roots if o not in accepted]
        if not self.school.org_sourced_id and len(by_urn) == 1:
            self.org_to_record = by_urn[0]
        school_orgs = set(roots)
        changed = True
        while changed:
            changed = False
            for org in self.orgs.values():
                if org.parent in school_orgs and org.sourced_id not in school_orgs:
                    school_orgs.add(org.sourced_id)
                    changed = True
        self.school_orgs = school_orgs

    def _orgs(self) -> dict[str, Org]:
        """The rows of orgs.csv by sourcedId (a duplicate is an error, an unknown parent a warning)."""
        log, table = self.log, self.tables["orgs.csv"]
        values = Values(log, "orgs.csv")
        orgs: dict[str, Org] = {}
        for row_no, row in read_rows(self.package, table, log):
            sid = table.get(row, "sourcedId")
            if not values.required(row_no, "sourcedId", sid):
                continue
            org = Org(
                row=row_no,
                sourced_id=sid,
                status=self.status(values, table, row_no, row, "orgs.csv"),
                name=table.get(row, "name"),
                type=values.enum(row_no, "type", table.get(row, "type"), ORG_TYPES),
                identifier=table.get(row, "identifier"),
                parent=table.get(row, "parentSourcedId"),
            )
            values.required(row_no, "name", org.name)
            if sid in orgs:
                log.error(
                    "DUPLICATE_ID",
                    f"Org {sid!r} appears twice.",
                    file="orgs.csv",
                    row=row_no,
                    column="sourcedId",
                )
            orgs[sid] = org
        for org in orgs.values():
            if org.parent and org.parent not in orgs:
                log.warning(
                    "UNKNOWN_ORG",
                    f"Parent org {org.parent!r} is not defined in orgs.csv.",
                    file="orgs.csv",
                    row=org.row,
                    column="parentSourcedId",
                )
        return orgs

    def _course_ids(self) -> set[str]:
        table = self.tables["courses.csv"]
        return {table.get(row, "sourcedId") for _, row in read_rows(self.package, table, self.log)}

    def _scan_profiles(self) -> None:
        """userProfiles.csv (1.2) is not imported: only its passwords are counted, to be reported."""
        table = self.tables["userProfiles.csv"]
        for row_no, row in read_rows(self.package, table, self.log):
            if table.get(row, "password"):
                self.password_seen("userProfiles.csv", row_no)

    def _set_modes(self) -> None:
        people = self.file_modes.get("users.csv", ABSENT)
        self.modes.people = dict.fromkeys(KINDS, people)
        self.modes.groups = self.file_modes.get("classes.csv", ABSENT)
        self.modes.enrollments = self.file_modes.get("enrollments.csv", ABSENT)
        self.modes.terms = self.file_modes.get("academicSessions.csv", ABSENT)

    # --- rows (roster/oneroster_rows.py reads each file) ----------------------------------------------------

    def loads(self) -> list[Load]:
        files = (
            ("users.csv", staging.PEOPLE, staging.PEOPLE_COPY, rows.users),
            ("roles.csv", staging.ROLES, ROLE_COLUMNS, rows.roles),
            ("demographics.csv", staging.DEMOGRAPHICS, DEMOGRAPHIC_COLUMNS, rows.demographics),
            ("classes.csv", staging.GROUPS, CLASS_COLUMNS, rows.classes),
            ("academicSessions.csv", staging.TERMS, SESSION_COLUMNS, rows.sessions),
            ("enrollments.csv", staging.ENROLLMENTS, ENROLLMENT_COLUMNS, rows.enrollments),
        )
        return [
            Load(table, list(columns), staging.batched(read(self)), file)
            for file, table, columns, read in files
            if file in self.tables
        ]

    def status(self, values: Values, table: Table, row_no: int, row: list[str], file: str) -> str | None:
        """The row's status: None (active), "active" or "tobedeleted" (with warnings for bulk files and for
        the values some systems write instead)."""
        raw = table.get(row, "status")
        if not raw:
            return None
        if self.file_modes.get(file) == BULK:
            self.log.warning_once(
                "STATUS_IN_BULK",
                "status is filled in although the file is bulk: rows marked tobedeleted are treated as "
                "absent (their records are deactivated), the rest as active.",
                file=file,
                row=row_no,
                column="status",
                key="bulk",
            )
        alias = STATUS_ALIASES.get(raw.lower())
        if alias is not None:
            self.log.warning_once(
                "STATUS_READ_AS",
                f"status {raw!r} is not a OneRoster value (active, tobedeleted): read as {alias!r}.",
                file=file,
                row=row_no,
                column="status",
                key=raw,
            )
            return alias
        return values.enum(row_no, "status", raw, STATUS)

    def in_school(self, org_ids: list[str], file: str, row_no: int, column: str) -> bool:
        """Whether a row of one of these orgs is this school's; if not it is skipped and counted (and an org
        orgs.csv does not define is reported once)."""
        if any(o in self.school_orgs for o in org_ids):
            return True
        for org in org_ids:
            if self.orgs and org not in self.orgs and org not in self._unknown_orgs:
                self._unknown_orgs.add(org)
                self.log.warning(
                    "UNKNOWN_ORG",
                    f"Org {org!r} is not defined in orgs.csv: rows of it are skipped.",
                    file=file,
                    row=row_no,
                    column=column,
                )
        self.skipped_other_schools += 1
        return False

    def users_elsewhere(self, ids: set[str]) -> dict[str, str]:
        """Of ``ids``, the users users.csv has for other orgs than this school's: id -> their orgSourcedIds.
        A second pass over the file (its problems were reported by the first); 1.1 only, where a user's
        orgs are on its row."""
        table = self.tables.get("users.csv")
        if table is None or self.version != "1.1":
            return {}
        found: dict[str, str] = {}
        for _, row in read_rows(self.package, table, ProblemLog()):
            sid = table.get(row, "sourcedId")
            if sid in ids:
                orgs = table.get(row, "orgSourcedIds")
                if not any(o in self.school_orgs for o in split_list(orgs)):
                    found[sid] = orgs
        return found

    def password_seen(self, file: str, row_no: int) -> None:
        """A row carries a password: never read, only counted for :meth:`finish`'s warning."""
        count, first = self.passwords.get(file, (0, row_no))
        self.passwords[file] = (count + 1, first)

    def finish(self) -> None:
        for file, (count, first) in sorted(self.passwords.items()):
            self.log.warning(
                "PASSWORDS_IGNORED",
                f"{count} row(s) of {file} carry a password: schoolgraph never imports passwords; imported "
                "accounts are activated with a one-time code instead.",
                file=file,
                row=first,
                column="password",
            )

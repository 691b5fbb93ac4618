"""OneRoster 1.1 and 1.2 CSV packages: the manifest, file names, headers, orgs, and the rows to stage.

Mapping (docs/roster-csv.md has the full table): users with role ``student`` are pupils; ``teacher``,
``aide``, ``administrator`` (and the 1.2 administrative roles) are staff; ``parent``, ``guardian`` and
``relative`` are contacts, linked to the pupils named in ``agentSourcedIds``. Classes are groups
(``homeroom`` a registration group, ``scheduled`` a class); enrollments are group memberships (students)
and teaching assignments (teachers); academic sessions are terms. A pupil's UPN is the ``{UPN:...}`` entry
of ``userIds`` or an ``identifier`` shaped like a UPN; the ULN a ``{ULN:...}`` entry; date of birth and sex
come from demographics.csv. Passwords in users.csv are never read.

The package must name this school: an org in orgs.csv whose ``sourcedId`` is the one a school admin set for
the school (``roster_sources``), or whose ``identifier`` is the school's URN. Rows of other orgs (a trust's
package holds all its schools) are skipped and counted; departments under the school's org belong to it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auth.parent_codes import username_problem
from common.identifiers import IdentifierError, validate_email, validate_uln, validate_upn
from roster import staging
from roster.csvio import Table, TableSpec, Values, read_header_only, read_rows, split_list, user_ids
from roster.package import Package
from roster.problems import ProblemLog
from roster.reading import ABSENT, BULK, DELTA, KINDS, Load, Modes, SchoolRef

COMMON = ("sourcedId", "status", "dateLastModified")

SPECS_11: dict[str, tuple[str, ...]] = {
    "orgs.csv": (*COMMON, "name", "type", "identifier", "parentSourcedId"),
    "users.csv": (
        *COMMON,
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ),
    "classes.csv": (
        *COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "courses.csv": (
        *COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "enrollments.csv": (
        *COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
    "academicSessions.csv": (
        *COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "demographics.csv": (
        *COMMON,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
}
SPECS_12: dict[str, tuple[str, ...]] = {
    **SPECS_11,
    "users.csv": (
        *COMMON,
        "enabledUser",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
    ),
    "roles.csv": (
        *COMMON,
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ),
    "userProfiles.csv": (
        *COMMON,
        "userSourcedId",
        "profileType",
        "vendorId",
        "applicationId",
        "description",
        "credentialType",
        "username",
        "password",
    ),
}
REQUIRED: dict[str, frozenset[str]] = {
    "orgs.csv": frozenset({"sourcedId", "name", "type"}),
    "users.csv": frozenset({"sourcedId", "givenName", "familyName"}),
    "classes.csv": frozenset({"sourcedId", "title", "classType", "schoolSourcedId"}),
    "enrollments.csv": frozenset({"sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"}),
    "academicSessions.csv": frozenset({"sourcedId", "title", "type", "startDate", "endDate"}),
    "demographics.csv": frozenset({"sourcedId"}),
    "roles.csv": frozenset({"sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"}),
}
"""What schoolgraph needs on every row. OneRoster also requires courseSourcedId and termSourcedIds of a
class, which schoolgraph does not use: blank is accepted (docs/roster-csv.md)."""

# Files OneRoster defines that schoolgraph does not read; their headers are not checked.
IGNORED_FILES = {
    "categories.csv",
    "classResources.csv",
    "courseResources.csv",
    "lineItems.csv",
    "resources.csv",
    "results.csv",
    "userResources.csv",
    "scoreScales.csv",
    "lineItemLearningObjectiveIds.csv",
    "lineItemScoreScales.csv",
    "resultLearningObjectiveIds.csv",
    "resultScoreScales.csv",
}
MANIFEST_KEYS = {
    "manifest.version",
    "oneroster.version",
    "source.systemName",
    "source.systemCode",
    *(f"file.{name[:-4]}" for name in [*SPECS_12, *IGNORED_FILES]),
}


def _lower_map(*values: str) -> dict[str, str]:
    return {v.lower(): v for v in values}


STATUS = _lower_map("active", "tobedeleted")
STATUS_ALIASES = {"inactive": "tobedeleted", "deleted": "tobedeleted"}
ORG_TYPES = _lower_map("department", "school", "district", "local", "state", "national")
USER_ROLES_11 = _lower_map(
    "administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"
)
USER_ROLES_12 = _lower_map(
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
    "counselor",
    "districtAdministrator",
    "principal",
    "siteAdministrator",
    "systemAdministrator",
)
ROLE_TYPES = _lower_map("primary", "secondary")
ENROLLMENT_ROLES = _lower_map("administrator", "proctor", "student", "teacher", "aide", "guardian", "parent")
CLASS_TYPES = _lower_map("homeroom", "scheduled")
SESSION_TYPES = _lower_map("gradingPeriod", "semester", "schoolYear", "term")
SEXES = _lower_map("male", "female", "other", "unspecified")
MANIFEST_VALUES = _lower_map(ABSENT, BULK, DELTA)

KIND_OF_ROLE = {
    "student": "PUPIL",
    "teacher": "STAFF",
    "aide": "STAFF",
    "administrator": "STAFF",
    "proctor": "STAFF",
    "counselor": "STAFF",
    "districtAdministrator": "STAFF",
    "principal": "STAFF",
    "siteAdministrator": "STAFF",
    "systemAdministrator": "STAFF",
    "parent": "CONTACT",
    "guardian": "CONTACT",
    "relative": "CONTACT",
}
GROUP_TYPE = {"homeroom": "REGISTRATION", "scheduled": "SCHEDULED"}
"""SCHEDULED is staging's word for "any group but a registration group": a new one is a CLASS, an existing
YEAR, SUBJECT or CUSTOM group keeps its kind (OneRoster cannot say it, so an export and re-import keep it)."""
TERM_TYPE = {
    "schoolYear": "SCHOOL_YEAR",
    "semester": "SEMESTER",
    "term": "TERM",
    "gradingPeriod": "GRADING_PERIOD",
}
GENDER = {"female": "FEMALE", "male": "MALE", "other": "OTHER", "unspecified": "NOT_KNOWN"}
UPN_SHAPE = re.compile(r"^[A-Za-z][0-9]{11}[0-9A-Za-z]$")
PHONE_CHARACTERS = set("0123456789 -.()")


@dataclass
class Org:
    row: int
    sourced_id: str
    status: str | None
    name: str
    type: str | None
    identifier: str
    parent: str


def phone_or_none(value: str) -> str | None:
    """A phone number as typed when it is 7 to 15 digits (as people/service.py accepts), else None."""
    if not value or len(value) > 40:
        return None
    body = value[1:] if value.startswith("+") else value
    digits = sum(ch.isdigit() for ch in body)
    if not set(body) <= PHONE_CHARACTERS or not 7 <= digits <= 15:
        return None
    return value


class OneRosterReader:
    """Reads a OneRoster 1.1 or 1.2 CSV package (zip or folder) for one school."""

    roles_from_roles_file = False

    def __init__(self, package: Package, log: ProblemLog, school: SchoolRef, mode: str = "auto") -> None:
        self.package, self.log, self.school, self.mode_override = package, log, school, mode
        self.version = "1.1"
        self.format = "ONEROSTER_1_1"
        self.modes = Modes()
        self.file_modes: dict[str, str] = {}
        self.tables: dict[str, Table] = {}
        self.orgs: dict[str, Org] = {}
        self.school_orgs: set[str] = set()
        self.course_ids: set[str] | None = None
        self.skipped_other_schools = 0
        self.passwords = 0
        self._password_row: int | None = None
        self._unknown_orgs: set[str] = set()

    # --- preparing ---------------------------------------------------------------------------------------

    def prepare(self) -> bool:
        manifest = self._manifest()
        specs = SPECS_12 if self.version == "1.2" else SPECS_11
        self._check_files(manifest, specs)
        for file, mode in self.file_modes.items():
            if mode == ABSENT or file not in self.package.files:
                continue
            spec = TableSpec(file, specs[file], REQUIRED.get(file, frozenset()))
            table = read_header_only(self.package, spec, self.log)
            if table is not None:
                self.tables[file] = table
        if self.log.errors:
            return False
        self._read_orgs()
        if "courses.csv" in self.tables:
            self.course_ids = self._course_ids()
        self._set_modes()
        return not self.log.errors

    def _manifest(self) -> dict[str, str]:
        log = self.log
        if "manifest.csv" not in self.package.files:
            log.error(
                "MISSING_FILE",
                "manifest.csv is missing: a OneRoster package declares its version and files there.",
                file="manifest.csv",
                expected="manifest.csv",
            )
            return {}
        spec = TableSpec("manifest.csv", ("propertyName", "value"), frozenset({"propertyName"}))
        table = read_header_only(self.package, spec, log)
        if table is None:
            return {}
        values = Values(log, "manifest.csv")
        manifest: dict[str, str] = {}
        for row_no, row in read_rows(self.package, table, log):
            key, value = table.get(row, "propertyName"), table.get(row, "value")
            if key not in MANIFEST_KEYS:
                guess = difflib.get_close_matches(key, sorted(MANIFEST_KEYS), n=1, cutoff=0.8)
                if guess:
                    log.warning(
                        "UNKNOWN_MANIFEST_KEY",
                        f"{key!r} is not a manifest property: read as {guess[0]!r}.",
                        file="manifest.csv",
                        row=row_no,
                        column="propertyName",
                        expected=guess[0],
                    )
                    key = guess[0]
                else:
                    log.warning(
                        "UNKNOWN_MANIFEST_KEY",
                        f"{key!r} is not a manifest property and is ignored.",
                        file="manifest.csv",
                        row=row_no,
                        column="propertyName",
                    )
                    continue
            if key.startswith("file."):
                if not value:
                    log.warning(
                        "MANIFEST_VALUE_MISSING",
                        f"{key} has no value: read as absent.",
                        file="manifest.csv",
                        row=row_no,
                        column="value",
                    )
                    value = ABSENT
                else:
                    value = values.enum(row_no, "value", value, MANIFEST_VALUES) or ABSENT
            manifest[key] = value
        version = manifest.get("oneroster.version", "")
        if version in ("1.1", "1.0"):
            self.version = "1.1"
        elif version == "1.2":
            self.version = "1.2"
        elif not version:
            self.version = "1.2" if "roles.csv" in self.package.files else "1.1"
            log.warning(
                "MANIFEST_VALUE_MISSING",
                f"oneroster.version is missing: read as {self.version} from the files present.",
                file="manifest.csv",
                column="value",
            )
        else:
            log.error(
                "UNSUPPORTED_VERSION",
                f"OneRoster version {version!r} is not supported (1.1 or 1.2).",
                file="manifest.csv",
                column="value",
            )
        self.format = "ONEROSTER_1_2" if self.version == "1.2" else "ONEROSTER_1_1"
        self.roles_from_roles_file = self.version == "1.2"
        return manifest

    def _check_files(self, manifest: dict[str, str], specs: dict[str, tuple[str, ...]]) -> None:
        log = self.log
        present = set(self.package.files)
        known = {name.lower(): name for name in [*specs, *IGNORED_FILES, "manifest.csv"]}
        for name in sorted(present):
            right = known.get(name.lower())
            if right is None:
                log.warning("UNKNOWN_FILE", f"{name} is not a OneRoster file and is ignored.", file=name)
            elif right != name:
                log.error(
                    "FILE_NAME_CASE",
                    f"{name} must be named {right} (OneRoster file names are case-sensitive).",
                    file=name,
                    expected=right,
                )
                if right in specs:
                    # Check its header too, so the report says everything wrong with it at once.
                    spec = TableSpec(name, specs[right], REQUIRED.get(right, frozenset()))
                    read_header_only(self.package, spec, log)
        for file in specs:
            declared = manifest.get(f"file.{file[:-4]}", ABSENT)
            if self.mode_override in (BULK, DELTA) and declared != ABSENT:
                declared = self.mode_override
            if declared == ABSENT and file in present:
                log.warning(
                    "FILE_NOT_IN_MANIFEST",
                    f"{file} is present but the manifest says it is absent: it is ignored.",
                    file=file,
                )
            if declared != ABSENT and file not in present:
                if file.lower() not in {p.lower() for p in present}:
                    log.error(
                        "MISSING_FILE",
                        f"The manifest lists {file} as {declared} but the package has no such file.",
                        file=file,
                        expected=file,
                    )
                continue
            self.file_modes[file] = declared
        if self.file_modes.get("orgs.csv", ABSENT) == ABSENT and not self.school.org_sourced_id:
            log.error(
                "MISSING_FILE",
                "orgs.csv is needed to see that the package is this school's (or set this school's "
                "OneRoster org first).",
                file="orgs.csv",
                expected="orgs.csv",
            )

    def _read_orgs(self) -> None:
        log = self.log
        table = self.tables.get("orgs.csv")
        accepted = {self.school.own_org_id}
        if self.school.org_sourced_id:
            accepted.add(self.school.org_sourced_id)
        if table is None:
            self.school_orgs = accepted
            return
        values = Values(log, "orgs.csv")
        for row_no, row in read_rows(self.package, table, log):
            sid = table.get(row, "sourcedId")
            if not values.required(row_no, "sourcedId", sid):
                continue
            org = Org(
                row=row_no,
                sourced_id=sid,
                status=self._status(values, table, row_no, row, "orgs.csv"),
                name=table.get(row, "name"),
                type=values.enum(row_no, "type", table.get(row, "type"), ORG_TYPES),
                identifier=table.get(row, "identifier"),
                parent=table.get(row, "parentSourcedId"),
            )
            values.required(row_no, "name", org.name)
            if sid in self.orgs:
                log.error(
                    "DUPLICATE_ID",
                    f"Org {sid!r} appears twice.",
                    file="orgs.csv",
                    row=row_no,
                    column="sourcedId",
                )
            self.orgs[sid] = org
        for org in self.orgs.values():
            if org.parent and org.parent not in self.orgs:
                log.warning(
                    "UNKNOWN_ORG",
                    f"Parent org {org.parent!r} is not defined in orgs.csv.",
                    file="orgs.csv",
                    row=org.row,
                    column="parentSourcedId",
                )
        urn = self.school.urn
        roots = {
            o.sourced_id
            for o in self.orgs.values()
            if o.sourced_id in accepted or (urn and o.identifier == urn)
        }
        if not roots:
            names = ", ".join(f"{o.sourced_id} ({o.name})" for o in list(self.orgs.values())[:10])
            log.error(
                "NOT_THIS_SCHOOL",
                "No org in orgs.csv is this school: a school admin sets which org it is (setRosterOrg, or "
                f"`schoolgraph roster import --org`), or the org's identifier is the school's URN. Orgs: {names}.",
                file="orgs.csv",
                column="sourcedId",
            )
            return
        # The school's org and everything under it (departments).
        school_orgs = set(roots)
        changed = True
        while changed:
            changed = False
            for org in self.orgs.values():
                if org.parent in school_orgs and org.sourced_id not in school_orgs:
                    school_orgs.add(org.sourced_id)
                    changed = True
        self.school_orgs = school_orgs

    def _course_ids(self) -> set[str]:
        table = self.tables["courses.csv"]
        return {table.get(row, "sourcedId") for _, row in read_rows(self.package, table, self.log)}

    def _set_modes(self) -> None:
        people = self.file_modes.get("users.csv", ABSENT)
        self.modes.people = dict.fromkeys(KINDS, people)
        self.modes.groups = self.file_modes.get("classes.csv", ABSENT)
        self.modes.enrollments = self.file_modes.get("enrollments.csv", ABSENT)
        self.modes.terms = self.file_modes.get("academicSessions.csv", ABSENT)

    # --- rows ---------------------------------------------------------------------------------------------

    def _status(self, values: Values, table: Table, row_no: int, row: list[str], file: str) -> str | None:
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

    def loads(self) -> list[Load]:
        loads = []
        if "users.csv" in self.tables:
            loads.append(
                Load(staging.PEOPLE, staging.PEOPLE_COPY, staging.batched(self._users()), "users.csv")
            )
        if "roles.csv" in self.tables:
            columns = ["row_no", "sourced_id", "status", "user_id", "role_type", "role", "org_id"]
            loads.append(Load(staging.ROLES, columns, staging.batched(self._roles()), "roles.csv"))
        if "demographics.csv" in self.tables:
            columns = ["row_no", "sourced_id", "status", "dob", "gender"]
            loads.append(
                Load(staging.DEMOGRAPHICS, columns, staging.batched(self._demographics()), "demographics.csv")
            )
        if "classes.csv" in self.tables:
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
            loads.append(Load(staging.GROUPS, columns, staging.batched(self._classes()), "classes.csv"))
        if "academicSessions.csv" in self.tables:
            columns = [
                "row_no",
                "sourced_id",
                "status",
                "title",
                "type",
                "start_date",
                "end_date",
                "parent_id",
                "school_year",
            ]
            loads.append(
                Load(staging.TERMS, columns, staging.batched(self._sessions()), "academicSessions.csv")
            )
        if "enrollments.csv" in self.tables:
            columns = ["row_no", "file", "sourced_id", "status", "group_sid", "person_sid", "role"]
            loads.append(
                Load(staging.ENROLLMENTS, columns, staging.batched(self._enrollments()), "enrollments.csv")
            )
        return loads

    def _in_school(self, org_ids: list[str], file: str, row_no: int, column: str) -> bool:
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

    def _users(self) -> Iterator[tuple[Any, ...]]:
        file = "users.csv"
        table = self.tables[file]
        log = self.log
        values = Values(log, file)
        v12 = self.version == "1.2"
        roles = USER_ROLES_12 if v12 else USER_ROLES_11
        # The hot loop reads fields by position from a stripped copy of the row; a column the version does
        # not have reads the "" appended at position ``width``.
        width = table.width
        at = {c: table.index.get(c, width) for c in SPECS_12["users.csv"] + ("orgSourcedIds", "role")}
        i_sid, i_orgs, i_role, i_status = at["sourcedId"], at["orgSourcedIds"], at["role"], at["status"]
        i_modified, i_enabled, i_given, i_family = (
            at["dateLastModified"],
            at["enabledUser"],
            at["givenName"],
            at["familyName"],
        )
        i_pgiven, i_pfamily, i_username, i_email = (
            at["preferredGivenName"],
            at["preferredFamilyName"],
            at["username"],
            at["email"],
        )
        i_phone, i_sms, i_password, i_ids, i_identifier, i_agents = (
            at["phone"],
            at["sms"],
            at["password"],
            at["userIds"],
            at["identifier"],
            at["agentSourcedIds"],
        )
        padding = [""] * (width + 1)
        for row_no, raw in read_rows(self.package, table, log):
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
                if not self._in_school(split_list(row[i_orgs]), file, row_no, "orgSourcedIds"):
                    continue
                in_school = True
                if values.required(row_no, "role", row[i_role]):
                    role = values.enum(row_no, "role", row[i_role], roles)
                    kind = KIND_OF_ROLE.get(role or "")
            status = self._status(values, table, row_no, raw, file) if row[i_status] else None
            values.timestamp(row_no, "dateLastModified", row[i_modified])
            if row[i_enabled] not in ("true", "false"):
                values.boolean(row_no, "enabledUser", row[i_enabled])
            forename, surname = row[i_given], row[i_family]
            if v12:
                forename = row[i_pgiven] or forename
                surname = row[i_pfamily] or surname
            if values.required(row_no, "givenName", forename):
                forename = values.text(row_no, "givenName", forename, 100) or ""
            if values.required(row_no, "familyName", surname):
                surname = values.text(row_no, "familyName", surname, 100) or ""
            username = self._username(row_no, row[i_username])
            email = self._email(values, row_no, row[i_email]) if row[i_email] else None
            phone = row[i_phone] or row[i_sms]
            if phone and phone_or_none(phone) is None:
                log.warning(
                    "PHONE_IGNORED",
                    "The phone number is not 7 to 15 digits and is not kept.",
                    file=file,
                    row=row_no,
                    column="phone" if row[i_phone] else "sms",
                )
                phone = ""
            if row[i_password]:
                self.passwords += 1
                self._password_row = self._password_row or row_no
            ids = user_ids(row[i_ids]) if row[i_ids] else {}
            upn, upn_column = self._upn(log, file, row_no, ids, row[i_identifier], kind)
            uln = None
            if "ULN" in ids:
                try:
                    uln = validate_uln(ids["ULN"])
                except IdentifierError as error:
                    log.error(error.code, f"{error.message}.", file=file, row=row_no, column="userIds")
            if log.errors != errors:
                continue
            teaching = True if role == "teacher" else (False if kind == "STAFF" else None)
            yield (
                row_no, file, sid, status, kind, role, username, None, forename, surname, email, None,
                phone or None, teaching, None, None, None, upn, upn_column, uln, None, None, None, None,
                split_list(row[i_agents]), in_school,
            )  # fmt: skip

    def _username(self, row_no: int, value: str) -> str | None:
        """A username an account can have, else None (no account: a warning says why)."""
        if not value:
            return None
        if username_problem(value) is not None:
            self.log.warning(
                "INVALID_USERNAME",
                f"{value!r} cannot be a username (3 to 64 letters, digits, '.', '_', '-', '@'): no account "
                "is created.",
                file="users.csv",
                row=row_no,
                column="username",
            )
            return None
        return value

    @staticmethod
    def _email(values: Values, row_no: int, value: str) -> str | None:
        if not value:
            return None
        try:
            return validate_email(value)
        except IdentifierError as error:
            values.log.error(error.code, f"{error.message}.", file=values.file, row=row_no, column="email")
            return None

    @staticmethod
    def _upn(
        log: ProblemLog, file: str, row_no: int, ids: dict[str, str], identifier: str, kind: str | None
    ) -> tuple[str | None, str | None]:
        """The UPN: a ``{UPN:...}`` user id, or an identifier shaped like one (pupils only)."""
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
            log.error(error.code, f"{error.message}.", file=file, row=row_no, column=column)
            return None, None

    def _roles(self) -> Iterator[tuple[Any, ...]]:
        file = "roles.csv"
        table = self.tables[file]
        values = Values(self.log, file)
        for row_no, row in read_rows(self.package, table, self.log):
            errors = self.log.errors
            sid = table.get(row, "sourcedId")
            values.required(row_no, "sourcedId", sid)
            org = table.get(row, "orgSourcedId")
            if not values.required(row_no, "orgSourcedId", org) or not self._in_school(
                [org], file, row_no, "orgSourcedId"
            ):
                continue
            status = self._status(values, table, row_no, row, file)
            user = table.get(row, "userSourcedId")
            values.required(row_no, "userSourcedId", user)
            role_type = values.enum(row_no, "roleType", table.get(row, "roleType"), ROLE_TYPES)
            role = values.enum(row_no, "role", table.get(row, "role"), USER_ROLES_12)
            values.required(row_no, "role", table.get(row, "role"))
            for column in ("beginDate", "endDate"):
                values.day(row_no, column, table.get(row, column))
            if self.log.errors == errors:
                yield (row_no, sid, status, user, role_type, role, org)

    def _demographics(self) -> Iterator[tuple[Any, ...]]:
        file = "demographics.csv"
        table = self.tables[file]
        values = Values(self.log, file)
        for row_no, row in read_rows(self.package, table, self.log):
            errors = self.log.errors
            sid = table.get(row, "sourcedId")
            values.required(row_no, "sourcedId", sid)
            status = self._status(values, table, row_no, row, file)
            born = values.day(row_no, "birthDate", table.get(row, "birthDate"))
            sex = values.enum(row_no, "sex", table.get(row, "sex"), SEXES)
            if self.log.errors == errors:
                yield (row_no, sid, status, born, GENDER.get(sex or ""))

    def _classes(self) -> Iterator[tuple[Any, ...]]:
        file = "classes.csv"
        table = self.tables[file]
        log = self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
            errors = log.errors
            school = table.get(row, "schoolSourcedId")
            if not values.required(row_no, "schoolSourcedId", school) or not self._in_school(
                [school], file, row_no, "schoolSourcedId"
            ):
                continue
            sid = table.get(row, "sourcedId")
            values.required(row_no, "sourcedId", sid)
            status = self._status(values, table, row_no, row, file)
            values.timestamp(row_no, "dateLastModified", table.get(row, "dateLastModified"))
            title = table.get(row, "title")
            if values.required(row_no, "title", title):
                title = values.text(row_no, "title", title, 100) or ""
            kind = None
            if values.required(row_no, "classType", table.get(row, "classType")):
                kind = values.enum(row_no, "classType", table.get(row, "classType"), CLASS_TYPES)
            subject = ", ".join(split_list(table.get(row, "subjects"))) or None
            if subject and len(subject) > 100:
                log.warning(
                    "TRUNCATED",
                    "subjects is longer than 100 characters: only its first 100 are kept.",
                    file=file,
                    row=row_no,
                    column="subjects",
                )
                subject = subject[:100]
            course = table.get(row, "courseSourcedId")
            if course and self.course_ids is None:
                log.warning_once(
                    "COURSES_ABSENT",
                    "Classes name courses but the package has no courses.csv: the course references are not "
                    "checked (schoolgraph does not keep courses).",
                    file=file,
                    row=row_no,
                    column="courseSourcedId",
                    key="absent",
                )
            elif course and self.course_ids is not None and course not in self.course_ids:
                log.warning(
                    "UNKNOWN_COURSE",
                    f"Course {course!r} is not in courses.csv.",
                    file=file,
                    row=row_no,
                    column="courseSourcedId",
                )
            if log.errors == errors:
                yield (
                    row_no,
                    file,
                    sid,
                    status,
                    title,
                    GROUP_TYPE.get(kind or ""),
                    None,
                    subject,
                    split_list(table.get(row, "termSourcedIds")),
                )

    def _sessions(self) -> Iterator[tuple[Any, ...]]:
        file = "academicSessions.csv"
        table = self.tables[file]
        log = self.log
        values = Values(log, file)
        for row_no, row in read_rows(self.package, table, log):
            errors = log.errors
            sid = table.get(row, "sourcedId")
            values.required(row_no, "sourcedId", sid)
            status = self._status(values, table, row_no, row, file)
            values.timestamp(row_no, "dateLastModified", table.get(row, "dateLastModified"))
            title = table.get(row, "title")
            if values.required(row_no, "title", title):
                title = values.text(row_no, "title", title, 200) or ""
            kind = None
            if values.required(row_no, "type", table.get(row, "type")):
                kind = values.enum(row_no, "type", table.get(row, "type"), SESSION_TYPES)
            start = end = None
            if values.required(row_no, "startDate", table.get(row, "startDate")):
                start = values.day(row_no, "startDate", table.get(row, "startDate"))
            if values.required(row_no, "endDate", table.get(row, "endDate")):
                end = values.day(row_no, "endDate", table.get(row, "endDate"))
            if start and end and end < start:
                log.error(
                    "INVALID_DATE",
                    f"endDate {end} is before startDate {start}.",
                    file=file,
                    row=row_no,
                    column="endDate",
                )
            year = values.integer(row_no, "schoolYear", table.get(row, "schoolYear"), 1900, 2200)
            if log.errors == errors:
                yield (
                    row_no,
                    sid,
                    status,
                    title,
                    TERM_TYPE.get(kind or ""),
                    start,
                    end,
                    table.get(row, "parentSourcedId") or None,
                    year,
                )

    def _enrollments(self) -> Iterator[tuple[Any, ...]]:
        file = "enrollments.csv"
        table = self.tables[file]
        log = self.log
        values = Values(log, file)
        ix = table.index
        i_sid, i_status, i_class, i_school, i_user, i_role = (
            ix["sourcedId"],
            ix["status"],
            ix["classSourcedId"],
            ix["schoolSourcedId"],
            ix["userSourcedId"],
            ix["role"],
        )
        optional = [(c, ix[c]) for c in ("dateLastModified", "primary", "beginDate", "endDate")]
        school_orgs = self.school_orgs
        for row_no, row in read_rows(self.package, table, log):
            school = row[i_school].strip()
            if school not in school_orgs and (
                not values.required(row_no, "schoolSourcedId", school)
                or not self._in_school([school], file, row_no, "schoolSourcedId")
            ):
                continue
            errors = log.errors
            sid, klass, user = row[i_sid].strip(), row[i_class].strip(), row[i_user].strip()
            if not (sid and klass and user):
                values.required(row_no, "sourcedId", sid)
                values.required(row_no, "classSourcedId", klass)
                values.required(row_no, "userSourcedId", user)
            status = row[i_status].strip()
            if status:
                status = self._status(values, table, row_no, row, file) or ""
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

    def finish(self) -> None:
        if self.passwords:
            self.log.warning(
                "PASSWORDS_IGNORED",
                f"{self.passwords} row(s) carry a password: schoolgraph never imports passwords; imported "
                "accounts are activated with a one-time code instead.",
                file="users.csv",
                row=self._password_row,
                column="password",
            )

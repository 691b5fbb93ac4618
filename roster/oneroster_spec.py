"""What OneRoster 1.1 and 1.2 CSV packages hold, as schoolgraph reads them: files and their columns, the
columns every row needs, manifest properties, the values of enumerated columns, and how OneRoster's
vocabulary maps onto schoolgraph's (docs/roster-csv.md has the full table).
"""

from __future__ import annotations

import re

from roster.csvio import TableSpec
from roster.reading import ABSENT, BULK, DELTA

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
        "resourceSourcedIds",
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
HEADER_REQUIRED_11 = {"users.csv": frozenset({"orgSourcedIds", "role"})}
"""Columns a 1.1 header must have beside ``REQUIRED``: a 1.1 user's org and role are on its own row."""


def table_spec(file: str, columns: tuple[str, ...], *, name: str | None = None) -> TableSpec:
    """How a file's header is checked: the columns schoolgraph needs must be there; every other column of
    the specification may be left out (MIS exports often leave out ``primary``, ``beginDate``, ...), and a
    column the specification does not have (a vendor's ``admissionNumber``) is ignored with a warning.
    ``name``: the file's name as written, when it differs from ``file`` (reported in the wrong case)."""
    required = REQUIRED.get(file, frozenset())
    needed = required | (HEADER_REQUIRED_11.get(file, frozenset()) & set(columns))
    return TableSpec(name or file, columns, required, frozenset(columns) - needed)


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
STAFF_ROLES_11 = {
    "teacher": "teacher",
    "aide": "aide",
    "administrator": "administrator",
    "proctor": "proctor",
    "principal": "administrator",
    "siteAdministrator": "administrator",
    "districtAdministrator": "administrator",
    "systemAdministrator": "administrator",
    "counselor": "administrator",
}
"""A member of staff's stored role (models.people.STAFF_ROLES, as the MIS gave it) written in OneRoster 1.1's
vocabulary, which has no principal, no counselor and no administrators by level: they are ``administrator``.
An import that gives such a role as ``administrator`` (as the export writes it) keeps the stored one."""
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

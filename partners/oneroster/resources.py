"""The OneRoster 1.1 collections the provider serves, each declared once: the scope that opens it, its rows
as one SQL statement whose columns are named by the specification's fields (so ``filter`` and ``sort`` are
SQL), and how a row becomes the specification's JSON object.

The rows are the CSV export's (:mod:`roster.export`: the same statements, sourcedIds and vocabulary), so a
consumer sees the same roster through either door. Every column a filter or sort may name is text, in the
form the JSON shows it (dates ISO 8601), so comparisons mean what the consumer reads.

Persons pass through :func:`served_persons`, the one place that decides which persons a partner is served
(today: active ones, as the export; restriction of processing, issue 12, belongs there too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Text,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models import Group, Pupil, School
from models.roster import PupilExtendedData, Term
from partners.scopes import ROSTER_READ
from people.processing import visible_to_all
from roster.export import (
    ENROLLED,
    SEXES,
    TERM_TYPES,
    demographics_stmt,
    enrollment_id,
    enrollments_stmt,
    groups_stmt,
)
from roster.oneroster_spec import SPECS_11
from roster.reading import SchoolRef
from tenants.scoping import in_school


def served_persons(model: Any) -> ColumnElement[bool]:
    """THE place that decides which persons (pupils, staff, contacts) a partner is served: a predicate on
    ``model``'s rows, ANDed into every statement that returns persons or their enrolments and
    demographics. The export's statements already keep to active persons; this adds what applies to
    partners only: a person whose processing is restricted (LL-S2 (xiii)) is never served."""
    return visible_to_all(model, model.id)


def iso_timestamp(column: Any) -> Any:
    """A timestamp as OneRoster's dateLastModified text: UTC, milliseconds, ``Z``."""
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')


def _text(value: Any) -> Any:
    return cast(value, Text)


def _modified(model: Any) -> Any:
    return iso_timestamp(func.coalesce(model.updated_at, model.created_at))


ACTIVE = literal("active", Text)


REF_COLLECTIONS = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
    "user": "users",
}
"""The collection a GUIDRef of each type (``{href, sourcedId, type}``) points into: its ``href`` is
``<provider>/<collection>/<sourcedId>``, where a consumer following it finds the object. One table for both
renderers (:meth:`Context.ref`, and the person pages' SQL, ``partners.oneroster.users.json_ref``); a type
missing here fails at its first reference rather than serving a link that leads nowhere."""


@dataclass(frozen=True)
class Context:
    """What rendering needs: where the provider is (for hrefs), the school's org, what may be shown."""

    base: str
    org: str
    extended: bool = False
    """The pupils' extended data may be shown (the school opted in and the scope is approved)."""

    def ref(self, kind: str, sourced_id: str | None) -> dict[str, str] | None:
        if not sourced_id:
            return None
        return {
            "href": f"{self.base}/{REF_COLLECTIONS[kind]}/{sourced_id}",
            "sourcedId": sourced_id,
            "type": kind,
        }


@dataclass(frozen=True)
class Resource:
    """One collection: ``rows(school, extended)`` is its statement (every filterable field a column),
    ``render(row, context)`` one object of the specification."""

    collection: str
    singular: str
    scope: str
    filterable: tuple[str, ...]
    fields: tuple[str, ...]
    rows: Callable[[SchoolRef, bool], Select[Any]] | None
    """None for the person collections, whose pages :mod:`partners.oneroster.users` builds whole in SQL."""
    render: Callable[[Any, Context], dict[str, Any]] | None
    persons: str | None = None
    """``"pupil_id"`` when rows carry the pupil they are about (recorded for the pupil access report)."""
    description: str = ""


COMMON = ("sourcedId", "status", "dateLastModified")


# --- orgs -------------------------------------------------------------------------------------------------


def _orgs(school: SchoolRef, extended: bool) -> Select[Any]:
    stmt: Select[Any] = select(
        literal(school.org_sourced_id or school.own_org_id, Text).label("sourcedId"),
        ACTIVE.label("status"),
        iso_timestamp(School.created_at).label("dateLastModified"),
        col(School.name).label("name"),
        literal("school", Text).label("type"),
        func.coalesce(School.urn, "").label("identifier"),
    ).where(School.id == school.id)
    return stmt


def _org(row: Any, ctx: Context) -> dict[str, Any]:
    return {
        **_common(row),
        "name": row.name,
        "type": row.type,
        "identifier": row.identifier,
        "parent": None,
        "children": [],
    }


def _common(row: Any) -> dict[str, Any]:
    return {"sourcedId": row.sourcedId, "status": row.status, "dateLastModified": row.dateLastModified}


# --- academicSessions -------------------------------------------------------------------------------------


def _sessions(school: SchoolRef, extended: bool) -> Select[Any]:
    kind = case(*((Term.type == ours, theirs) for ours, theirs in TERM_TYPES.items()), else_=literal("term"))
    child = aliased(Term)
    children = (
        select(func.array_agg(child.source_id))
        .where(in_school(child, school.id), child.active, child.parent_source_id == Term.source_id)
        .scalar_subquery()
    )
    stmt: Select[Any] = select(
        col(Term.source_id).label("sourcedId"),
        ACTIVE.label("status"),
        _modified(Term).label("dateLastModified"),
        col(Term.title).label("title"),
        kind.label("type"),
        _text(Term.start_date).label("startDate"),
        _text(Term.end_date).label("endDate"),
        col(Term.parent_source_id).label("parentSourcedId"),
        children.label("children"),
        _text(Term.school_year).label("schoolYear"),
    ).where(in_school(Term, school.id), Term.active)
    return stmt


def _session(row: Any, ctx: Context) -> dict[str, Any]:
    return {
        **_common(row),
        "title": row.title,
        "type": row.type,
        "startDate": row.startDate,
        "endDate": row.endDate,
        "parent": ctx.ref("academicSession", row.parentSourcedId),
        "children": [ctx.ref("academicSession", c) for c in sorted(row.children or [])],
        "schoolYear": row.schoolYear,
    }


# --- courses and classes: one per active group, as the export -------------------------------------------


def _groups(school: SchoolRef) -> Any:
    """The export's groups, with each one's ``dateLastModified`` (its own row's: a course is its group's)."""
    return groups_stmt(school).add_columns(_modified(Group).label("modified")).order_by(None).subquery()


def _courses(school: SchoolRef, extended: bool) -> Select[Any]:
    g = _groups(school)
    return select(
        ("course-" + g.c.sid).label("sourcedId"),
        ACTIVE.label("status"),
        g.c.modified.label("dateLastModified"),
        g.c.name.label("title"),
        g.c.subject.label("subjects"),
    )


def _course(row: Any, ctx: Context) -> dict[str, Any]:
    return {
        **_common(row),
        "title": row.title,
        "schoolYear": None,
        "courseCode": "",
        "grades": [],
        "subjects": [row.subjects] if row.subjects else [],
        "org": ctx.ref("org", ctx.org),
    }


def _classes(school: SchoolRef, extended: bool) -> Select[Any]:
    g = _groups(school)
    return select(
        g.c.sid.label("sourcedId"),
        ACTIVE.label("status"),
        g.c.modified.label("dateLastModified"),
        g.c.name.label("title"),
        case((g.c.type == "REGISTRATION", "homeroom"), else_="scheduled").label("classType"),
        g.c.subject.label("subjects"),
        g.c.terms.label("terms"),
    )


def _class(row: Any, ctx: Context) -> dict[str, Any]:
    return {
        **_common(row),
        "title": row.title,
        "classCode": "",
        "classType": row.classType,
        "location": "",
        "grades": [],
        "subjects": [row.subjects] if row.subjects else [],
        "course": ctx.ref("course", f"course-{row.sourcedId}"),
        "school": ctx.ref("org", ctx.org),
        "terms": [ctx.ref("academicSession", t) for t in sorted(row.terms or [])],
        "periods": [],
    }


# --- users, students, teachers: built in SQL, page by page (partners/oneroster/users.py) ----------------


# --- enrollments ------------------------------------------------------------------------------------------


def _enrollments(school: SchoolRef, extended: bool) -> Select[Any]:
    parts = []
    for link, column, model, role in ENROLLED:
        e = (
            enrollments_stmt(school, link, column, model)
            .add_columns(iso_timestamp(link.created_at).label("modified"))  # a link is made or removed
            .where(served_persons(model))
            .order_by(None)
            .subquery()
        )
        parts.append(
            select(
                (e.c.gsid + ":" + e.c.psid + ":" + role[0]).label("sourcedId"),
                ACTIVE.label("status"),
                e.c.modified.label("dateLastModified"),
                literal(role, Text).label("role"),
                e.c.gsid.label("classSourcedId"),
                e.c.psid.label("userSourcedId"),
            )
        )
    return union_all(*parts).subquery().select()


assert enrollment_id("c", "u", "student") == "c:u:s"  # the sourcedId built in SQL above is the export's


def _enrollment(row: Any, ctx: Context) -> dict[str, Any]:
    return {
        **_common(row),
        "role": row.role,
        "primary": "false",
        "user": ctx.ref("user", row.userSourcedId),
        "class": ctx.ref("class", row.classSourcedId),
        "school": ctx.ref("org", ctx.org),
        "beginDate": None,
        "endDate": None,
    }


# --- demographics: the basics for roster.read; extended data only on opt-in and its scope ---------------


def _demographics(school: SchoolRef, extended: bool) -> Select[Any]:
    d = (
        demographics_stmt(school)
        .add_columns(col(Pupil.id).label("pupil_id"), _modified(Pupil).label("modified"))
        .where(served_persons(Pupil))
    )
    base = d.order_by(None).subquery()
    sex_case = case(*((base.c.gender == ours, theirs) for ours, theirs in SEXES.items()), else_=literal(""))
    columns: list[Any] = [
        base.c.sid.label("sourcedId"),
        ACTIVE.label("status"),
        base.c.modified.label("dateLastModified"),
        func.coalesce(_text(base.c.date_of_birth), "").label("birthDate"),
        sex_case.label("sex"),
        base.c.pupil_id.label("pupil_id"),
    ]
    stmt = select(*columns)
    if extended:
        x = PupilExtendedData
        stmt = stmt.add_columns(x.sen_status, x.pupil_premium, x.eal, x.lea_care).outerjoin(
            x, (x.pupil_id == base.c.pupil_id) & in_school(x, school.id)
        )
    else:
        stmt = stmt.add_columns(
            literal(None, Text).label("sen_status"),
            cast(null(), Boolean()).label("pupil_premium"),
            cast(null(), Boolean()).label("eal"),
            cast(null(), Boolean()).label("lea_care"),
        )
    return stmt.subquery().select()


def _demographic(row: Any, ctx: Context) -> dict[str, Any]:
    out = {
        **_common(row),
        "birthDate": row.birthDate,
        "sex": row.sex,
        "americanIndianOrAlaskaNative": "",
        "asian": "",
        "blackOrAfricanAmerican": "",
        "nativeHawaiianOrOtherPacificIslander": "",
        "white": "",
        "demographicRaceTwoOrMoreRaces": "",
        "hispanicOrLatinoEthnicity": "",
        "countryOfBirthCode": "",
        "stateOfBirthAbbreviation": "",
        "cityOfBirth": "",
        "publicSchoolResidenceStatus": "",
    }
    if ctx.extended:
        # OneRoster 1.1 has no fields for England's extended data: it travels in the object's metadata.
        out["metadata"] = {name: getattr(row, column) for name, column in EXTENDED_FIELDS.items()}
    return out


EXTENDED_FIELDS = {
    "uk.senStatus": "sen_status",
    "uk.pupilPremium": "pupil_premium",
    "uk.eal": "eal",
    "uk.lookedAfter": "lea_care",
}
"""A demographics object's extended data (metadata name: column), shown only on opt-in with its scope."""

_USER_FIELDS = (
    *COMMON,
    "username",
    "userIds",
    "enabledUser",
    "givenName",
    "familyName",
    "middleName",
    "role",
    "identifier",
    "email",
    "sms",
    "phone",
    "agents",
    "orgs",
    "grades",
)
_USER_FILTERS = (*COMMON, "username", "enabledUser", "givenName", "familyName", "role", "email", "phone")
_DEMOGRAPHIC_FIELDS = (*SPECS_11["demographics.csv"], "metadata")
"""The 1.1 CSV binding's demographics columns (the REST binding has the same fields) and its metadata."""

RESOURCES: dict[str, Resource] = {
    r.collection: r
    for r in (
        Resource(
            "orgs",
            "org",
            ROSTER_READ,
            (*COMMON, "name", "type", "identifier"),
            (*COMMON, "name", "type", "identifier", "parent", "children"),
            _orgs,
            _org,
            description="the school as an org",
        ),
        Resource(
            "academicSessions",
            "academicSession",
            ROSTER_READ,
            (*COMMON, "title", "type", "startDate", "endDate", "schoolYear"),
            (*COMMON, "title", "type", "startDate", "endDate", "parent", "children", "schoolYear"),
            _sessions,
            _session,
            description="terms and school years",
        ),
        Resource(
            "courses",
            "course",
            ROSTER_READ,
            (*COMMON, "title", "subjects"),
            (*COMMON, "title", "schoolYear", "courseCode", "grades", "subjects", "org"),
            _courses,
            _course,
            description="one course per class",
        ),
        Resource(
            "classes",
            "class",
            ROSTER_READ,
            (*COMMON, "title", "classType", "subjects"),
            (
                *COMMON,
                "title",
                "classCode",
                "classType",
                "location",
                "grades",
                "subjects",
                "course",
                "school",
                "terms",
                "periods",
            ),
            _classes,
            _class,
            description="classes and registration groups",
        ),
        Resource(
            "users",
            "user",
            ROSTER_READ,
            _USER_FILTERS,
            _USER_FIELDS,
            None,
            None,
            persons="pupil_id",
            description="staff, pupils and contacts: names, usernames, e-mail, phone, UPN and ULN",
        ),
        Resource(
            "students",
            "user",
            ROSTER_READ,
            _USER_FILTERS,
            _USER_FIELDS,
            None,
            None,
            persons="pupil_id",
            description="pupils (users with role student)",
        ),
        Resource(
            "teachers",
            "user",
            ROSTER_READ,
            _USER_FILTERS,
            _USER_FIELDS,
            None,
            None,
            description="teaching staff (users with role teacher)",
        ),
        Resource(
            "enrollments",
            "enrollment",
            ROSTER_READ,
            (*COMMON, "role", "classSourcedId", "userSourcedId"),
            (*COMMON, "role", "primary", "user", "class", "school", "beginDate", "endDate"),
            _enrollments,
            _enrollment,
            description="who is in and who teaches each class",
        ),
        Resource(
            "demographics",
            "demographics",
            ROSTER_READ,
            (*COMMON, "birthDate", "sex"),
            _DEMOGRAPHIC_FIELDS,
            _demographics,
            _demographic,
            persons="pupil_id",
            description="pupils' date of birth and sex; with roster.extended.read and the school's opt-in, "
            "their extended data in metadata",
        ),
    )
}
"""Every collection the provider serves, by its path segment (with the typed ones below)."""


def _of_type(
    rows: Callable[[SchoolRef, bool], Select[Any]], kind: str
) -> Callable[[SchoolRef, bool], Select[Any]]:
    """A collection's rows of one ``type`` only."""

    def typed(school: SchoolRef, extended: bool) -> Select[Any]:
        every = rows(school, extended).subquery()
        return select(every).where(every.c.type == kind)

    return typed


TYPED = {
    "schools": ("orgs", "school", "the school"),
    "terms": ("academicSessions", "term", "terms"),
    "gradingPeriods": ("academicSessions", "gradingPeriod", "grading periods"),
}
"""OneRoster 1.1's collections that are another's objects of one type (``getAllSchools``, ``getAllTerms``,
``getAllGradingPeriods``): the same statement, fields and objects, its rows of that type."""


def _typed(name: str, of: str, kind: str, description: str) -> Resource:
    every = RESOURCES[of]
    assert every.rows is not None
    return dataclasses.replace(
        every, collection=name, rows=_of_type(every.rows, kind), description=description
    )


RESOURCES |= {name: _typed(name, *spec) for name, spec in TYPED.items()}

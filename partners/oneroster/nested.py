"""OneRoster 1.1's nested endpoints: a collection restricted to what belongs to one object of another
(``getStudentsForClass`` is ``classes/{id}/students``, ``getClassesForUser`` is ``users/{id}/classes``...).

Each is the collection itself (its scope, its statement, its objects, its paging, filter, sort and fields)
with one more condition, and the objects it hangs from must exist (else ``unknownobject``, as for an object
read alone). The provider serves one school, so ``schools/{id}/...`` is the collection itself once ``{id}``
is the school's org. The persons served are decided where they always are
(:func:`partners.oneroster.resources.served_persons`): a person whose processing is restricted is neither
listed under a class nor found as the user whose classes are asked for.

The pairs are the specification's rostering service (its REST binding, section 3): every nested endpoint
over the collections this provider serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import any_, false, literal, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models import Group
from partners.oneroster.params import OneRosterError
from partners.oneroster.resources import RESOURCES
from partners.oneroster.users import Persons
from roster.export import ENROLLED
from roster.reading import SchoolRef
from roster.records import key
from tenants.scoping import in_school

Rows = Callable[[Any, SchoolRef], ColumnElement[bool]]
"""A condition over the collection's row columns (its statement as a subquery), for the school."""


@dataclass(frozen=True)
class Within:
    """Where a nested endpoint's objects come from: the objects it hangs from (each ``(collection,
    sourcedId)``, checked to exist) and the condition on the collection's rows or persons."""

    parents: tuple[tuple[str, str], ...]
    rows: Rows | None = None
    persons: Persons | None = None

    @property
    def path(self) -> str:
        """The parents as the URL names them (``classes/5K``), for the audit and the errors."""
        return "/".join(f"{collection}/{sourced_id}" for collection, sourced_id in self.parents)


PERSONS = ("users", "students", "teachers")


def _enrolled_in(class_id: str) -> Persons:
    """The persons enrolled in the class (pupils in it, staff teaching it; contacts never are)."""

    def persons(model: Any, school: Any) -> ColumnElement[bool]:
        for link, column, enrolled, _ in ENROLLED:
            if enrolled is model:
                return col(model.id).in_(
                    select(getattr(link, column)).where(
                        in_school(link, school),
                        in_school(Group, school),
                        link.group_id == Group.id,
                        key(Group, "external_id") == class_id,
                        Group.active,
                    )
                )
        return false()

    return persons


def _classes_of(user_id: str) -> Rows:
    """The classes a user is enrolled in (their enrolments, as the ``enrollments`` collection serves them)."""

    def rows(r: Any, school: SchoolRef) -> ColumnElement[bool]:
        statement = RESOURCES["enrollments"].rows
        assert statement is not None
        e = statement(school, False).subquery("e")
        enrolled: ColumnElement[bool] = r.sourcedId.in_(
            select(e.c.classSourcedId).where(e.c.userSourcedId == user_id)
        )
        return enrolled

    return rows


def within(parents: tuple[tuple[str, str], ...], collection: str) -> Within:
    """The nested endpoint ``<parents>/<collection>``, or ``unknownobject`` when the specification has no
    such endpoint."""
    match parents, collection:
        case (("schools", _),), "classes" | "courses" | "enrollments" | "students" | "teachers" | "terms":
            return Within(parents)
        case (("classes", class_id),), "students" | "teachers":
            return Within(parents, persons=_enrolled_in(class_id))
        case (("schools", _), ("classes", class_id)), "students" | "teachers":
            return Within(parents, persons=_enrolled_in(class_id))
        case (("schools", _), ("classes", class_id)), "enrollments":
            return Within(parents, rows=lambda r, school: r.classSourcedId == class_id)
        case (("users" | "students" | "teachers", user_id),), "classes":
            return Within(parents, rows=_classes_of(user_id))
        case (("courses", course_id),), "classes":  # one course per class (resources._courses)
            return Within(parents, rows=lambda r, school: literal("course-") + r.sourcedId == course_id)
        case (("terms", term_id),), "classes":
            return Within(parents, rows=lambda r, school: literal(term_id) == any_(r.terms))
        case (("terms", term_id),), "gradingPeriods":
            return Within(parents, rows=lambda r, school: r.parentSourcedId == term_id)
    path = "/".join(f"{name}/{{id}}" for name, _ in parents)
    raise OneRosterError(
        404, "unknownobject", f"'{path}/{collection}' is not a OneRoster 1.1 endpoint served here."
    )

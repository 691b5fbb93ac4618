"""The person collections (``users``, ``students``, ``teachers``): each page is one SQL statement that
selects the page's persons and builds their OneRoster JSON objects in PostgreSQL (issue 14, ADR 17).

A school's people are three tables (staff, pupils, contacts), each a *branch*: its rows as the
specification's filterable fields (text, as the JSON shows them) and, for the rows a page returns, the
user object with its username, identifiers and agents, looked up for those rows only. Two plans:

* **keyed** (no filter, sourcedId order, the full sync every consumer runs): every branch is read in
  sourcedId order through its ``(school_id, sourcedId) WHERE active`` index (migration 0014), merged, and
  cut at the page, so a page costs its own rows, not the school's. The page starts after a sourcedId (a
  remembered position, :mod:`partners.oneroster.positions`) or, without one, at the ``OFFSET``.
* **general** (a filter, another sort, descending): the branches' filterable columns are filtered,
  sorted and cut in SQL with a window count, and the objects are built for the page's rows only.

Filters and sorts name only whitelisted fields (``Resource.filterable``) mapped to columns here; every
value is a bound parameter. Which persons are served is :func:`served_persons` (restriction of
processing), ANDed into every branch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models import Account, Contact, Pupil, PupilContact, Staff
from models.partners import RosterChangeHead
from partners.oneroster.params import Filter, Query
from partners.oneroster.resources import iso_timestamp, served_persons
from roster.export import CONTACT_ROLES, staff_role_sql
from roster.reading import SchoolRef
from roster.records import key
from tenants.scoping import in_school

STUDENT = "student"
TEACHER = "teacher"


def _text(value: str) -> Any:
    return literal(value, Text)


def json_ref(base: Any, collection: str, kind: str, sourced_id: Any) -> Any:
    """``Context.ref`` in SQL: ``{href, sourcedId, type}``, or null for a blank sourcedId."""
    obj = func.json_build_object(
        "href", base + f"/{collection}/" + sourced_id, "sourcedId", sourced_id, "type", kind
    )
    return case((func.coalesce(sourced_id, "") == "", null()), else_=obj)


@dataclass(frozen=True)
class Branch:
    """One table of persons: how its rows read as users."""

    kind: str
    model: Any
    role: Callable[[], Any]
    """The OneRoster role as SQL over the model's row."""
    email: Callable[[], Any]
    phone: Callable[[], Any]
    modified: Callable[[], Any]
    agents_of: Any | None
    """``(owner column, other column, other model)`` of the agents (a pupil's contacts, a contact's
    pupils), or None."""
    roles: tuple[str, ...] | None
    """The roles this branch can produce (None: several, decided per row): lets ``students`` and
    ``teachers`` skip the branches that cannot match."""


def _contact_role() -> Any:
    first = (
        select(func.min(PupilContact.relationship))
        .where(PupilContact.school_id == Contact.school_id, PupilContact.contact_id == Contact.id)
        .scalar_subquery()
    )
    return case(CONTACT_ROLES, value=func.coalesce(first, "PARENT"), else_=literal("guardian"))


def _modified(model: Any) -> Any:
    return iso_timestamp(func.coalesce(model.updated_at, model.created_at))


BRANCHES: tuple[Branch, ...] = (
    Branch(
        "staff",
        Staff,
        lambda: staff_role_sql(Staff.staff_role, Staff.teaching),
        lambda: func.coalesce(Staff.work_email, ""),
        lambda: _text(""),
        lambda: _modified(Staff),
        None,
        None,
    ),
    Branch(
        "pupils",
        Pupil,
        lambda: _text(STUDENT),
        lambda: func.coalesce(Pupil.email, ""),
        lambda: _text(""),
        lambda: _modified(Pupil),
        (PupilContact.pupil_id, PupilContact.contact_id, Contact),
        (STUDENT,),
    ),
    Branch(
        "contacts",
        Contact,
        _contact_role,
        lambda: func.coalesce(Contact.email, ""),
        lambda: func.coalesce(Contact.phone, ""),
        lambda: iso_timestamp(Contact.created_at),
        (PupilContact.contact_id, PupilContact.pupil_id, Pupil),
        tuple(sorted({*CONTACT_ROLES.values(), "guardian"})),
    ),
)


def _username(branch: Branch) -> Any:
    model = branch.model
    link = {Staff: Account.staff_id, Pupil: Account.pupil_id, Contact: Account.contact_id}[model]
    return (
        select(Account.username)
        .where(Account.school_id == model.school_id, link == model.id)
        .scalar_subquery()
    )


def _agents(branch: Branch, base: Any) -> Any:
    """The row's agents as refs, in sourcedId order (the export's agents: active, in the school)."""
    if branch.agents_of is None:
        return literal_column("'[]'::json")
    owner, other_column, other = branch.agents_of
    model = branch.model
    agent = key(other)
    refs = (
        select(func.json_agg(aggregate_order_by(json_ref(base, "users", "user", agent), agent)))
        .where(
            PupilContact.school_id == model.school_id,
            owner == model.id,
            other.school_id == PupilContact.school_id,
            other.id == other_column,
            other.active,
        )
        .correlate(model)
        .scalar_subquery()
    )
    return func.coalesce(refs, literal_column("'[]'::json"))


def _user_ids(branch: Branch) -> Any:
    """``userIds``: the UPN and ULN a pupil has (non-blank), in that order; none for anyone else."""
    empty: Any = literal_column("'[]'::json")
    if branch.model is not Pupil:
        return empty
    upn = func.json_build_object("type", "UPN", "identifier", Pupil.upn)
    uln = func.json_build_object("type", "ULN", "identifier", Pupil.uln)
    has_upn, has_uln = Pupil.upn != "", Pupil.uln != ""
    return case(
        (and_(has_upn, has_uln), func.json_build_array(upn, uln)),
        (has_upn, func.json_build_array(upn)),
        (has_uln, func.json_build_array(uln)),
        else_=empty,
    )


def user_object(branch: Branch, base: Any, org: Any) -> Any:
    """The specification's user object of the branch's current row, key for key as the provider has
    always served it."""
    model = branch.model
    return func.json_build_object(
        "sourcedId", key(model),
        "status", "active",
        "dateLastModified", branch.modified(),
        "username", func.coalesce(_username(branch), ""),
        "userIds", _user_ids(branch),
        "enabledUser", "true",
        "givenName", model.forename,
        "familyName", model.surname,
        "middleName", "",
        "role", branch.role(),
        "identifier", "",
        "email", branch.email(),
        "sms", "",
        "phone", branch.phone(),
        "agents", _agents(branch, base),
        "orgs", func.json_build_array(json_ref(base, "orgs", "org", org)),
        "grades", literal_column("'[]'::json"),
    )  # fmt: skip


def _columns(branch: Branch) -> dict[str, Callable[[], Any]]:
    """The filterable fields of a user (``Resource.filterable``) as SQL over the branch's row."""
    model = branch.model
    return {
        "sourcedId": lambda: key(model),
        "status": lambda: _text("active"),
        "dateLastModified": branch.modified,
        "username": lambda: func.coalesce(_username(branch), ""),
        "enabledUser": lambda: _text("true"),
        "givenName": lambda: col(model.forename),
        "familyName": lambda: col(model.surname),
        "role": branch.role,
        "email": branch.email,
        "phone": branch.phone,
    }


FILTERABLE = tuple(_columns(BRANCHES[0]))


def where(columns: Any, filter: Filter | None) -> ColumnElement[bool] | None:
    """The filter's predicates as SQL over ``columns`` (whitelisted names, bound values)."""
    if filter is None:
        return None
    parts: list[ColumnElement[bool]] = []
    for p in filter.predicates:
        column = columns[p.field]
        if p.operator == "=":
            parts.append(column == p.value)
        elif p.operator == "!=":
            parts.append(column.is_distinct_from(p.value))
        elif p.operator == ">":
            parts.append(column > p.value)
        elif p.operator == ">=":
            parts.append(column >= p.value)
        elif p.operator == "<":
            parts.append(column < p.value)
        elif p.operator == "<=":
            parts.append(column <= p.value)
        else:  # "~": contains, case-insensitive
            parts.append(column.ilike(f"%{escape_like(p.value)}%", escape="\\"))
    return or_(*parts) if filter.connective == "OR" else and_(*parts)


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class UserPage:
    objects: list[Any]
    pupils: list[uuid.UUID]
    total: int | None
    """The filter's total when the statement counted it (None: the caller's remembered total holds)."""
    stamp: int
    """The school's roster version the page was read at (:mod:`partners.oneroster.positions`)."""
    last: str | None
    """The sourcedId of the page's last object (the keyed plan's next position)."""


def stamp_sql(school: SchoolRef) -> Any:
    """The school's roster version: bumped by every write to its persons, their removal and the
    restriction of their processing (migrations 0011, 0014)."""
    head = select(RosterChangeHead.version).where(RosterChangeHead.school_id == school.id).scalar_subquery()
    return func.coalesce(head, cast(literal(0), BigInteger))


def _branches(role: str | None) -> list[Branch]:
    return [b for b in BRANCHES if role is None or b.roles is None or role in b.roles]


def _role_filter(branch: Branch, role: str | None) -> list[ColumnElement[bool]]:
    if role is None or (branch.roles is not None and branch.roles == (role,)):
        return []
    return [branch.role() == role]


def _base(branch: Branch, school: SchoolRef, role: str | None) -> list[ColumnElement[bool]]:
    model = branch.model
    return [
        in_school(model, school.id),
        model.active,
        served_persons(model, school),
        *_role_filter(branch, role),
    ]


def _number(branch: Branch) -> int:
    return BRANCHES.index(branch)


PUPILS = 1
assert BRANCHES[PUPILS].model is Pupil


def _objects_of(page: Any, role: str | None, base: str, org: str) -> Any:
    """The user object of each row of ``page`` (``branch``, ``id``): looked up by primary key in its
    branch's table and built there, for the page's rows only."""
    base_p, org_p = bindparam("base", base, Text), bindparam("org", org, Text)
    lookups = []
    for branch in _branches(role):
        model = branch.model
        found = (
            select(user_object(branch, base_p, org_p))
            .where(model.school_id == page.c.school_id, model.id == page.c.id)
            .scalar_subquery()
        )
        lookups.append((page.c.branch == _number(branch), found))
    return case(*lookups)


def _page_columns(
    page: Any, school: SchoolRef, role: str | None, base: str, org: str, order: Any
) -> list[Any]:
    obj = _objects_of(page, role, base, org)
    return [
        stamp_sql(school).label("stamp"),
        func.json_agg(aggregate_order_by(obj, order), type_=JSON).label("objects"),
        func.array_agg(page.c.id).filter(page.c.branch == PUPILS).label("pupils"),
    ]


NO_JIT = text("SELECT set_config('jit', 'off', true)")
"""Run before a page statement (transaction-local): its estimated cost is the sum of every branch's
per-row lookups although each row runs one, which crosses ``jit_above_cost`` and has PostgreSQL compile
the statement's expressions for longer (about 100 ms) than the page takes to read (a few ms)."""


async def read_keyed(
    session: Any,
    school: SchoolRef,
    role: str | None,
    *,
    base: str,
    org: str,
    after: str | None,
    offset: int,
    limit: int,
    count: bool,
) -> UserPage:
    """A page in sourcedId order: after ``after`` (a remembered position) or at ``offset``; with the
    total when ``count``. One statement: each branch read in sourcedId order through its index up to the
    page's end, merged and cut; the objects built for the page's rows."""
    parts = []
    for branch in _branches(role):
        model = branch.model
        conditions = _base(branch, school, role)
        if after is not None:
            conditions.append(key(model) > bindparam("after", after, Text))
        parts.append(
            select(
                literal(_number(branch)).label("branch"),
                col(model.school_id).label("school_id"),
                col(model.id).label("id"),
                key(model).label("sid"),
            )
            .where(*conditions)
            .order_by(key(model))
            .limit(offset + limit)
        )
    union = union_all(*parts).subquery("u")
    page = select(union).order_by(union.c.sid).limit(limit)
    if offset:
        page = page.offset(offset)
    p = page.subquery("p")
    columns = [*_page_columns(p, school, role, base, org, p.c.sid), func.max(p.c.sid).label("last")]
    if count:
        counted = union_all(
            *(select(literal(1).label("one")).where(*_base(b, school, role)) for b in _branches(role))
        ).subquery("c")
        columns.append(select(func.count()).select_from(counted).scalar_subquery().label("total"))
    await session.execute(NO_JIT)
    row = (await session.execute(select(*columns).select_from(p))).one()
    return UserPage(
        _objects(row.objects), list(row.pupils or []), row.total if count else None, row.stamp, row.last
    )


def _objects(value: Any) -> list[Any]:
    return list(value) if value else []


async def read_general(
    session: Any, school: SchoolRef, role: str | None, query: Query, *, base: str, org: str
) -> UserPage:
    """A page under any filter and sort: the filterable columns the query names filtered, sorted and cut
    in SQL with a window count; the objects built for the page's rows only. One statement (a page past
    the end counts in a second)."""
    names = sorted(
        {"sourcedId"}
        | ({p.field for p in query.filter.predicates} if query.filter else set())
        | ({query.sort} if query.sort else set())
    )
    parts = []
    for branch in _branches(role):
        columns = _columns(branch)
        parts.append(
            select(
                literal(_number(branch)).label("branch"),
                col(branch.model.school_id).label("school_id"),
                col(branch.model.id).label("id"),
                *(columns[name]().label(name) for name in names),
            ).where(*_base(branch, school, role))
        )
    rows = union_all(*parts).subquery("r")
    condition = where(rows.c, query.filter)
    order = rows.c[query.sort] if query.sort else rows.c.sourcedId
    ordering = [order.desc().nulls_last() if query.descending else order.asc().nulls_first()]
    if query.sort and query.sort != "sourcedId":
        ordering.append(rows.c.sourcedId.asc())
    stmt = select(
        rows.c.branch,
        rows.c.school_id,
        rows.c.id,
        func.row_number().over(order_by=ordering).label("n"),
        func.count().over().label("total"),
    )
    if condition is not None:
        stmt = stmt.where(condition)
    p = stmt.order_by(*ordering).offset(query.offset).limit(query.limit).subquery("p")
    built = [*_page_columns(p, school, role, base, org, p.c.n), func.max(p.c.total).label("total")]
    await session.execute(NO_JIT)
    row = (await session.execute(select(*built).select_from(p))).one()
    total = row.total
    if total is None:
        counted = select(func.count()).select_from(rows)
        total = (
            await session.execute(counted.where(condition) if condition is not None else counted)
        ).scalar_one()
    return UserPage(_objects(row.objects), list(row.pupils or []), total, row.stamp, None)


def role_of(collection: str) -> str | None:
    return {"students": STUDENT, "teachers": TEACHER}.get(collection)

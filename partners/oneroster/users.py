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
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    UUID,
    BigInteger,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
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
from models.roster import RosterSource
from partners.oneroster.params import Filter, Query
from partners.oneroster.resources import iso_timestamp, served_persons
from roster.export import CONTACT_ROLES, staff_role_sql
from roster.records import key
from tenants.scoping import in_school, same_school

STUDENT = "student"
TEACHER = "teacher"


def _text(value: str) -> Any:
    return literal(value, Text)


def json_text(value: Any) -> Any:
    """A text value as JSON text (``"..."`` escaped as the response's encoder writes it; ``null``)."""
    return func.coalesce(cast(func.to_json(value), Text), "null")


def constant(value: Any) -> Any:
    """A constant as JSON text, encoded as the response is."""
    return literal(orjson.dumps(value).decode(), Text)


def json_object(*pairs: tuple[str, Any]) -> Any:
    """``{"name":value,...}`` as compact JSON text, keys in the given order; each value is JSON text."""
    parts: list[Any] = []
    for index, (name, value) in enumerate(pairs):
        parts.append(("{" if index == 0 else ",") + orjson.dumps(name).decode() + ":")
        parts.append(value)
    parts.append("}")
    merged: list[Any] = []
    for part in parts:  # adjacent constants joined, so the statement concatenates as little as it can
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return func.concat(*(literal(m, Text) if isinstance(m, str) else m for m in merged))


def json_ref(base: Any, collection: str, kind: str, sourced_id: Any) -> Any:
    """``Context.ref`` as JSON text: ``{href, sourcedId, type}``, or null for a blank sourcedId."""
    obj = json_object(
        ("href", json_text(base + f"/{collection}/" + sourced_id)),
        ("sourcedId", json_text(sourced_id)),
        ("type", constant(kind)),
    )
    return case((func.coalesce(sourced_id, "") == "", "null"), else_=obj)


EMPTY = constant([])
COMMA: Any = literal_column("','")


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
        .where(same_school(PupilContact, Contact), PupilContact.contact_id == Contact.id)
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
    return select(Account.username).where(same_school(Account, model), link == model.id).scalar_subquery()


def _agents(branch: Branch, base: Any) -> Any:
    """The row's agents as refs, in sourcedId order (the export's agents: active, in the school)."""
    if branch.agents_of is None:
        return EMPTY
    owner, other_column, other = branch.agents_of
    model = branch.model
    agent = key(other)
    refs = (
        select(func.string_agg(json_ref(base, "users", "user", agent), aggregate_order_by(COMMA, agent)))
        .where(
            same_school(PupilContact, model),
            owner == model.id,
            same_school(other, PupilContact),
            other.id == other_column,
            other.active,
        )
        .correlate(model)
        .scalar_subquery()
    )
    return func.concat("[", refs, "]")


def _user_ids(branch: Branch) -> Any:
    """``userIds``: the UPN and ULN a pupil has (non-blank), in that order; none for anyone else."""
    if branch.model is not Pupil:
        return EMPTY
    upn = json_object(("type", constant("UPN")), ("identifier", json_text(Pupil.upn)))
    uln = json_object(("type", constant("ULN")), ("identifier", json_text(Pupil.uln)))
    has_upn, has_uln = Pupil.upn != "", Pupil.uln != ""
    return case(
        (and_(has_upn, has_uln), func.concat("[", upn, ",", uln, "]")),
        (has_upn, func.concat("[", upn, "]")),
        (has_uln, func.concat("[", uln, "]")),
        else_=EMPTY,
    )


def user_object(branch: Branch, base: Any, org: Any) -> Any:
    """The specification's user object of the branch's current row as compact JSON text, key for key
    as the provider has always served it."""
    model = branch.model
    return json_object(
        ("sourcedId", json_text(key(model))),
        ("status", constant("active")),
        ("dateLastModified", json_text(branch.modified())),
        ("username", json_text(func.coalesce(_username(branch), ""))),
        ("userIds", _user_ids(branch)),
        ("enabledUser", constant("true")),
        ("givenName", json_text(model.forename)),
        ("familyName", json_text(model.surname)),
        ("middleName", constant("")),
        ("role", json_text(branch.role())),
        ("identifier", constant("")),
        ("email", json_text(branch.email())),
        ("sms", constant("")),
        ("phone", json_text(branch.phone())),
        ("agents", _agents(branch, base)),
        ("orgs", org),
        ("grades", EMPTY),
    )


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
    objects: bytes
    """The page's objects as one JSON array, compact UTF-8 (as the response is encoded)."""
    count: int
    pupils: list[uuid.UUID]
    total: int | None
    """The filter's total when the statement counted it (None: the caller's remembered total holds)."""
    stamp: int
    """The school's roster version the page was read at (:mod:`partners.oneroster.positions`)."""
    last: str | None
    """The sourcedId of the page's last object (the keyed plan's next position)."""


UNSETTLED = -1
"""The stamp of a page read while a change it cannot see may still commit below its latest version: its
positions are not remembered (:mod:`partners.oneroster.positions`)."""


def stamp_sql(school_id: Any) -> Any:
    """The school's roster state: its persons' latest change version (every insert and update, migration
    0011, stamped by the writer's transaction id since 0015) plus ``roster_change_heads.version`` (bumped
    by a person's removal and by every restriction of processing, migration 0014); both only grow, so
    the sum changes whenever either does. Versions follow the order writers *started*, so the stamp counts
    only when the latest is below ``roster_change_floor()``: every change the snapshot does not see will
    then carry a higher version. Otherwise :data:`UNSETTLED`."""
    zero = cast(literal(0), BigInteger)
    head = select(RosterChangeHead.version).where(in_school(RosterChangeHead, school_id)).scalar_subquery()
    latest = func.greatest(
        *(
            func.coalesce(
                select(func.max(model.changed_version)).where(in_school(model, school_id)).scalar_subquery(),
                zero,
            )
            for model in (Staff, Pupil, Contact)
        )
    )
    return case(
        (latest < func.roster_change_floor(), latest + func.coalesce(head, zero)),
        else_=cast(literal(UNSETTLED), BigInteger),
    )


def _branches(role: str | None) -> list[Branch]:
    return [b for b in BRANCHES if role is None or b.roles is None or role in b.roles]


def _role_filter(branch: Branch, role: str | None) -> list[ColumnElement[bool]]:
    if role is None or (branch.roles is not None and branch.roles == (role,)):
        return []
    return [branch.role() == role]


def _base(branch: Branch, school_id: Any, role: str | None) -> list[ColumnElement[bool]]:
    model = branch.model
    return [
        in_school(model, school_id),
        model.active,
        served_persons(model),
        *_role_filter(branch, role),
    ]


def _number(branch: Branch) -> int:
    return BRANCHES.index(branch)


PUPILS = 1
assert BRANCHES[PUPILS].model is Pupil


def _objects_of(page: Any, school_id: Any, role: str | None) -> Any:
    """The user object of each row of ``page`` (``branch``, ``school_id``, ``id``): looked up by primary
    key in its branch's table and built there, for the page's rows only."""
    base_p, orgs_p = _params(school_id, BASE)
    lookups = []
    for branch in _branches(role):
        model = branch.model
        found = (
            select(user_object(branch, base_p, orgs_p))
            .where(same_school(model, page.c), model.id == page.c.id)
            .scalar_subquery()
        )
        lookups.append((page.c.branch == _number(branch), found))
    return case(*lookups)


def _page_columns(page: Any, school_id: Any, obj: Any, order: Any) -> list[Any]:
    return [
        stamp_sql(school_id).label("stamp"),
        func.string_agg(obj, aggregate_order_by(COMMA, order)).label("objects"),
        func.array_agg(page.c.id).filter(page.c.branch == PUPILS).label("pupils"),
        func.count().label("count"),
    ]


BASE: Any = bindparam("base", type_=Text)
"""The request's provider URL (``https://host/schools/<slug>/ims/oneroster/v1p1``), bound at execution."""


def _params(school_id: Any, base: Any) -> tuple[Any, Any]:
    """The provider URL and the school's ``orgs`` (JSON text, read once per statement): the org a school
    admin said is this school (``roster_sources``), else schoolgraph's own id for it
    (``SchoolRef.own_org_id``)."""
    named = select(RosterSource.org_sourced_id).where(in_school(RosterSource, school_id)).scalar_subquery()
    own = literal("schoolgraph-", Text) + cast(school_id, Text)
    org = func.coalesce(named, own)
    return base, func.concat("[", json_ref(base, "orgs", "org", org), "]")


NO_JIT = text("SELECT set_config('jit', 'off', true)")
JIT_ROWS = 200


async def _without_jit(session: Any, rows: int) -> None:
    """Before a page statement of more than :data:`JIT_ROWS` rows, JIT compilation off (transaction-local):
    the planner charges every row with every branch's lookups although each row runs one branch's, which
    crosses ``jit_above_cost`` from a few hundred rows and has PostgreSQL compile the statement's
    expressions for longer (about 100 ms) than the page takes to read. Smaller pages stay far below it
    and are spared the statement."""
    if rows > JIT_ROWS:
        await session.execute(NO_JIT)


SCHOOL: Any = bindparam("school_id", type_=UUID(as_uuid=True))
"""The school of a keyed page, bound when the (cached) statement is executed."""


@lru_cache(maxsize=64)
def _keyed_statement(role: str | None, after: bool, offset: bool, count: bool) -> Any:
    """The keyed page's statement for one shape, built once (it is large: building it took longer than
    executing a small page); the school, URL, position, limit and offset are bound parameters."""
    # From a position (or the start) each branch builds the objects of the rows it yields, and the merge
    # pulls no more rows from a branch than the page takes; past an OFFSET the page's rows are looked up
    # again by key instead, so the skipped rows cost their index entries only.
    built_here = after or not offset
    base_p, orgs_p = _params(SCHOOL, BASE)
    parts = []
    for branch in _branches(role):
        model = branch.model
        conditions = _base(branch, SCHOOL, role)
        if after:
            conditions.append(key(model) > bindparam("after", type_=Text))
        objects = [user_object(branch, base_p, orgs_p).label("obj")] if built_here else []
        parts.append(
            select(
                literal(_number(branch)).label("branch"),
                col(model.school_id).label("school_id"),
                col(model.id).label("id"),
                key(model).label("sid"),
                *objects,
            )
            .where(*conditions)
            .order_by(key(model))
            .limit(bindparam("through", type_=Integer))
        )
    union = union_all(*parts).subquery("u")
    page = select(union).order_by(union.c.sid).limit(bindparam("limit", type_=Integer))
    if offset:
        page = page.offset(bindparam("offset", type_=Integer))
    p = page.subquery("p")
    obj = p.c.obj if built_here else _objects_of(p, SCHOOL, role)
    columns = [*_page_columns(p, SCHOOL, obj, p.c.sid), func.max(p.c.sid).label("last")]
    if count:
        counted = union_all(
            *(select(literal(1).label("one")).where(*_base(b, SCHOOL, role)) for b in _branches(role))
        ).subquery("c")
        columns.append(select(func.count()).select_from(counted).scalar_subquery().label("total"))
    return select(*columns).select_from(p)


async def read_keyed(
    session: Any,
    school_id: uuid.UUID,
    role: str | None,
    *,
    base: str,
    after: str | None,
    offset: int,
    limit: int,
    count: bool,
) -> UserPage:
    """A page in sourcedId order: after ``after`` (a remembered position) or at ``offset``; with the
    total when ``count``. One statement: each branch read in sourcedId order through its index up to the
    page's end, merged and cut; the objects built for the page's rows."""
    stmt = _keyed_statement(role, after is not None, bool(offset) and after is None, count)
    params: dict[str, Any] = {"school_id": school_id, "base": base, "limit": limit}
    if after is not None:
        params |= {"after": after, "through": limit}
    else:
        params |= {"offset": offset, "through": offset + limit}
    await _without_jit(session, params["through"])
    row = (await session.execute(stmt, params)).one()
    return UserPage(
        _objects(row.objects),
        row.count,
        list(row.pupils or []),
        row.total if count else None,
        row.stamp,
        row.last,
    )


def _objects(value: str | None) -> bytes:
    return f"[{value or ''}]".encode()


async def read_general(
    session: Any, school_id: uuid.UUID, role: str | None, query: Query, *, base: str
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
            ).where(*_base(branch, SCHOOL, role))
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
    obj = _objects_of(p, SCHOOL, role)
    built = [*_page_columns(p, SCHOOL, obj, p.c.n), func.max(p.c.total).label("total")]
    await _without_jit(session, query.limit)
    bound = {"school_id": school_id, "base": base}
    row = (await session.execute(select(*built).select_from(p), bound)).one()
    total = row.total
    if total is None:
        counted = select(func.count()).select_from(rows)
        total = (
            await session.execute(counted.where(condition) if condition is not None else counted, bound)
        ).scalar_one()
    return UserPage(_objects(row.objects), row.count, list(row.pupils or []), total, row.stamp, None)


def role_of(collection: str) -> str | None:
    return {"students": STUDENT, "teachers": TEACHER}.get(collection)

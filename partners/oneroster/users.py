"""The person collections (``users``, ``students``, ``teachers``): each page is one SQL statement that
selects the page's persons and builds their OneRoster JSON objects in PostgreSQL (issue 14, ADR 17).

A school's people are three tables (staff, pupils, contacts), each a *branch*: its rows as the
specification's filterable fields (text, as the JSON shows them) and, for the rows a page returns, the
user object. The page's rows come first (a CTE); their usernames and agents are then joined to them and
grouped once for the page, not looked up row by row. Two plans:

* **keyed** (no filter, sourcedId order, the full sync every consumer runs): every branch is read in
  sourcedId order as two streams (:func:`_stream`: its rows with a source id by the unique
  ``(school_id, source_id)`` index, those without one by their id's text), merged and cut at the page, so
  a page costs its own rows, not the school's. The page starts after a sourcedId (a remembered position,
  :mod:`partners.oneroster.positions`: an index condition) or, without one, at the ``OFFSET``.
* **general** (a filter, another sort, descending): the branches' filterable columns are filtered,
  sorted and cut in SQL with a window count, and the objects are built for the page's rows only.

Every table a statement reads is filtered by the school itself (``school_id = :school_id``), so on Citus
each statement is routed to the school's shard group (ADR 19). Filters and sorts name only whitelisted
fields (``Resource.filterable``) mapped to columns here; every value is a bound parameter. Which persons
are served is :func:`served_persons` (restriction of processing), ANDed into every branch.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    UUID,
    BigInteger,
    Integer,
    String,
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
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse
from sqlmodel import col

from common.prepared import CompiledText, Prepared
from models import Account, Contact, Pupil, PupilContact, Staff
from models.partners import RosterChangeHead
from models.roster import RosterSource
from partners.oneroster.params import Filter, Query
from partners.oneroster.resources import REF_COLLECTIONS, iso_timestamp, served_persons
from roster.export import CONTACT_ROLES, staff_role_sql
from roster.records import key
from tenants.scoping import in_school

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


def json_ref(base: Any, kind: str, sourced_id: Any) -> Any:
    """``Context.ref`` as JSON text: ``{href, sourcedId, type}``, or null for a blank sourcedId."""
    obj = json_object(
        ("href", json_text(base + f"/{REF_COLLECTIONS[kind]}/" + sourced_id)),
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


SCHOOL: Any = bindparam("school_id", type_=UUID(as_uuid=True))
"""The school of every person statement, bound at execution: every table the statement reads is filtered
by it explicitly (``school_id = :school_id``), so on Citus each part is routed to the school's shard group
(ADR 19), and on plain PostgreSQL each lookup is an index range of the school."""

BASE: Any = bindparam("base", type_=Text)
"""The request's provider URL (``https://host/schools/<slug>/ims/oneroster/v1p1``), bound at execution."""

AFTER: Any = bindparam("after", type_=String)
"""The sourcedId a keyed page starts after (a remembered position)."""


def _contact_role() -> Any:
    first = (
        select(func.min(PupilContact.relationship))
        .where(in_school(PupilContact, SCHOOL), PupilContact.contact_id == Contact.id)
        .correlate(Contact)
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
        lambda: _modified(Contact),
        (PupilContact.contact_id, PupilContact.pupil_id, Pupil),
        tuple(sorted({*CONTACT_ROLES.values(), "guardian"})),
    ),
)


def _account_link(model: Any) -> Any:
    return {Staff: Account.staff_id, Pupil: Account.pupil_id, Contact: Account.contact_id}[model]


def _username(branch: Branch) -> Any:
    """The row's username, looked up (a filter or sort on ``username``, the general plan's column)."""
    model = branch.model
    link = _account_link(model)
    return (
        select(Account.username)
        .where(in_school(Account, SCHOOL), link == model.id)
        .correlate(model)
        .scalar_subquery()
    )


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


class _Slot:
    """A place in the user object filled set-wise after the page's rows are known (its username, role,
    agents), not from the person's own row."""

    def __init__(self, name: str) -> None:
        self.name = name


USERNAME, ROLE, AGENTS = _Slot("username"), _Slot("role"), _Slot("agents")


def _user_template(branch: Branch, org: Any) -> list[tuple[str, Any]]:
    """The specification's user object, key for key as the provider has always served it: each value JSON
    text over the branch's row, or a slot (a list is a value in parts)."""
    model = branch.model
    return [
        ("sourcedId", json_text(key(model))),
        ("status", constant("active")),
        ("dateLastModified", json_text(branch.modified())),
        ("username", USERNAME),
        ("userIds", _user_ids(branch)),
        ("enabledUser", constant("true")),
        ("givenName", json_text(model.forename)),
        ("familyName", json_text(model.surname)),
        ("middleName", constant("")),
        ("role", ROLE),
        ("identifier", constant("")),
        ("email", json_text(branch.email())),
        ("sms", constant("")),
        ("phone", json_text(branch.phone())),
        ("agents", ["[", AGENTS, "]"]),
        ("orgs", org),
        ("grades", EMPTY),
    ]


def _concat(parts: list[Any]) -> Any:
    merged: list[Any] = []
    for part in parts:  # adjacent constants joined, so the statement concatenates as little as it can
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    if len(merged) == 1 and isinstance(merged[0], str):
        return literal(merged[0], Text)
    return func.concat(*(literal(m, Text) if isinstance(m, str) else m for m in merged))


def _segments(pairs: list[tuple[str, Any]]) -> tuple[list[Any], list[_Slot]]:
    """The object's JSON text cut at its slots: the segments between them (one more than the slots) and
    the slots in order."""
    segments: list[list[Any]] = [[]]
    slots: list[_Slot] = []
    for index, (name, value) in enumerate(pairs):
        segments[-1].append(("{" if index == 0 else ",") + orjson.dumps(name).decode() + ":")
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, _Slot):
                slots.append(part)
                segments.append([])
            else:
                segments[-1].append(part)
    segments[-1].append("}")
    return [_concat(s) for s in segments], slots


NO_ORG = literal("", Text)


def _own_segments(branch: Branch) -> list[Any]:
    """The segments of the object that come from the person's own row (all but the last, which holds
    the orgs, the same for every row of a statement)."""
    segments, slots = _segments(_user_template(branch, NO_ORG))
    assert slots == [USERNAME, ROLE, AGENTS]
    return segments[:-1]


def _own_role(branch: Branch) -> Any:
    """The role as JSON text when the person's own row says it; for a contact it comes from the links."""
    return null() if branch.model is Contact else json_text(branch.role())


def _last_segment(org: Any) -> Any:
    segments, _ = _segments(_user_template(BRANCHES[0], org))
    return segments[-1]


def _tail() -> Any:
    """The objects' last segment (their ``orgs`` and ``grades``, the same for every object of a statement)
    as a scalar subquery: computed once per statement (an InitPlan), not once per object (it was three
    ``to_json`` and a ``concat`` per object)."""
    return select(_last_segment(_org(BASE))).scalar_subquery()


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


def _base(branch: Branch, role: str | None) -> list[ColumnElement[bool]]:
    model = branch.model
    return [in_school(model, SCHOOL), model.active, served_persons(model), *_role_filter(branch, role)]


def _number(branch: Branch) -> int:
    return BRANCHES.index(branch)


PUPILS = 1
CONTACTS = 2
assert BRANCHES[PUPILS].model is Pupil and BRANCHES[CONTACTS].model is Contact


def _org(base: Any) -> Any:
    """The school's ``orgs`` as JSON text (read once per statement): the org a school admin said is this
    school (``roster_sources``), else schoolgraph's own id for it (``SchoolRef.own_org_id``)."""
    named = select(RosterSource.org_sourced_id).where(in_school(RosterSource, SCHOOL)).scalar_subquery()
    org = func.coalesce(named, literal("schoolgraph-", Text) + cast(SCHOOL, Text))
    return func.concat("[", json_ref(base, "org", org), "]")


def _stream(branch: Branch, role: str | None, *, sourced: bool, after: bool, built: bool) -> Any:
    """One branch's rows in sourcedId order, up to ``through`` of them, from ``after`` when given.

    A person's sourcedId is its source id, or for a row made in schoolgraph its own id. The two are read
    apart: rows with a source id in its order through the unique ``(school_id, source_id)`` index, where
    ``source_id > :after`` is an index condition (a leakproof comparison of the column itself, which
    row-level security lets the planner use as one); rows without one (found in the same index's NULL
    range) sorted by their id's text. ``coalesce(source_id, id::text) > :after`` would be the same
    condition but not leakproof (the uuid's text output), so under row-level security it could only
    filter the school's rows one by one from the first. With ``built`` the stream also carries the
    segments of each row's JSON object: computed only for the rows the merge takes."""
    model = branch.model
    if sourced:
        sid: Any = col(model.source_id)
        keyed = [sid.is_not(None)] + ([sid > AFTER] if after else [])
    else:
        sid = cast(cast(model.id, Text), String)
        keyed = [col(model.source_id).is_(None)] + ([sid > AFTER] if after else [])
    columns = [literal(_number(branch)).label("branch"), col(model.id).label("id"), sid.label("sid")]
    if built:
        columns += [s.label(f"s{i}") for i, s in enumerate(_own_segments(branch))]
        columns.append(_own_role(branch).label("role"))
    return select(*columns).where(*_base(branch, role), *keyed).order_by(sid).limit(THROUGH)


def _build(page: Any, role: str | None) -> Any:
    """The page's rows (``branch``, ``id``, ``k`` their order) with the segments of their objects, read
    by primary key in each branch's table: for the pages whose streams did not carry them."""
    parts = []
    for branch in _branches(role):
        model = branch.model
        parts.append(
            select(
                page.c.branch,
                page.c.id,
                page.c.k,
                *(s.label(f"s{i}") for i, s in enumerate(_own_segments(branch))),
                _own_role(branch).label("role"),
            )
            .select_from(page.join(model, and_(in_school(model, SCHOOL), model.id == page.c.id)))
            .where(page.c.branch == _number(branch))
        )
    return union_all(*parts).subquery("b")


def _names(page: Any, role: str | None) -> Any:
    """The usernames of the page's persons, joined set-wise: each branch's page rows with ``accounts``
    by the school and the person (one index range per row, no correlated subquery)."""
    parts = []
    for branch in _branches(role):
        link = _account_link(branch.model)
        parts.append(
            select(page.c.branch, page.c.id, col(Account.username).label("username"))
            .select_from(page.join(Account, and_(in_school(Account, SCHOOL), link == page.c.id)))
            .where(page.c.branch == _number(branch))
        )
    return union_all(*parts).subquery("n")


def _agents(page: Any, role: str | None, base: Any) -> Any | None:
    """The agents of the page's pupils (their active contacts) and contacts (their active pupils) as
    refs in sourcedId order, with a contact's relationship (its first, which makes its role), grouped
    once for the page. None when no branch of the collection has agents."""
    parts = []
    for branch in _branches(role):
        if branch.agents_of is None:
            continue
        owner, other_column, other = branch.agents_of
        agent = key(other)
        refs: Any = func.string_agg(json_ref(base, "user", agent), aggregate_order_by(COMMA, agent))
        relation: Any
        joined = and_(in_school(other, SCHOOL), other.id == other_column)
        if branch.model is Contact:  # the role counts every link; the agents are the active pupils
            refs, relation = refs.filter(other.active), func.min(PupilContact.relationship)
        else:
            joined, relation = and_(joined, other.active), null()
        parts.append(
            select(
                page.c.branch,
                owner.label("id"),
                cast(relation, String).label("relation"),
                refs.label("refs"),
            )
            .select_from(
                page.join(PupilContact, and_(in_school(PupilContact, SCHOOL), owner == page.c.id)).join(
                    other, joined
                )
            )
            .where(page.c.branch == _number(branch))
            .group_by(page.c.branch, owner)
        )
    return union_all(*parts).subquery("a") if parts else None


def _objects_select(rows: Any, page: Any, role: str | None, *extra: Any) -> Any:
    """The page as one row: its objects (JSON text, in order ``k``), the pupils among them, its count and
    the stamp, from ``rows`` (the page with its segments) and the usernames and agents merged in."""
    names = _names(page, role)
    agents = _agents(page, role, BASE)
    joined = rows.outerjoin(names, and_(names.c.branch == rows.c.branch, names.c.id == rows.c.id))
    role_json = rows.c.role
    refs: Any = literal("", Text)
    if agents is not None:
        joined = joined.outerjoin(agents, and_(agents.c.branch == rows.c.branch, agents.c.id == rows.c.id))
        contact_role = case(CONTACT_ROLES, value=func.coalesce(agents.c.relation, "PARENT"), else_="guardian")
        role_json = case((rows.c.branch == CONTACTS, json_text(contact_role)), else_=rows.c.role)
        refs = func.coalesce(agents.c.refs, "")
    obj = func.concat(
        rows.c.s0,
        json_text(func.coalesce(names.c.username, "")),
        rows.c.s1,
        role_json,
        rows.c.s2,
        refs,
        _tail(),
    )
    return select(
        stamp_sql(SCHOOL).label("stamp"),
        func.string_agg(obj, aggregate_order_by(COMMA, rows.c.k)).label("objects"),
        func.array_agg(rows.c.id).filter(rows.c.branch == PUPILS).label("pupils"),
        func.count().label("count"),
        *extra,
    ).select_from(joined)


def _count(role: str | None) -> Any:
    counted = union_all(*(select(literal(1).label("one")).where(*_base(b, role)) for b in _branches(role)))
    return select(func.count()).select_from(counted.subquery("c")).scalar_subquery()


def _inline_constants(stmt: Any) -> Any:
    """The statement with its constants (JSON punctuation, vocabulary, branch numbers, the kinds of
    restriction: the anonymous parameters the expressions above made, none a request's value) written
    into its text, leaving only the named parameters (school, URL, position, sizes) bound: a few hundred
    fewer parameters to encode and bind on every execution, and no list parameter (so it can be
    :class:`common.prepared.Prepared`)."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    def inline(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.unique and element.value is not None:
            render: Any = element.type.literal_processor(dialect)
            if render is None:
                return None
            if element.expanding:
                return tuple_(*(cast(literal_column(render(v)), element.type) for v in element.value))
            return cast(literal_column(render(element.value)), element.type)
        return None

    return replacement_traverse(stmt, {}, inline)


def _sized_text(stmt: Any, sizes: dict[str, str]) -> Any:
    """The statement with its named sizes (``limit``, ``through``) written into its text as given."""

    def inline(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in sizes:
            return literal_column(sizes[element.key], Integer)
        return None

    return replacement_traverse(stmt, {}, inline)


ROWS: Any = bindparam("limit", type_=Integer, literal_execute=True)
THROUGH: Any = bindparam("through", type_=Integer, literal_execute=True)
OFFSET: Any = bindparam("offset", type_=Integer, literal_execute=True)
"""The page's size, the rows a stream reads and the offset: written into the statement's text when it
runs (one prepared statement per value), so that the plan PostgreSQL keeps for it knows how many rows the
page joins; with them as parameters, its generic plan guessed a few and joined the page's usernames and
agents by nested loops over each other (quadratic: 0.4 s for a page of 1,000)."""


@lru_cache(maxsize=64)
def keyed_statement(role: str | None, after: bool, offset: bool, count: bool) -> Any:
    """The keyed page's statement for one shape, built once (it is large: building it took longer than
    executing a small page); the school, URL, position, limit and offset are bound parameters."""
    # From a position (or the start) each stream carries the segments of the rows it yields, and the
    # merge pulls no more rows from a stream than the page takes; past an OFFSET the page's rows are read
    # again by key instead, so the skipped rows cost their index entries only.
    built = after or not offset
    streams = [
        _stream(branch, role, sourced=sourced, after=after, built=built)
        for branch in _branches(role)
        for sourced in (True, False)
    ]
    union = union_all(*streams).subquery("u")
    page = select(union, union.c.sid.label("k")).order_by(union.c.sid).limit(ROWS)
    if offset:
        page = page.offset(OFFSET)
    p = page.cte("p")
    rows = p if built else _build(p, role)
    extra = [func.max(p.c.sid).label("last") if built else func.max(rows.c.k).label("last")]
    if count:
        extra.append(_count(role).label("total"))
    return _inline_constants(_objects_select(rows, p, role, *extra))


SIZE_MARK = "/*page size*/2147483647"
"""What the page size is compiled as in a shape's text (:func:`_shape`), replaced by the size itself for
each size (:class:`_SizedText`). A comment and the largest integer, so a text that was not sized would
still be valid SQL."""


@lru_cache(maxsize=32)
def _shape(role: str | None, after: bool, count: bool) -> Prepared:
    """The keyed statement of a page read from a position or from the start, compiled once per process
    (:class:`common.prepared.Prepared`) with :data:`SIZE_MARK` where its size goes: SQLAlchemy's walk of
    this large statement for its cache key, on every execution, cost more than a small page's reading,
    and walking and compiling it again for each page size cost 100-150 ms on the first page of each size."""
    stmt = keyed_statement(role, after, False, count)
    return Prepared(_sized_text(stmt, {"limit": SIZE_MARK, "through": SIZE_MARK}))


class _SizedText(Prepared):
    """A shape's compiled text with one page size written into it (a string replacement of
    :data:`SIZE_MARK`): its own SQL text, so its own server-side prepared statement and generic plan,
    planned for that many rows."""

    def __init__(self, shape: Prepared, limit: int) -> None:
        super().__init__(shape.statement)
        self._shape, self._limit = shape, int(limit)

    def compiled_for(self, dialect: Any) -> CompiledText:
        found = self._compiled.get(id(dialect))
        if found is not None and found[0] is dialect:
            return found[1]
        base = self._shape.compiled_for(dialect)
        assert base.sql.count(SIZE_MARK) >= 2, "the shape's text carries its size marks"
        made = dataclasses.replace(base, sql=base.sql.replace(SIZE_MARK, str(self._limit)))
        self._compiled[id(dialect)] = (dialect, made)
        return made


@lru_cache(maxsize=256)
def _prepared(role: str | None, after: bool, count: bool, limit: int) -> Prepared:
    """The keyed statement of a page read from a position or from the start, its size in its text: a
    consumer pages with one or two sizes; each is its own statement (and server-side prepared
    statement), made from its shape's text by replacing :data:`SIZE_MARK` (:class:`_SizedText`)."""
    return _SizedText(_shape(role, after, count), limit)


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
    page's end, merged and cut; the usernames and agents merged in for the page's rows."""
    params: dict[str, Any] = {"school_id": school_id, "base": base}
    row: Sequence[Any] | None
    if after is not None or not offset:
        if after is not None:
            params["after"] = after
        connection = await session.connection()
        statement = _prepared(role, after is not None, count, limit)
        row = await statement.first(connection, params)  # by the driver (common.driver.DRIVER_CACHED_CHARS)
    else:
        params |= {"limit": limit, "offset": offset, "through": offset + limit}
        row = (await session.execute(keyed_statement(role, False, True, count), params)).one()
    assert row is not None  # an aggregate's one row
    # keyed_statement's columns: the stamp, the objects, the pupils, the count, the last, the total if counted.
    stamp, objects, pupils, returned, last = row[:5]
    return UserPage(_objects(objects), returned, list(pupils or []), row[5] if count else None, stamp, last)


def _objects(value: str | None) -> bytes:
    return f"[{value or ''}]".encode()


Persons = Callable[[Any, Any], ColumnElement[bool]]
"""A condition on a branch's model (``staff``, ``pupils``, ``contacts``) given the statement's school parameter:
a nested endpoint's (:mod:`partners.oneroster.nested`)."""


def general_statements(role: str | None, query: Query, persons: Persons | None = None) -> tuple[Any, Any]:
    """The general plan's statements: the page (its objects, the pupils among them, its count, the stamp
    and the filter's total, by a window count) and the total alone (for a page past the end). The
    filterable columns the query names are filtered, sorted and cut in SQL; the objects are built for the
    page's rows only. ``persons``: a nested endpoint's condition on each branch's model and the school
    (:mod:`partners.oneroster.nested`)."""
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
                col(branch.model.id).label("id"),
                *(columns[name]().label(name) for name in names),
            ).where(*_base(branch, role), *([] if persons is None else [persons(branch.model, SCHOOL)]))
        )
    rows = union_all(*parts).subquery("r")
    condition = where(rows.c, query.filter)
    order = rows.c[query.sort] if query.sort else rows.c.sourcedId
    ordering = [order.desc().nulls_last() if query.descending else order.asc().nulls_first()]
    if query.sort and query.sort != "sourcedId":
        ordering.append(rows.c.sourcedId.asc())
    stmt = select(
        rows.c.branch,
        rows.c.id,
        func.row_number().over(order_by=ordering).label("k"),
        func.count().over().label("total"),
    )
    counted = select(func.count()).select_from(rows)
    if condition is not None:
        stmt, counted = stmt.where(condition), counted.where(condition)
    p = stmt.order_by(*ordering).offset(query.offset).limit(query.limit).cte("p")
    total = select(func.max(p.c.total)).scalar_subquery()
    return _objects_select(_build(p, role), p, role, total.label("total")), counted


async def read_general(
    session: Any,
    school_id: uuid.UUID,
    role: str | None,
    query: Query,
    *,
    base: str,
    persons: Persons | None = None,
) -> UserPage:
    """A page under any filter and sort (:func:`general_statements`): one statement, a page past the end
    counts in a second."""
    page, counted = general_statements(role, query, persons)
    bound = {"school_id": school_id, "base": base}
    row = (await session.execute(page, bound)).one()
    total = row.total
    if total is None:
        total = (await session.execute(counted, bound)).scalar_one()
    return UserPage(_objects(row.objects), row.count, list(row.pupils or []), total, row.stamp, None)


def role_of(collection: str) -> str | None:
    return {"students": STUDENT, "teachers": TEACHER}.get(collection)

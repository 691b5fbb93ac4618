# mypy: disable-error-code="attr-defined,union-attr"
"""Batch reads of learning data for the request's DataLoaders, always within the caller's row scope.

Like :mod:`people.queries`: every function takes the :class:`Principal` and returns only rows it may
see, and issues one statement however many keys it gets. Keys of rows outside the scope come back empty.
A restricted pupil's rows are a school admin's only (``people.processing.visible_to``, LL-S2 (xiii)).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Float,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    join,
    literal_column,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, distinct_on
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.driver import session_connection
from common.prepared import Prepared
from models import Account, Group, GroupPupil, Pupil
from models.content import StoredFile
from models.curriculum import SECURE_OR_BETTER, Judgement
from models.learning import Achievement, LearningGoal, Submission
from people.processing import visible_to, visible_to_all
from tenants.scoping import in_school, scoped


@dataclass(frozen=True)
class LatestJudgement:
    """The judgement that counts for one pupil and rung: the latest by date, then by recording time."""

    pupil_id: uuid.UUID
    rung_id: uuid.UUID
    level: str
    assessed_on: date


def _pupils_within(principal: Principal, pupil_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return [p for p in pupil_ids if principal.may_see_pupil(p)]


def latest_judgements_stmt(
    school_id: uuid.UUID, pupil_ids: Sequence[uuid.UUID], ladder_ids: Sequence[uuid.UUID]
) -> Select[Any]:
    """``DISTINCT ON (pupil, rung)`` over the judgement index, newest first: one row per pupil and rung."""
    stmt: Select[Any] = (
        select(Judgement.pupil_id, Judgement.rung_id, Judgement.level, Judgement.assessed_on)
        .where(
            in_school(Judgement, school_id),
            Judgement.pupil_id.in_(pupil_ids),
            Judgement.ladder_id.in_(ladder_ids),
        )
        .ext(distinct_on(Judgement.pupil_id, Judgement.rung_id))
        .order_by(
            Judgement.pupil_id,
            Judgement.rung_id,
            Judgement.assessed_on.desc(),
            Judgement.recorded_at.desc(),
        )
    )
    return stmt


Cells = dict[str, list[str]]
"""A pupil's latest judgements: rung id (as text) -> [level, assessed_on (ISO date)]."""


@cache
def _cells_stmt(*, hide_restricted: bool = False) -> Select[Any]:
    """Built once per variant: the latest judgements, folded per pupil into one JSON object in PostgreSQL,
    so that a class of 30 pupils x 15 rungs comes back as 30 rows, not 450; ``hide_restricted`` leaves out
    restricted pupils (every caller but a school admin)."""
    latest_stmt = latest_judgements_stmt(
        bindparam("school_id"),
        bindparam("pupil_ids", expanding=True),
        bindparam("ladder_ids", expanding=True),
    )
    if hide_restricted:
        latest_stmt = latest_stmt.where(visible_to_all(Judgement, Judgement.pupil_id))
    latest = latest_stmt.subquery("latest")
    cells = func.json_object_agg(
        latest.c.rung_id, func.json_build_array(latest.c.level, latest.c.assessed_on)
    )
    stmt: Select[Any] = select(latest.c.pupil_id, type_coerce(cells, JSON)).group_by(latest.c.pupil_id)
    return stmt


async def latest_cells(
    session: AsyncSession,
    principal: Principal,
    pupil_ids: Sequence[uuid.UUID],
    ladder_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, Cells]:
    """pupil id -> their latest judgements on the ladders, for the pupils the caller may see; one statement."""
    visible = _pupils_within(principal, pupil_ids)
    if not visible or not ladder_ids:
        return {}
    result = await session.execute(
        _cells_stmt(hide_restricted=not principal.is_admin),
        {"school_id": principal.school_id, "pupil_ids": visible, "ladder_ids": list(ladder_ids)},
    )
    return {pupil_id: cells for pupil_id, cells in result.all()}


_GROUP_PREFIX = "group_"


def _latest_of_pupil(pupil_id: Any, correlate: Any) -> Any:
    """The latest judgement on each rung of the ``ladder_id`` parameter's ladder for the pupil whose id is
    ``pupil_id`` (a column of ``correlate``): one backward range scan of the (school, ladder, pupil, rung,
    date) index, one row per rung."""
    return (
        select(Judgement.rung_id, Judgement.level, Judgement.assessed_on)
        .where(
            in_school(Judgement, bindparam("school_id")),
            Judgement.pupil_id == pupil_id,
            Judgement.ladder_id == bindparam("ladder_id"),
        )
        .ext(distinct_on(Judgement.rung_id))
        # All descending: one backward range scan of the (school, ladder, pupil, rung, date) index.
        .order_by(Judgement.rung_id.desc(), Judgement.assessed_on.desc(), Judgement.recorded_at.desc())
        .correlate(correlate)
        .subquery("latest")
    )


@cache
def _class_stmt(
    *, scoped_pupils: bool, closed_groups: bool, hide_restricted: bool = False, with_cells: bool = True
) -> Select[Any]:
    """Built once per variant, with bound parameters: ``school_id``, ``group_id``, ``ladder_id`` and, for a
    caller with a pupil scope, ``pupil_scope`` (one array parameter: the statement text never changes).
    ``hide_restricted``: restricted pupils are left out (every caller but a school admin, LL-S2 (xiii)).

    Columns, not entities: the pupil's columns under their own names, then ``cells`` (unless
    ``with_cells`` is False: the compiled class view reads the judgements itself), then the group's
    columns prefixed ``group_``. Reading 30 rows as ORM entities (identity map, instance state) cost more
    than the statement itself."""
    school: Any = bindparam("school_id")
    # Per pupil, the latest judgement on each rung of the ladder (the judgement index, pupil by pupil),
    # folded into one JSON object: the class comes back as one row per pupil.
    latest = _latest_of_pupil(Pupil.id, Pupil)
    cells = (
        select(
            func.json_object_agg(
                latest.c.rung_id, func.json_build_array(latest.c.level, latest.c.assessed_on)
            )
        )
        .correlate(Pupil)
        .scalar_subquery()
    )
    member = and_(in_school(Pupil, school), Pupil.id == GroupPupil.pupil_id, Pupil.active)
    if scoped_pupils:
        scope = bindparam("pupil_scope", type_=ARRAY(PG_UUID(as_uuid=True)))
        member = and_(member, Pupil.id == any_(scope))
    if hide_restricted:
        member = and_(member, visible_to_all(Pupil, Pupil.id))
    members = join(GroupPupil, Pupil, member)
    stmt = (
        select(
            *Pupil.__table__.c,
            *([type_coerce(cells, JSON).label("cells")] if with_cells else []),
            *(column.label(_GROUP_PREFIX + column.key) for column in Group.__table__.c),
        )
        .select_from(Group)
        .outerjoin(members, and_(in_school(GroupPupil, school), GroupPupil.group_id == Group.id))
        .where(in_school(Group, school), Group.id == bindparam("group_id"))
        .order_by(Pupil.surname, Pupil.forename, Pupil.id)
    )
    if not closed_groups:
        stmt = stmt.where(Group.active)  # a closed group is the admin's to see (LL 11.2)
    return stmt


async def class_rows(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, ladder_id: uuid.UUID
) -> tuple[Group, list[tuple[Pupil, Cells]]] | None:
    """The group, its active pupils the caller may see (name order) and each one's latest judgements on
    the ladder: ONE statement, whatever the class size. None when the group is not visible.

    Each pupil is the statement's row: its columns read by attribute, as on the model (a ``Pupil`` to its
    readers, which only read); the group likewise, from the first row's ``group_`` columns."""
    if not principal.may_see_group(group_id):
        return None
    scope = principal.pupil_scope
    stmt = _class_stmt(
        scoped_pupils=scope is not None,
        closed_groups=principal.is_admin,
        hide_restricted=not principal.is_admin,
    )
    params: dict[str, Any] = {"school_id": principal.school_id, "group_id": group_id, "ladder_id": ladder_id}
    if scope is not None:
        params["pupil_scope"] = list(scope)
    connection = await session.connection()  # Core: columns only (see tenants.context.enter_school)
    rows = (await connection.execute(stmt, params)).all()
    if not rows:
        return None
    first = rows[0]._mapping
    # The group's columns as attributes, like the pupils' (a model instance would cost more to build).
    group = SimpleNamespace(**{column.key: first[_GROUP_PREFIX + column.key] for column in Group.__table__.c})
    return cast(Group, group), [(cast(Pupil, row), row.cells or {}) for row in rows if row.id is not None]


def _grouped(rows: Sequence[Any], keys: Sequence[uuid.UUID], key: str) -> list[list[Any]]:
    found: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        found[getattr(row, key)].append(row)
    return [found.get(k, []) for k in keys]


async def achievements_of_pupils(
    session: AsyncSession, principal: Principal, pupil_ids: Sequence[uuid.UUID]
) -> list[list[Achievement]]:
    visible = _pupils_within(principal, pupil_ids)
    if not visible:
        return [[] for _ in pupil_ids]
    stmt = (
        scoped(Achievement, principal.school_id)
        .where(Achievement.pupil_id.in_(visible), visible_to(principal, Achievement, Achievement.pupil_id))
        .order_by(Achievement.achieved_on.desc(), Achievement.title, Achievement.id)
    )
    return _grouped((await session.execute(stmt)).scalars().all(), pupil_ids, "pupil_id")


async def goals_of_pupils(
    session: AsyncSession, principal: Principal, pupil_ids: Sequence[uuid.UUID]
) -> list[list[LearningGoal]]:
    visible = _pupils_within(principal, pupil_ids)
    if not visible:
        return [[] for _ in pupil_ids]
    stmt = (
        scoped(LearningGoal, principal.school_id)
        .where(LearningGoal.pupil_id.in_(visible), visible_to(principal, LearningGoal, LearningGoal.pupil_id))
        .order_by(LearningGoal.status != "OPEN", LearningGoal.created_at.desc(), LearningGoal.id)
    )
    return _grouped((await session.execute(stmt)).scalars().all(), pupil_ids, "pupil_id")


async def submissions_of_assignments(
    session: AsyncSession, principal: Principal, assignment_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], Submission]:
    """(assignment id, pupil id) -> submission, for pupils the caller may see; one statement."""
    if not assignment_ids:
        return {}
    stmt = scoped(Submission, principal.school_id).where(
        Submission.assignment_id.in_(assignment_ids), visible_to(principal, Submission, Submission.pupil_id)
    )
    if principal.pupil_scope is not None:
        if not principal.pupil_scope:
            stmt = stmt.where(false())
        else:
            stmt = stmt.where(Submission.pupil_id.in_(principal.pupil_scope))
    return {(s.assignment_id, s.pupil_id): s for s in (await session.execute(stmt)).scalars()}


async def usernames_of_accounts(
    session: AsyncSession, principal: Principal, account_ids: Sequence[uuid.UUID]
) -> list[str | None]:
    """Usernames (school admins only: callers check the policy)."""
    stmt = select(Account.id, Account.username).where(
        in_school(Account, principal.school_id), Account.id.in_(account_ids)
    )
    found = {i: name for i, name in (await session.execute(stmt)).all()}
    return [found.get(i) for i in account_ids]


async def active_members(
    session: AsyncSession, school_id: uuid.UUID, group_id: uuid.UUID, pupil_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``pupil_ids`` are active pupils in the group."""
    if not pupil_ids:
        return set()
    stmt = (
        select(GroupPupil.pupil_id)
        .join(Pupil, and_(in_school(Pupil, school_id), Pupil.id == GroupPupil.pupil_id))
        .where(
            in_school(GroupPupil, school_id),
            GroupPupil.group_id == group_id,
            GroupPupil.pupil_id.in_(pupil_ids),
            Pupil.active,
        )
    )
    return set((await session.execute(stmt)).scalars())


async def files_by_ids(
    session: AsyncSession, school_id: uuid.UUID, file_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StoredFile]:
    """Stored files of the school by id (their readers' policies decide who sees them); one statement."""
    stmt = scoped(StoredFile, school_id).where(StoredFile.id.in_(list(file_ids)))
    return {f.id: f for f in (await session.execute(stmt)).scalars()}


# --- the class view as JSON built by PostgreSQL ----------------------------------------------------------

GlobalIdSql = Callable[[str, Any], Any]
"""``(type name, uuid column) -> SQL text expression`` of an opaque id, as the API spells it."""

GROUP_VALUES = ("id", "name")
"""What :class:`ClassJsonShape` can ask of the group."""
PUPIL_VALUES = ("id", "forename", "preferred_forename", "surname")
"""What it can ask of each pupil."""
PROGRESS_VALUES = ("levels", "secure_share", "secure_count")
"""What it can ask of each pupil's progress (besides the pupil)."""


@dataclass(frozen=True)
class ClassJsonShape:
    """Which values the JSON of a class view carries, under which keys, in which order: each entry is
    ``(key, value)`` with a value of ``GROUP_VALUES``/``PUPIL_VALUES``/``PROGRESS_VALUES``, or, for the
    pupil inside a progress entry, ``(key, ("pupil", <its entries>))``. ``group`` or ``pupils`` None: not
    asked for. Hashable, so each shape's statement is built once."""

    group: tuple[tuple[str, str], ...] | None
    pupils: tuple[tuple[str, Any], ...] | None


@dataclass(frozen=True)
class ClassJson:
    """The class view's JSON texts as PostgreSQL built them (None where the shape did not ask), and the ids
    the field policies are asked about."""

    group: str | None
    pupils: str | None
    group_id: uuid.UUID
    pupil_ids: list[uuid.UUID]


_RESPONSE_KEY = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


def _json_object(entries: Sequence[tuple[str, Any]]) -> Any:
    """``json_build_object`` of the entries; the keys are GraphQL response keys (names, checked), written
    into the statement, which is built once per shape."""
    parts: list[Any] = []
    for key, value in entries:
        if not _RESPONSE_KEY.fullmatch(key):
            raise ValueError(f"not a response key: {key!r}")
        parts += [literal_column(f"'{key}'"), value]
    return func.json_build_object(*parts)


@cache
def _class_json_stmt(
    shape: ClassJsonShape,
    global_id: GlobalIdSql,
    *,
    scoped_pupils: bool,
    closed_groups: bool,
    hide_restricted: bool = False,
) -> Prepared:
    """The class view's statement (:func:`_class_stmt`: the same rows, scope and order) folded by
    PostgreSQL into the JSON ``shape`` asks for: one row, or none when the group is not visible. Levels
    follow the ``rung_ids`` parameter (the ladder's order); a share is rounded half-even to 4 places as
    ``round(float, 4)`` rounds it, and written as the API writes a float (``0.0``, not ``0``)."""
    rows = _class_stmt(
        scoped_pupils=scoped_pupils,
        closed_groups=closed_groups,
        hide_restricted=hide_restricted,
        with_cells=False,
    ).cte("class_rows")
    rung_ids = bindparam("rung_ids", type_=ARRAY(PG_UUID(as_uuid=True)))
    rung = func.unnest(rung_ids).table_valued("id", with_ordinality="position").render_derived().alias("rung")
    # Per pupil, ONE pass over the ladder's rungs joined to the pupil's latest judgements (the general
    # path's read, :func:`_latest_of_pupil`): the levels in ladder order and the secure count together (an
    # aggregate: computed once per pupil, however often the JSON below names it). The judgements are read
    # as rows, not folded into a JSON object of cells and parsed back for every rung.
    latest = _latest_of_pupil(rows.c.id, rows)
    level = latest.c.level
    per_pupil = (
        select(
            func.json_agg(aggregate_order_by(level, rung.c.position)).label("levels"),
            func.count().filter(or_(*(level == value for value in SECURE_OR_BETTER))).label("secure"),
        )
        .select_from(rung.outerjoin(latest, latest.c.rung_id == rung.c.id))
        .correlate(rows)
        .lateral("progress")
    )
    secure = per_pupil.c.secure
    # round(x, 4) in Python rounds half to even; so does round(float8) (rint) on x * 10000.
    rungs = sql_cast(func.nullif(func.cardinality(rung_ids), literal_column("0")), Float)
    ten_thousand: Any = literal_column("10000::float8")
    share = func.round(sql_cast(secure, Float) / rungs * ten_thousand, type_=Float) / ten_thousand
    share_text = sql_cast(func.coalesce(share, literal_column("0::float8")), Text)
    # Written as a float: "0.0" and "1.0", as the API writes them (json keeps the text it is given).
    share_json = sql_cast(
        case((share_text.op("~")(literal_column(r"'^-?[0-9]+$'")), share_text + ".0"), else_=share_text),
        JSON,
    )
    pupil_values = {
        "id": global_id("Pupil", rows.c.id),
        "forename": rows.c.forename,
        "preferred_forename": rows.c.preferred_forename,
        "surname": rows.c.surname,
    }
    progress_values = {
        "levels": per_pupil.c.levels,
        "secure_share": share_json,
        "secure_count": secure,
    }
    group_values = {
        "id": global_id("Group", rows.c[_GROUP_PREFIX + "id"]),
        "name": rows.c[_GROUP_PREFIX + "name"],
    }
    columns: list[Any] = [
        select(rows.c[_GROUP_PREFIX + "id"]).limit(1).scalar_subquery(),
        select(func.array_agg(rows.c.id)).where(rows.c.id.is_not(None)).scalar_subquery(),
    ]
    if shape.group is not None:
        group = _json_object([(key, group_values[value]) for key, value in shape.group])
        columns.append(sql_cast(select(group).limit(1).scalar_subquery(), Text))
    else:
        columns.append(null())
    if shape.pupils is not None:
        entries = []
        for key, value in shape.pupils:
            if isinstance(value, tuple):
                entries.append((key, _json_object([(k, pupil_values[v]) for k, v in value[1]])))
            else:
                entries.append((key, progress_values[value]))
        entry = _json_object(entries)
        pupils = (
            select(
                func.coalesce(
                    func.json_agg(aggregate_order_by(entry, rows.c.surname, rows.c.forename, rows.c.id)),
                    literal_column("'[]'::json"),
                )
            )
            .select_from(rows)
            .join(per_pupil, true())
            .where(rows.c.id.is_not(None))
            .scalar_subquery()
        )
        columns.append(sql_cast(pupils, Text))
    else:
        columns.append(null())
    return Prepared(select(*columns).where(select(rows.c[_GROUP_PREFIX + "id"]).exists()))


async def class_json(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    ladder_rungs: Sequence[uuid.UUID],
    ladder_id: uuid.UUID,
    shape: ClassJsonShape,
    global_id: GlobalIdSql,
) -> ClassJson | None:
    """The class view of :func:`class_rows` (same rows, same scope, ONE statement) as the JSON ``shape``
    asks for, built by PostgreSQL. None when the group is not visible. The caller decides, with the field
    policies, whether the caller may read what it asked (``group_id``, ``pupil_ids``)."""
    if not principal.may_see_group(group_id):
        return None
    scope = principal.pupil_scope
    stmt = _class_json_stmt(
        shape,
        global_id,
        scoped_pupils=scope is not None,
        closed_groups=principal.is_admin,
        hide_restricted=not principal.is_admin,  # as class_rows: restricted pupils are an admin's (LL-S2 (xiii))
    )
    params: dict[str, Any] = {
        "school_id": principal.school_id,
        "group_id": group_id,
        "ladder_id": ladder_id,
        "rung_ids": list(ladder_rungs),
    }
    if scope is not None:
        params["pupil_scope"] = list(scope)
    connection = await session_connection(session)  # Core: columns only (see tenants.context.enter_school)
    row = await stmt.first(connection, params)  # one row at most: the group's
    if row is None:
        return None
    found_group, pupil_ids, group, pupils = row
    return ClassJson(group, pupils, found_group, list(pupil_ids or ()))

"""How an import's statements run on Citus (ADR 0019): each one on the worker that holds the school's shards.

Every statement of an import (its checks, matching and writes) is written once, for the staging tables of
roster/staging.py, and filters the school's own tables by ``school_id`` through tenants/scoping.py. On plain
PostgreSQL it runs as written (:func:`execute` with no school: the statement object itself, no cost). On
Citus the staging tables are the permanent, distributed ones (migration 0020), and :func:`execute` first
rewrites the statement (:func:`for_citus`):

* every staging table (or alias of one) in a FROM, a JOIN or the target of an UPDATE or DELETE gets
  ``school_id = <the school>`` (in the WHERE clause, or the ON clause of the table it joins, so that an
  outer join stays one), so that every distributed table the statement reads names one shard group: Citus
  then sends it whole to that worker, correlated subqueries and all, where row-level security applies as
  anywhere (without it, a subquery over a staging table would ask every shard and Citus refuses the join);
* an INSERT into a staging table from a SELECT gets the ``school_id`` column (the school);
* an INSERT ... SELECT into any distributed table gets a RETURNING clause and is counted by an outer
  SELECT: Citus runs such an insert through the coordinator, and without RETURNING as a COPY into the
  shards, which row-level security refuses; with it, as an INSERT on the worker. The count is the
  statement's row count (:func:`rowcount`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Alias,
    Delete,
    Insert,
    Join,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors
from sqlalchemy.sql.base import _from_objects

from roster import staging

STAGING = frozenset(staging.ALL)


def _staged(from_: Any) -> Any | None:
    """``from_`` if it is a staging table or an alias of one, else None."""
    base = from_.element if isinstance(from_, Alias) else from_
    return from_ if isinstance(base, Table) and base in STAGING else None


def _leftmost(from_: Any) -> Any:
    while isinstance(from_, Join):
        from_ = from_.left
    return from_


def for_citus(stmt: Any, school_id: uuid.UUID) -> Any:
    """The statement with the school added wherever a staging table is read or written (see the module)."""

    def school() -> Any:
        return bindparam(None, school_id, type_=UUID(as_uuid=True), unique=True)

    def filters(froms: Any) -> list[Any]:
        """The school condition of each staging table among ``froms`` (a join: its leftmost table; the
        tables it joins are filtered in its ON clause by :func:`visit_join`)."""
        conditions = []
        for from_ in froms:
            staged = _staged(_leftmost(from_))
            if staged is not None:
                conditions.append(staged.c[staging.SCHOOL] == school())
        return conditions

    def visit_select(element: Select[Any]) -> None:
        # Joins made with Select.join()/outerjoin() are kept apart until compiled: the tables they join are
        # filtered in their ON clause here, as visit_join does for Join objects.
        joins = []
        for target, onclause, left, flags in element._setup_joins:
            staged = _staged(target)
            if staged is not None and onclause is not None:
                onclause = and_(onclause, staged.c[staging.SCHOOL] == school())
            joins.append((target, onclause, left, flags))
        element._setup_joins = tuple(joins)
        element._where_criteria += tuple(filters(element.get_final_froms()))

    def visit_join(element: Join) -> None:
        staged = _staged(element.right)
        if staged is not None:
            element.onclause = and_(element.onclause, staged.c[staging.SCHOOL] == school())

    def visit_dml(element: Update | Delete) -> None:
        froms: list[Any] = [element.table]
        values = getattr(element, "_values", None) or {}
        for criterion in (*element._where_criteria, *values.values()):
            froms.extend(f for f in _from_objects(criterion) if f is not element.table)
        seen: list[Any] = []
        for from_ in froms:
            if not any(from_ is s for s in seen):
                seen.append(from_)
        element._where_criteria += tuple(filters(seen))

    def visit_insert(element: Insert) -> None:
        if _staged(element.table) is not None and element._select_names and element.select is not None:
            element._select_names = [*element._select_names, staging.SCHOOL]
            element.select = element.select.add_columns(literal(school_id, UUID(as_uuid=True)))

    return visitors.cloned_traverse(
        stmt,
        {},
        {
            "select": visit_select,
            "join": visit_join,
            "update": visit_dml,
            "delete": visit_dml,
            "insert": visit_insert,
        },
    )


def _counted(stmt: Any) -> Any:
    """An INSERT ... SELECT without RETURNING as ``WITH counted AS (INSERT ... RETURNING 1) SELECT count(*)``."""
    if isinstance(stmt, Insert) and stmt.select is not None and not stmt._returning:
        inserted = stmt.returning(literal_column("1")).cte("counted")
        return select(func.count()).select_from(inserted)
    return stmt


async def execute(
    session: AsyncSession, stmt: Any, routed: uuid.UUID | None, params: dict[str, Any] | None = None
) -> Any:
    """Execute ``stmt``: as it is on plain PostgreSQL (``routed`` None), rewritten for Citus when ``routed``
    is the school the import is for."""
    if routed is not None:
        stmt = _counted(for_citus(stmt, routed))
    return await session.execute(stmt, params)


async def rowcount(session: AsyncSession, stmt: Any, routed: uuid.UUID | None) -> int:
    """The rows a write changed (an INSERT ... SELECT counted by :func:`execute` on Citus)."""
    counted = (
        routed is not None and isinstance(stmt, Insert) and stmt.select is not None and not stmt._returning
    )
    result = await execute(session, stmt, routed)
    if counted:
        return int(result.scalar_one())
    return int(result.rowcount)

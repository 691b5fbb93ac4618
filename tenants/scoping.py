"""THE tenant-scoping helper: every query of a tenant table goes through :func:`scoped` or :func:`in_school`.

Contract: the statement returned reads or changes rows of exactly one school, the one passed in. It is the
application's half of tenant isolation; the database's half is row-level security (``migrations/rls.py``),
bound per transaction by :func:`tenants.context.bind`. The two are independent on purpose: a query that
forgot this helper still sees nothing of another school, and a test (tests/test_tenancy.py) fails on any
hand-written ``school_id ==`` (or ``school_id.in_``) filter outside this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, any_, bindparam, cast, delete, false, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")
Stmt = TypeVar("Stmt", Select[Any], Update, Delete)


def in_school(model: Any, school_id: uuid.UUID) -> ColumnElement[bool]:
    """The predicate ``model.school_id = school_id`` for joins and subqueries."""
    column: ColumnElement[Any] = model.school_id
    return column == school_id


def same_school(left: Any, right: Any) -> ColumnElement[bool]:
    """The join predicate ``left.school_id = right.school_id``: two tenant tables joined within a school."""
    column: ColumnElement[Any] = left.school_id
    other: ColumnElement[Any] = right.school_id
    return column == other


def in_schools(model: Any, school_ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """The predicate ``model.school_id IN (...)`` for a read across several schools (a trust's, or the
    operator's aggregates); no school means no rows. Row-level security confines it to the transaction's
    bound schools in any case."""
    if not school_ids:
        return false()
    if len(school_ids) == 1:
        return in_school(model, school_ids[0])
    column: ColumnElement[Any] = model.school_id
    return column.in_(list(school_ids))


def among_schools(model: Any, school_ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """:func:`in_schools` as ``model.school_id = ANY(:array)``: one statement text however many schools, for a
    statement run often with a varying number of them (the audit sequencer's), which would otherwise be
    prepared anew, and take a place in each connection's statement cache, for every count. One school is
    :func:`in_school` (on Citus, a statement routed to its shard); none, no rows."""
    if len(school_ids) <= 1:
        return in_schools(model, school_ids)
    column: ColumnElement[Any] = model.school_id
    return column == any_(
        cast(
            bindparam(None, list(school_ids), type_=ARRAY(UUID(as_uuid=True))),
            ARRAY(UUID(as_uuid=True)),
        )
    )


def scoped(model: type[T], school_id: uuid.UUID) -> Select[T]:
    """``SELECT model`` restricted to one school."""
    return select(model).where(in_school(model, school_id))


def scoped_update(model: Any, school_id: uuid.UUID) -> Update:
    return update(model).where(in_school(model, school_id))


def scoped_delete(model: Any, school_id: uuid.UUID) -> Delete:
    return delete(model).where(in_school(model, school_id))


def restrict(stmt: Stmt, model: Any, school_id: uuid.UUID) -> Stmt:
    """Add the school restriction for ``model`` to an existing statement (one with joins, say)."""
    return stmt.where(in_school(model, school_id))

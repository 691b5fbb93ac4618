"""Reading a OneRoster collection or one object of it: the request's filter, sort and page as SQL over the
resource's statement (:mod:`partners.oneroster.resources`), the total, and the reads of pupils emitted for
the pupil access report (LRS 5.1, LRS 7.3: a partner's reads show there like a member of staff's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from audit.queries import BULK_PUPIL_READ, PUPIL_READ
from common.events import emit
from partners.oneroster.params import Filter, Query
from partners.oneroster.resources import Resource
from roster.reading import SchoolRef
from roster.session_settings import set_local


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(columns: Any, filter: Filter | None) -> ColumnElement[bool] | None:
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
            parts.append(column.ilike(f"%{_escape_like(p.value)}%", escape="\\"))
    if filter.connective == "OR":
        return or_(*parts)
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


PROVIDER_SETTINGS = {"enable_nestloop": "off", "work_mem": "64MB"}
"""Set for a collection read (transaction-local, restored after it), for the export's reason
(roster/session_settings.py): the statement reads the school's rows whole (the total, the sort) and joins
them set-based, on rows that may have no statistics yet right after an import, where the planner's nested
loops go quadratic. The request's statement timeout stays."""


async def read_page(
    session: AsyncSession, school: SchoolRef, resource: Resource, query: Query, *, extended: bool
) -> Page:
    """One page of the collection and the total the filter matches, in one statement (a window count);
    a page past the end counts in a second."""
    previous = await set_local(session, PROVIDER_SETTINGS)
    page = await _read_page(session, school, resource, query, extended=extended)
    await set_local(session, previous)
    return page


async def _read_page(
    session: AsyncSession, school: SchoolRef, resource: Resource, query: Query, *, extended: bool
) -> Page:
    rows = resource.rows(school, extended).subquery("r")
    where = _where(rows.c, query.filter)
    order = rows.c[query.sort] if query.sort else rows.c.sourcedId
    ordering = [order.desc().nulls_last() if query.descending else order.asc().nulls_first()]
    if query.sort and query.sort != "sourcedId":
        ordering.append(rows.c.sourcedId.asc())
    stmt = select(rows, func.count().over().label("_total")).order_by(*ordering)
    if where is not None:
        stmt = stmt.where(where)
    found = (await session.execute(stmt.offset(query.offset).limit(query.limit))).all()
    if found:
        total = found[0]._total
    else:
        count = select(func.count()).select_from(rows)
        total = (await session.execute(count.where(where) if where is not None else count)).scalar_one()
    await _record_pupils(session, resource, found)
    return Page(found, total)


async def read_one(
    session: AsyncSession, school: SchoolRef, resource: Resource, sourced_id: str, *, extended: bool
) -> Any | None:
    rows = resource.rows(school, extended).subquery("r")
    found = (await session.execute(select(rows).where(rows.c.sourcedId == sourced_id).limit(1))).first()
    if found is not None and resource.persons is not None:
        pupil: uuid.UUID | None = getattr(found, resource.persons)
        if pupil is not None:
            await emit(session, PUPIL_READ, target_type="Pupil", target_id=pupil, detail={"via": "oneroster"})
    return found


async def _record_pupils(session: AsyncSession, resource: Resource, rows: list[Any]) -> None:
    if resource.persons is None:
        return
    pupils = [str(getattr(r, resource.persons)) for r in rows if getattr(r, resource.persons) is not None]
    if pupils:
        await emit(
            session, BULK_PUPIL_READ, detail={"pupil_ids": pupils, "via": f"oneroster {resource.collection}"}
        )

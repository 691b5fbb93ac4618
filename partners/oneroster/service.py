"""Reading a OneRoster collection or one object of it: the request's filter, sort and page as SQL over the
resource's statement (:mod:`partners.oneroster.resources`), the total, and the reads of pupils emitted for
the pupil access report (LRS 5.1, LRS 7.3: a partner's reads show there like a member of staff's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.queries import BULK_PUPIL_READ, PUPIL_READ
from common.events import emit
from partners.oneroster import users
from partners.oneroster.nested import Within
from partners.oneroster.params import Filter, Predicate, Query
from partners.oneroster.positions import Positions
from partners.oneroster.resources import Resource
from roster.reading import SchoolRef
from roster.session_settings import set_local


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int


PROVIDER_SETTINGS = {"enable_nestloop": "off", "work_mem": "64MB"}
"""Set for a collection read (transaction-local, restored after it), for the export's reason
(roster/session_settings.py): the statement reads the school's rows whole (the total, the sort) and joins
them set-based, on rows that may have no statistics yet right after an import, where the planner's nested
loops go quadratic. The request's statement timeout stays."""


async def read_page(
    session: AsyncSession,
    school: SchoolRef,
    resource: Resource,
    query: Query,
    *,
    extended: bool,
    within: Within | None = None,
) -> Page:
    """One page of the collection (under a nested endpoint's condition, ``within``) and the total the
    filter matches, in one statement (a window count); a page past the end counts in a second."""
    previous = await set_local(session, PROVIDER_SETTINGS)
    page = await _read_page(session, school, resource, query, extended=extended, within=within)
    await set_local(session, previous)
    return page


async def _read_page(
    session: AsyncSession,
    school: SchoolRef,
    resource: Resource,
    query: Query,
    *,
    extended: bool,
    within: Within | None,
) -> Page:
    assert resource.rows is not None
    rows = resource.rows(school, extended).subquery("r")
    where = users.where(rows.c, query.filter)
    if within is not None and within.rows is not None:
        nested = within.rows(rows.c, school)
        where = nested if where is None else and_(nested, where)
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


@dataclass(frozen=True)
class Objects:
    """A page of objects already in the specification's JSON shape (the person collections)."""

    objects: bytes
    """One JSON array, compact UTF-8, as the response encodes it."""
    count: int
    total: int


async def read_people(
    session: AsyncSession,
    school_id: uuid.UUID,
    resource: Resource,
    query: Query,
    *,
    base: str,
    positions: Positions,
    within: Within | None = None,
) -> Objects:
    """A page of ``users``, ``students`` or ``teachers`` (:mod:`partners.oneroster.users`): in sourcedId
    order without a filter, from the position remembered for its offset when there is one (one
    statement); otherwise (a filter, another sort, a nested endpoint's condition on persons, ``within``:
    ``schools/{id}/students`` has none and is the collection) by filter, sort and offset (the first page always so, with its count, which keeps the listing's remembered positions
    when it is still at the same roster stamp and total). The pupils returned are recorded."""
    role = users.role_of(resource.collection)
    persons = None if within is None else within.persons
    keyed = (
        persons is None
        and query.filter is None
        and query.sort in (None, "sourcedId")
        and not query.descending
    )
    if not keyed:
        general = await users.read_general(session, school_id, role, query, base=base, persons=persons)
        await _record(session, resource, general.pupils)
        assert general.total is not None
        return Objects(general.objects, general.count, general.total)
    listing = positions.get(school_id, resource.collection)
    after = None if listing is None else listing.after.get(query.offset)
    page: users.UserPage | None = None
    if listing is not None and after is not None:
        page = await users.read_keyed(
            session, school_id, role, base=base, after=after, offset=0, limit=query.limit, count=False
        )
        if page.stamp == users.UNSETTLED or page.stamp != listing.stamp:
            page = None  # the roster changed since the position was remembered: read it afresh
    if page is None or listing is None:
        # The first page (offset 0) is always this read, with its count: one statement shape for every
        # first page, whether the listing is known or not (a shape is built, compiled and planned once
        # per process and connection: a third one cost 0.2-0.3 s of CPU on the first page that needed it).
        page = await users.read_keyed(
            session, school_id, role, base=base, after=None, offset=query.offset,
            limit=query.limit, count=True,
        )  # fmt: skip
        assert page.total is not None
        if listing is None or not (
            page.stamp == listing.stamp != users.UNSETTLED and page.total == listing.total
        ):
            listing = positions.start(school_id, resource.collection, page.stamp, page.total)
    if page.last is not None:
        positions.remember(listing, query.offset + page.count, page.last)
    await _record(session, resource, page.pupils)
    return Objects(page.objects, page.count, listing.total)


async def read_person(
    session: AsyncSession, school_id: uuid.UUID, resource: Resource, sourced_id: str, *, base: str
) -> Any | None:
    """One object of a person collection, or None."""
    query = Query(limit=1, filter=Filter((Predicate("sourcedId", "=", sourced_id),)))
    page = await users.read_general(session, school_id, users.role_of(resource.collection), query, base=base)
    for pupil in page.pupils:
        await emit(session, PUPIL_READ, target_type="Pupil", target_id=pupil, detail={"via": "oneroster"})
    found: list[Any] = orjson.loads(page.objects)
    return found[0] if found else None


async def _record(session: AsyncSession, resource: Resource, pupils: list[uuid.UUID]) -> None:
    if pupils:
        await emit(
            session,
            BULK_PUPIL_READ,
            detail={"pupil_ids": [str(p) for p in pupils], "via": f"oneroster {resource.collection}"},
        )


async def exists(session: AsyncSession, school: SchoolRef, resource: Resource, sourced_id: str) -> bool:
    """Whether the collection serves the object (a nested endpoint's parent: not returned, not recorded)."""
    if resource.rows is None:
        query = Query(limit=1, filter=Filter((Predicate("sourcedId", "=", sourced_id),)))
        role = users.role_of(resource.collection)
        return (await users.read_general(session, school.id, role, query, base="")).count > 0
    rows = resource.rows(school, False).subquery("r")
    found = await session.execute(select(rows.c.sourcedId).where(rows.c.sourcedId == sourced_id).limit(1))
    return found.first() is not None


async def read_one(
    session: AsyncSession, school: SchoolRef, resource: Resource, sourced_id: str, *, extended: bool
) -> Any | None:
    assert resource.rows is not None
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

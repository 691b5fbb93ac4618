"""Retention (LL-S2 (v)): the registry's rules applied by the ``retention`` jobs step, with a report.

Each :class:`~privacy.registry.Retention` with ``days`` makes rows due ``days`` after their ``after`` column
(expired sessions, refresh tokens and codes after 30 days, sign-in throttles after a day, job runs and sent
notices after a year); the audit log's personal columns (username at the time, client address) are blanked
after :data:`~privacy.registry.AUDIT_YEARS` years, the chain kept; and, when the operator sets
``leaver_retention_days``, leavers are erased that many days after their leaving date (:func:`erase_leavers`). A school's tables are purged in a
transaction bound to that school; the platform's (global) tables on their own. :func:`report` says what is
due without purging, the step what it purged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, Table, Update, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import school_today
from models import Pupil, Staff, metadata
from privacy import erasure, subjects
from privacy.registry import TABLES, Subject, TableEntry
from tenants.scoping import in_school


@dataclass(frozen=True)
class Due:
    table: str
    rule: str
    rows: int


def _rules(tenant: bool) -> list[tuple[TableEntry, Table]]:
    found = []
    for entry in TABLES:
        if entry.retention.days is None or entry.retention.after is None:
            continue
        table = metadata.tables[entry.name]
        if ("school_id" in table.c) is tenant:
            found.append((entry, table))
    return found


def _where(entry: TableEntry, table: Table, school_id: uuid.UUID | None, now: datetime) -> list[Any]:
    retention = entry.retention
    assert retention.after is not None and retention.days is not None
    conditions: list[Any] = [table.c[retention.after] < now - timedelta(days=retention.days)]
    if school_id is not None:
        conditions.append(in_school(table.c, school_id))
    if retention.blank:
        conditions.append(or_(*(table.c[c].is_not(None) for c in retention.blank)))
    return conditions


async def report(session: AsyncSession, school_id: uuid.UUID | None, now: datetime) -> list[Due]:
    """Rows due under each rule: the school's tables (``school_id``), or the platform's (None)."""
    due = []
    for entry, table in _rules(tenant=school_id is not None):
        rows = await session.scalar(
            select(func.count()).select_from(table).where(*_where(entry, table, school_id, now))
        )
        due.append(Due(entry.name, entry.retention.rule, int(rows or 0)))
    return due


async def purge(session: AsyncSession, school_id: uuid.UUID | None, now: datetime) -> dict[str, int]:
    """Delete (or blank) what is due; rows per table. One statement per rule."""
    done: dict[str, int] = {}
    for entry, table in _rules(tenant=school_id is not None):
        where = _where(entry, table, school_id, now)
        stmt: Update | Delete = (
            update(table).where(*where).values(dict.fromkeys(entry.retention.blank))
            if entry.retention.blank
            else delete(table).where(*where)
        )
        result = await session.execute(stmt)
        if result.rowcount:  # type: ignore[attr-defined]
            done[entry.name] = int(result.rowcount)  # type: ignore[attr-defined]
    return done


async def erase_leavers(session: AsyncSession, school_id: uuid.UUID, *, days: int, now: datetime) -> int:
    """Erase the pupils and staff who left more than ``days`` days ago (the LEAVERS rule; 0 erases nobody),
    each with an erasure record whose reason names the rule; the number erased."""
    if days <= 0:
        return 0
    before = school_today(now) - timedelta(days=days)
    erased = 0
    for kind, model in ((Subject.PUPIL, Pupil), (Subject.STAFF, Staff)):
        rows = await session.execute(
            select(model.id, model.date_of_leaving).where(
                in_school(model, school_id), ~model.active, model.date_of_leaving < before
            )
        )
        for person_id, left_on in rows.all():
            person = await subjects.find(session, school_id, kind, person_id)
            reason = f"Retention: left on {left_on}; leavers are kept {days} days (LL-S2 (v))."
            await erasure.erase_person(session, person, reason=reason, erased_by=None, now=now)
            erased += 1
    return erased

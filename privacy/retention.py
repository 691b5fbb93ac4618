"""Retention (LL-S2 (v)): the registry's rules applied by the ``retention`` jobs step, with a report.

Each :class:`~privacy.registry.Retention` with ``days`` makes rows due ``days`` after their ``after`` column
(expired sessions, refresh tokens and codes after 30 days, sign-in throttles after a day, job runs and sent
notices after a year); the audit log's personal columns (username at the time, client address) are blanked
after :data:`~privacy.registry.AUDIT_YEARS` years, the chain kept; and, when the operator sets
``leaver_retention_days`` or the school sets its own period, leavers are erased that many days after their
leaving date (:func:`erase_leavers`). A school's tables are purged in a transaction bound to that school; the
platform's (global) tables on their own. :func:`report` says what is due without purging, the step what it
purged.

The platform's periods are safe defaults a school may tighten (:func:`set_period`, a school admin's,
audited): each rule of a school table with a period, and ``leavers``, may be shortened to no less than its
floor (:data:`FLOORS`) and never lengthened past the platform's default; the school's periods
(``retention_periods``) are what the report and the step apply to that school.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, Table, Update, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.clock import school_today
from common.errors import DomainError, Problems
from common.events import emit
from models import Pupil, Staff, metadata
from models.privacy import RetentionPeriod
from privacy import erasure, subjects
from privacy.registry import LEAVERS, TABLES, Subject, TableEntry
from tenants.scoping import in_school

LEAVERS_RULE = "leavers"
EXPORTS_RULE = "subject_access_exports"
EXPORT_DAYS = 7
"""How long a released subject access export stays downloadable before the jobs step purges it
(:mod:`privacy.subject_access`): the platform's period, which a school may shorten like the others."""
FLOORS = {"audit_log": 365, LEAVERS_RULE: 30}
"""The shortest period a school may set, in days: a year of knowing who did what in the audit log (an
investigation needs it), and a month after a leaving date (a wrong date can still be put right before the
person is erased). Every other rule: a day (its rows are expired credentials or throttles)."""
MAX_DAYS = 100 * 365
"""The longest period a school may set where the platform keeps rows without a limit (leavers)."""


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


@dataclass(frozen=True)
class Period:
    """One rule a school may tighten, with its limits and the school's setting."""

    rule: str
    description: str
    default_days: int | None
    """The platform's period; None: kept (leavers, while the operator keeps them)."""
    minimum_days: int
    school_days: int | None = None
    set_at: datetime | None = None

    @property
    def days(self) -> int | None:
        """The period applied: the school's, or the default (the shorter, should the default have shrunk
        below the school's since it was set)."""
        if self.school_days is None:
            return self.default_days
        return self.school_days if self.default_days is None else min(self.school_days, self.default_days)


def limits(leaver_days: int) -> dict[str, Period]:
    """Every rule a school may tighten, with the platform's default (``leaver_days``: the operator's leaver
    period, 0 keeping leavers) and its floor."""
    rules = {
        entry.name: Period(entry.name, entry.retention.rule, entry.retention.days, FLOORS.get(entry.name, 1))
        for entry, _ in _rules(tenant=True)
    }
    rules[LEAVERS_RULE] = Period(LEAVERS_RULE, LEAVERS.rule, leaver_days or None, FLOORS[LEAVERS_RULE])
    rules[EXPORTS_RULE] = Period(
        EXPORTS_RULE,
        "Released subject access exports: downloadable for this many days after release, then purged",
        EXPORT_DAYS,
        1,
    )
    return rules


async def export_days(session: AsyncSession, school_id: uuid.UUID) -> int:
    """The days a subject access export the school releases now stays downloadable: its own period, if it
    shortened the platform's."""
    own = (await school_periods(session, school_id)).get(EXPORTS_RULE)
    return EXPORT_DAYS if own is None else min(own.days, EXPORT_DAYS)


async def school_periods(session: AsyncSession, school_id: uuid.UUID) -> dict[str, RetentionPeriod]:
    """The school's tightened periods by rule (one statement)."""
    rows = await session.execute(select(RetentionPeriod).where(in_school(RetentionPeriod, school_id)))
    return {row.rule: row for row in rows.scalars()}


async def periods(session: AsyncSession, school_id: uuid.UUID, *, leaver_days: int) -> list[Period]:
    """Every rule a school may tighten, with what the school set (rule order)."""
    own = await school_periods(session, school_id)
    found = []
    for p in sorted(limits(leaver_days).values(), key=lambda p: p.rule):
        row = own.get(p.rule)
        days, at = (None, None) if row is None else (row.days, row.set_at)
        found.append(Period(p.rule, p.description, p.default_days, p.minimum_days, days, at))
    return found


async def set_period(
    session: AsyncSession,
    principal: Principal,
    rule: str,
    days: int | None,
    *,
    leaver_days: int,
    now: datetime,
) -> Period:
    """A school admin shortens ``rule`` to ``days`` for their school, or (None) goes back to the default:
    ``UNKNOWN_RULE``, ``BELOW_MINIMUM``, ``TOO_LONG`` or ``NOT_SHORTER`` (a school may shorten a period, never
    lengthen it).
    Audited (``retention.period_set``) with the previous and the new period."""
    known = limits(leaver_days)
    period = known.get(rule)
    if period is None:
        raise DomainError.one(
            "rule",
            "UNKNOWN_RULE",
            f"{rule!r} is not a retention rule a school can set: one of {', '.join(sorted(known))}.",
        )
    problems = Problems()
    if days is not None and days < period.minimum_days:
        problems.add(
            "days",
            "BELOW_MINIMUM",
            f"{rule} keeps rows at least {period.minimum_days} days; {days} is shorter.",
        )
    if days is not None and period.default_days is None and days > MAX_DAYS:
        problems.add("days", "TOO_LONG", f"At most {MAX_DAYS} days (a hundred years).")
    if days is not None and period.default_days is not None and days > period.default_days:
        problems.add(
            "days", "NOT_SHORTER",
            f"The platform keeps {rule} {period.default_days} days: a school may shorten that, not lengthen it.",
        )  # fmt: skip
    problems.raise_if_any()
    school = principal.school_id
    previous = (await school_periods(session, school)).get(rule)
    previous_days = None if previous is None else previous.days
    if days is None:
        await session.execute(
            delete(RetentionPeriod).where(in_school(RetentionPeriod, school), RetentionPeriod.rule == rule)
        )
        result = Period(rule, period.description, period.default_days, period.minimum_days)
    else:
        values = {"days": days, "set_by": principal.account_id, "set_at": now}
        await session.execute(
            insert(RetentionPeriod)
            .values(school_id=school, rule=rule, **values)
            .on_conflict_do_update(index_elements=["school_id", "rule"], set_=values)
        )
        result = Period(rule, period.description, period.default_days, period.minimum_days, days, now)
    await emit(
        session,
        "retention.period_set",
        target_type="School",
        target_id=school,
        detail={"rule": rule, "days": days, "previous": previous_days, "default": period.default_days},
    )
    return result


def _where(
    entry: TableEntry, table: Table, school_id: uuid.UUID | None, now: datetime, days: int | None = None
) -> list[Any]:
    retention = entry.retention
    assert retention.after is not None and retention.days is not None
    kept = retention.days if days is None else min(days, retention.days)
    conditions: list[Any] = [table.c[retention.after] < now - timedelta(days=kept)]
    if school_id is not None:
        conditions.append(in_school(table.c, school_id))
    if retention.blank:
        conditions.append(or_(*(table.c[c].is_not(None) for c in retention.blank)))
    return conditions


async def _own_days(session: AsyncSession, school_id: uuid.UUID | None) -> dict[str, int]:
    if school_id is None:
        return {}
    return {rule: row.days for rule, row in (await school_periods(session, school_id)).items()}


async def report(session: AsyncSession, school_id: uuid.UUID | None, now: datetime) -> list[Due]:
    """Rows due under each rule: the school's tables (``school_id``, under its own periods), or the
    platform's (None)."""
    own = await _own_days(session, school_id)
    due = []
    for entry, table in _rules(tenant=school_id is not None):
        days = own.get(entry.name)
        rows = await session.scalar(
            select(func.count()).select_from(table).where(*_where(entry, table, school_id, now, days))
        )
        rule = entry.retention.rule if days is None else f"{entry.retention.rule}; this school: {days} days"
        due.append(Due(entry.name, rule, int(rows or 0)))
    return due


async def purge(session: AsyncSession, school_id: uuid.UUID | None, now: datetime) -> dict[str, int]:
    """Delete (or blank) what is due (a school's tables under its own periods); rows per table. One
    statement per rule, and one for the school's periods."""
    own = await _own_days(session, school_id)
    done: dict[str, int] = {}
    for entry, table in _rules(tenant=school_id is not None):
        where = _where(entry, table, school_id, now, own.get(entry.name))
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
    """Erase the pupils and staff who left more than the school's leaver period ago (``days``, the
    operator's, 0 keeping leavers, unless the school set a shorter one), each with an erasure record whose
    reason names the rule; the number erased."""
    own = (await _own_days(session, school_id)).get(LEAVERS_RULE)
    days = Period(LEAVERS_RULE, "", days or None, FLOORS[LEAVERS_RULE], own).days or 0
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

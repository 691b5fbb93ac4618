# mypy: disable-error-code="attr-defined,union-attr"
"""Recording judgements: one pupil on one rung, or a whole group on one rung in one call.

Contract (as every service): the whole input is validated first and every problem reported at once as a
:class:`DomainError` with camelCase dotted field paths; nothing is written then. Only staff whose pupil
scope covers the pupil may assess them (:func:`learning.policies.may_assess`); a pupil outside that
scope is reported exactly like an unknown pupil. History is kept: a new judgement never replaces an old
one, the latest counts (:mod:`learning.progress`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common import pagination as paging
from common.clock import school_today
from common.errors import Problems
from common.pagination import Page, after_key
from learning import ladders
from learning.policies import may_assess, may_teach_group
from learning.queries import active_members
from models import Group, Pupil
from models.curriculum import LEVELS, Judgement
from people.processing import refuse_if_restricted, visible_to
from tenants.scoping import in_school, scoped

MAX_NOTE: Final = 2000
MAX_GROUP_ENTRIES: Final = 1000
OLDEST_JUDGEMENT: Final = timedelta(days=366 * 10)


@dataclass(frozen=True)
class NewJudgement:
    pupil_id: uuid.UUID
    rung_id: uuid.UUID
    level: str
    assessed_on: date | None = None
    """None: today (in England)."""
    note: str | None = None


@dataclass(frozen=True)
class GroupEntry:
    pupil_id: uuid.UUID
    level: str
    note: str | None = None


@dataclass(frozen=True)
class GroupAssessment:
    group_id: uuid.UUID
    rung_id: uuid.UUID
    entries: tuple[GroupEntry, ...]
    assessed_on: date | None = None


NOT_TAUGHT = "No pupil with this id among the pupils you teach."


def _check_date(problems: Problems, assessed_on: date | None, now: datetime) -> date:
    today = school_today(now)
    if assessed_on is None:
        return today
    if assessed_on > today:
        problems.add("assessedOn", "DATE_IN_FUTURE", f"assessedOn {assessed_on} is after today ({today}).")
    elif assessed_on < today - OLDEST_JUDGEMENT:
        problems.add("assessedOn", "DATE_TOO_OLD", "assessedOn is more than ten years ago.")
    return assessed_on


def _check_level(problems: Problems, field: str, level: str) -> None:
    if level not in LEVELS:
        problems.add(field, "INVALID_LEVEL", f"level must be one of {', '.join(LEVELS)}.")


def _check_note(problems: Problems, field: str, note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        problems.add(field, "TOO_LONG", f"A note has at most {MAX_NOTE} characters.")
    return text or None


async def _rung(
    session: AsyncSession, principal: Principal, problems: Problems, rung_id: uuid.UUID
) -> tuple[ladders.RungRow, ladders.LadderRow] | None:
    found = (await ladders.rungs_by_ids(session, principal.school_id, [rung_id])).get(rung_id)
    if found is None:
        problems.add("rungId", "UNKNOWN_RUNG", "No rung with this id on any ladder this school can use.")
        return None
    if found[1].archived:
        problems.add("rungId", "LADDER_ARCHIVED", f"The ladder {found[1].title} is archived.")
    return found


async def _active_pupils(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    stmt = select(Pupil.id).where(in_school(Pupil, principal.school_id), Pupil.id.in_(ids), Pupil.active)
    return set((await session.execute(stmt)).scalars())


def _row(
    principal: Principal,
    pupil_id: uuid.UUID,
    rung: ladders.RungRow,
    level: str,
    assessed_on: date,
    note: str | None,
    now: datetime,
) -> dict[str, object]:
    return {
        "school_id": principal.school_id,
        "id": uuid.uuid4(),
        "pupil_id": pupil_id,
        "ladder_id": rung.ladder_id,
        "rung_id": rung.id,
        "level": level,
        "assessed_on": assessed_on,
        "note": note,
        "assessed_by_staff": principal.staff_id,
        "recorded_by": principal.account_id,
        "recorded_at": now,
    }


async def _insert(session: AsyncSession, rows: list[dict[str, object]]) -> list[Judgement]:
    await session.execute(insert(Judgement), rows)
    return [Judgement(**row) for row in rows]


async def record_judgement(
    session: AsyncSession, principal: Principal, data: NewJudgement, *, now: datetime
) -> Judgement:
    """One judgement by a member of staff who teaches the pupil."""
    problems = Problems()
    _check_level(problems, "level", data.level)
    note = _check_note(problems, "note", data.note)
    assessed_on = _check_date(problems, data.assessed_on, now)
    rung = await _rung(session, principal, problems, data.rung_id)
    if not may_assess(principal, data.pupil_id) or not await _active_pupils(
        session, principal, [data.pupil_id]
    ):
        problems.add("pupilId", "PUPIL_NOT_TAUGHT", NOT_TAUGHT)
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, [data.pupil_id], "pupilId")
    assert rung is not None
    (judgement,) = await _insert(
        session, [_row(principal, data.pupil_id, rung[0], data.level, assessed_on, note, now)]
    )
    return judgement


async def assess_group(
    session: AsyncSession, principal: Principal, data: GroupAssessment, *, now: datetime
) -> list[Judgement]:
    """Judgements of many pupils of one group on one rung, all or nothing, in one statement."""
    problems = Problems()
    assessed_on = _check_date(problems, data.assessed_on, now)
    group = None
    if may_teach_group(principal, data.group_id):
        group = (
            await session.execute(
                scoped(Group, principal.school_id).where(Group.id == data.group_id, Group.active)
            )
        ).scalar_one_or_none()
    if group is None:
        problems.add("groupId", "GROUP_NOT_FOUND", "No group with this id among the groups you teach.")
    if not data.entries:
        problems.add("entries", "REQUIRED", "Give at least one pupil's judgement.")
    if len(data.entries) > MAX_GROUP_ENTRIES:
        problems.add("entries", "TOO_MANY", f"At most {MAX_GROUP_ENTRIES} judgements in one call.")
    rung = await _rung(session, principal, problems, data.rung_id)
    members = (
        await active_members(session, principal.school_id, data.group_id, [e.pupil_id for e in data.entries])
        if group is not None
        else set()
    )
    seen: set[uuid.UUID] = set()
    notes: list[str | None] = []
    for i, entry in enumerate(data.entries):
        _check_level(problems, f"entries.{i}.level", entry.level)
        notes.append(_check_note(problems, f"entries.{i}.note", entry.note))
        if entry.pupil_id in seen:
            problems.add(f"entries.{i}.pupilId", "DUPLICATE", "This pupil is given twice.")
        seen.add(entry.pupil_id)
        if group is not None and (entry.pupil_id not in members or not may_assess(principal, entry.pupil_id)):
            problems.add(
                f"entries.{i}.pupilId", "PUPIL_NOT_IN_GROUP", "No pupil with this id in the group you teach."
            )
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, seen, "entries")
    assert rung is not None
    rows = [
        _row(principal, e.pupil_id, rung[0], e.level, assessed_on, notes[i], now)
        for i, e in enumerate(data.entries)
    ]
    return await _insert(session, rows)


async def history(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    pupil_id: uuid.UUID,
    ladder_id: uuid.UUID | None = None,
    rung_id: uuid.UUID | None = None,
) -> list[Judgement]:
    """Every judgement of a pupil the caller may see, newest first (``page.first + 1`` rows at most); none of
    a restricted pupil but to a school admin (LL-S2 (xiii))."""
    if not principal.may_see_pupil(pupil_id):
        return []
    order = (Judgement.assessed_on.desc(), Judgement.recorded_at.desc(), Judgement.id.desc())
    stmt = scoped(Judgement, principal.school_id).where(
        Judgement.pupil_id == pupil_id, visible_to(principal, Judgement, Judgement.pupil_id)
    )
    if ladder_id is not None:
        stmt = stmt.where(Judgement.ladder_id == ladder_id)
    if rung_id is not None:
        stmt = stmt.where(Judgement.rung_id == rung_id)
    after = after_key(page, paging.DATE, paging.TIMESTAMP, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(Judgement.assessed_on, Judgement.recorded_at, Judgement.id) < tuple_(*after))
    stmt = stmt.order_by(*order).limit(page.first + 1)
    return list((await session.execute(stmt)).scalars().all())

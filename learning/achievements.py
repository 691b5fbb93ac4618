# mypy: disable-error-code="attr-defined,union-attr"
"""Records of achievement and learning goals: a pupil's Personal Learning Record (LRS).

Read by the same roles as the pupil record (:data:`learning.policies.LEARNING_RECORD`); written by staff
who teach the pupil or have school-wide pupil access, and school admins. :func:`export_rows` gives the
school's export every record with the pupil's ULN when present.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.clock import school_today
from common.errors import DomainError, Problems
from learning import ladders
from learning.policies import may_assess
from models import Pupil
from models.learning import ACHIEVEMENT_KINDS, GOAL_STATUSES, Achievement, LearningGoal
from people.processing import refuse_if_restricted
from tenants.scoping import in_school, scoped

EARLIEST: Final = timedelta(days=366 * 20)
NOT_TAUGHT = "No pupil with this id among the pupils you teach."


@dataclass(frozen=True)
class NewAchievement:
    pupil_id: uuid.UUID
    kind: str
    title: str
    achieved_on: date
    awarding_body: str | None = None
    grade: str | None = None


def _text(problems: Problems, field: str, value: str | None, limit: int, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        problems.add(field, "REQUIRED", f"{field} must not be empty.")
    elif len(text) > limit:
        problems.add(field, "TOO_LONG", f"{field} has at most {limit} characters.")
    return text or None


async def _taught_pupil(session: AsyncSession, principal: Principal, pupil_id: uuid.UUID) -> bool:
    if not may_assess(principal, pupil_id):
        return False
    found = await session.execute(
        select(Pupil.id).where(in_school(Pupil, principal.school_id), Pupil.id == pupil_id, Pupil.active)
    )
    return found.first() is not None


async def record_achievement(
    session: AsyncSession, principal: Principal, data: NewAchievement, *, now: datetime
) -> Achievement:
    problems = Problems()
    if data.kind not in ACHIEVEMENT_KINDS:
        problems.add("kind", "INVALID_KIND", f"kind must be one of {', '.join(ACHIEVEMENT_KINDS)}.")
    title = _text(problems, "title", data.title, 200, required=True)
    body = _text(problems, "awardingBody", data.awarding_body, 200, required=data.kind == "QUALIFICATION")
    grade = _text(problems, "grade", data.grade, 60, required=False)
    today = school_today(now)
    if data.achieved_on > today:
        problems.add(
            "achievedOn", "DATE_IN_FUTURE", f"achievedOn {data.achieved_on} is after today ({today})."
        )
    elif data.achieved_on < today - EARLIEST:
        problems.add("achievedOn", "DATE_TOO_OLD", "achievedOn is more than twenty years ago.")
    if not await _taught_pupil(session, principal, data.pupil_id):
        problems.add("pupilId", "PUPIL_NOT_TAUGHT", NOT_TAUGHT)
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, [data.pupil_id], "pupilId")
    row = Achievement(
        school_id=principal.school_id,
        pupil_id=data.pupil_id,
        kind=data.kind,
        title=title or "",
        awarding_body=body,
        achieved_on=data.achieved_on,
        grade=grade,
        recorded_by=principal.account_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class NewGoal:
    pupil_id: uuid.UUID
    statement: str
    rung_id: uuid.UUID | None = None
    target_on: date | None = None


async def set_goal(
    session: AsyncSession, principal: Principal, data: NewGoal, *, now: datetime
) -> LearningGoal:
    problems = Problems()
    statement = _text(problems, "statement", data.statement, 1000, required=True)
    if data.target_on is not None and data.target_on < school_today(now):
        problems.add("targetOn", "DATE_IN_PAST", "targetOn is before today.")
    if data.rung_id is not None and data.rung_id not in await ladders.rungs_by_ids(
        session, principal.school_id, [data.rung_id]
    ):
        problems.add("rungId", "UNKNOWN_RUNG", "No rung with this id on any ladder this school can use.")
    if not await _taught_pupil(session, principal, data.pupil_id):
        problems.add("pupilId", "PUPIL_NOT_TAUGHT", NOT_TAUGHT)
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, [data.pupil_id], "pupilId")
    row = LearningGoal(
        school_id=principal.school_id,
        pupil_id=data.pupil_id,
        statement=statement or "",
        rung_id=data.rung_id,
        target_on=data.target_on,
        set_by=principal.account_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def close_goal(
    session: AsyncSession, principal: Principal, goal_id: uuid.UUID, status: str, *, now: datetime
) -> LearningGoal:
    """Mark a goal ACHIEVED or DROPPED (or reopen it: OPEN)."""
    goal = (
        await session.execute(scoped(LearningGoal, principal.school_id).where(LearningGoal.id == goal_id))
    ).scalar_one_or_none()
    if goal is None or not may_assess(principal, goal.pupil_id):
        raise DomainError.one("goalId", "NOT_FOUND", "No goal with this id for a pupil you teach.")
    await refuse_if_restricted(session, principal.school_id, [goal.pupil_id], "goalId")
    if status not in GOAL_STATUSES:
        raise DomainError.one(
            "status", "INVALID_STATUS", f"status must be one of {', '.join(GOAL_STATUSES)}."
        )
    goal.status = status
    goal.closed_on = None if status == "OPEN" else school_today(now)
    await session.flush()
    return goal


async def export_rows(session: AsyncSession, school_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every achievement of the school with the pupil's UPN and ULN (when present), for the school's
    export (LL 5.1.4). The caller binds the transaction to the school and checks the exporter's role."""
    stmt = (
        select(
            Pupil.upn,
            Pupil.uln,
            Pupil.forename,
            Pupil.surname,
            Achievement.kind,
            Achievement.title,
            Achievement.awarding_body,
            Achievement.achieved_on,
            Achievement.grade,
        )
        .join(Pupil, and_(in_school(Pupil, school_id), Pupil.id == Achievement.pupil_id))
        .where(in_school(Achievement, school_id))
        .order_by(Pupil.surname, Pupil.forename, Achievement.achieved_on)
    )
    keys = ("upn", "uln", "forename", "surname", "kind", "title", "awarding_body", "achieved_on", "grade")
    return [dict(zip(keys, row)) for row in (await session.execute(stmt)).all()]

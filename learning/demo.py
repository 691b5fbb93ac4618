"""Learning data for the demo (``make run``): progress on the starter ladders, an assignment with work and
feedback, and a record of achievement, so that every demo role has something to see.

Deterministic: the same demo every time. Called by ``server/demo.py`` inside its seeding transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import school_today
from learning import curriculum
from models import Account, Group, Pupil, Staff
from models.curriculum import Judgement
from models.learning import Achievement, Assignment, LearningGoal, Submission

LEVELS = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")


@dataclass(frozen=True)
class DemoClass:
    group: Group
    teacher: Staff
    account: Account
    pupils: Sequence[Pupil]
    pupil_accounts: Sequence[Account]


async def seed_learning(
    session: AsyncSession, school_id: uuid.UUID, classes: Sequence[DemoClass], now: datetime
) -> None:
    """Judgements for every pupil of ``classes`` (one statement), then each class's assignment, with the
    first pupil's work, an award and a goal. Flushes, never commits."""
    today = school_today(now)
    await session.execute(insert(Judgement), _judgement_rows(school_id, classes, today, now))
    for demo_class in classes:
        await _seed_class_work(session, school_id, demo_class, today, now)
    await session.flush()


def _judgement_rows(
    school_id: uuid.UUID, classes: Sequence[DemoClass], today: date, now: datetime
) -> list[dict[str, object]]:
    """Each pupil's progress up a varied reach of their year's maths, reading and writing ladders:
    secure (now and then greater depth) below the last two rungs reached, mixed on those."""
    ladders = {ladder.code: ladder for ladder in curriculum.starter_ladders()}
    rows = []
    for demo_class in classes:
        year = demo_class.group.year_group or 5
        for subject in ("MATHS", "READING", "WRITING"):
            code = f"Y{year}-{subject}"
            ladder = ladders[code]
            for n, pupil in enumerate(demo_class.pupils):
                reach = 3 + (n * 7 + len(subject)) % (len(ladder.rungs) - 4)
                for position, rung in enumerate(ladder.rungs[: reach + 1]):
                    if position < reach - 1:
                        level = "GREATER_DEPTH" if (n + position) % 5 == 0 else "SECURE"
                    else:
                        level = LEVELS[(n + position) % 2]
                    rows.append(
                        {
                            "school_id": school_id,
                            "id": uuid.uuid4(),
                            "pupil_id": pupil.id,
                            "ladder_id": curriculum.ladder_id(code),
                            "rung_id": curriculum.rung_id(rung.code),
                            "level": level,
                            "assessed_on": today - timedelta(days=(reach - position) * 6 + 1),
                            "note": None,
                            "assessed_by_staff": demo_class.teacher.id,
                            "recorded_by": demo_class.account.id,
                            "recorded_at": now,
                        }
                    )
    return rows


async def _seed_class_work(
    session: AsyncSession, school_id: uuid.UUID, demo_class: DemoClass, today: date, now: datetime
) -> None:
    """The class's maths revision assignment (flushed for its id), with the first pupil's submission and
    feedback, an award and a learning goal (added, flushed by the caller)."""
    year = demo_class.group.year_group or 5
    assignment = Assignment(
        school_id=school_id,
        group_id=demo_class.group.id,
        title=f"Year {year} maths revision",
        kind="REVISION",
        instructions="Work through the first three pages of your workbook.",
        platform_content_id=curriculum.workbook_id(f"Y{year}-MATHS"),
        due_on=today + timedelta(days=7),
        set_by=demo_class.account.id,
        set_by_staff=demo_class.teacher.id,
        created_at=now,
    )
    session.add(assignment)
    await session.flush()
    first = demo_class.pupils[0]
    session.add(
        Submission(
            school_id=school_id,
            assignment_id=assignment.id,
            pupil_id=first.id,
            text="I finished pages 1 to 3. Page 3 was tricky.",
            submitted_by=demo_class.pupil_accounts[0].id,
            submitted_at=now,
            feedback="Good work. Look again at question 4 on page 3.",
            feedback_by=demo_class.account.id,
            feedback_by_staff=demo_class.teacher.id,
            feedback_at=now,
        )
    )
    session.add(
        Achievement(
            school_id=school_id,
            pupil_id=first.id,
            kind="AWARD",
            title="Reader of the month",
            awarding_body=None,
            achieved_on=today - timedelta(days=14),
            recorded_by=demo_class.account.id,
            created_at=now,
        )
    )
    session.add(
        LearningGoal(
            school_id=school_id,
            pupil_id=first.id,
            statement="Use paragraphs to organise ideas around a theme",
            target_on=today + timedelta(days=42),
            set_by=demo_class.account.id,
            created_at=now,
        )
    )

"""Aggregates across schools: per-school summaries for a trust and usage statistics for the operator,
never personal data, small counts (<5) suppressed (LL-A 5.2). Exercised through the service functions
the trust and platform endpoints expose (``learning.statistics``), on a transaction bound to the schools.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning import curriculum
from learning.statistics import (
    SUPPRESS_BELOW,
    PlatformUsage,
    platform_usage,
    school_summaries,
    suppress,
)
from models.content import Download
from models.learning import Assignment, Submission
from tenants.context import bind
from tests.factories import clock
from tests.factories.learning import seed_judgements, starter, today
from tests.factories.schools import SchoolData, SchoolFactory


def test_suppression_rule() -> None:
    """LL-A 5.2: counts of 1 to 4 are suppressed; 0 and 5 or more are shown."""
    assert SUPPRESS_BELOW == 5
    assert [suppress(n) for n in (0, 1, 4, 5, 120)] == [0, None, None, 5, 120]


async def _judge(engine: AsyncEngine, school: SchoolData, pupils: list[str], secure_rungs: int) -> None:
    ladder = starter("Y4-MATHS")
    rows = []
    for key in pupils:
        for i in range(4):
            level = "SECURE" if i < secure_rungs else "WORKING_TOWARDS"
            rows.append(
                (
                    school.pupils[key].id,
                    ladder.id,
                    ladder.rung_ids[i],
                    "NOT_YET",
                    today() - timedelta(days=20),
                )
            )
            rows.append((school.pupils[key].id, ladder.id, ladder.rung_ids[i], level, today()))
    await seed_judgements(engine, school, rows)


async def test_trust_summaries_are_per_school_aggregates_with_small_counts_suppressed(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """A trust admin's view: per school, pupils, pupils assessed, judgements and per subject the share of
    latest judgements secure or better; a school with fewer than 5 assessed pupils shows none of it."""
    big = await factory.school(pupils_per_group=3)  # 6 pupils
    small = await factory.school(pupils_per_group=3)
    outside = await factory.school(pupils_per_group=3)
    await _judge(engine, big, list(big.pupils), secure_rungs=3)
    await _judge(engine, small, ["pupil1", "pupil2", "pupilB1"], secure_rungs=4)
    await _judge(engine, outside, list(outside.pupils), secure_rungs=1)
    async with AsyncSession(engine) as session:
        await bind(session, [big.id, small.id])
        summaries = await school_summaries(session, [big.id, small.id])
    first, second = summaries
    assert first.school_id == big.id
    assert (first.pupils, first.assessed_pupils, first.judgements) == (6, 6, 48)
    (maths,) = first.subjects
    assert maths.subject == "Maths" and maths.assessed_pupils == 6
    assert maths.secure_share == 0.75  # 3 of 4 latest judgements per pupil
    assert second.school_id == small.id
    assert (second.pupils, second.assessed_pupils, second.judgements) == (6, None, 24)
    assert [(s.subject, s.assessed_pupils, s.secure_share) for s in second.subjects] == [
        ("Maths", None, None)
    ]
    # No personal data: only ids of schools, subjects, counts and shares.
    text = repr(summaries)
    for school in (big, small):
        for pupil in school.pupils.values():
            assert str(pupil.id) not in text and pupil.surname not in text
    # Row-level security: a school not bound is invisible even when asked for.
    async with AsyncSession(engine) as session:
        await bind(session, [big.id])
        (only_bound, unbound) = await school_summaries(session, [big.id, outside.id])
    assert only_bound.assessed_pupils == 6
    assert (unbound.pupils, unbound.assessed_pupils, unbound.subjects) == (0, 0, [])


async def _use(
    engine: AsyncEngine,
    school: SchoolData,
    *,
    assign: str | None = None,
    downloads: dict[str, int] | None = None,
    submissions: int = 0,
) -> None:
    now = clock.now()
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        teacher = school.accounts["teacher1"].id
        if assign is not None:
            assignment = Assignment(
                school_id=school.id, group_id=school.groups["A"].id, title=f"Private title {uuid.uuid4()}",
                kind="HOMEWORK", due_on=today(), set_by=teacher, created_at=now,
                platform_content_id=curriculum.workbook_id(assign),
            )  # fmt: skip
            session.add(assignment)
            await session.flush()
            pupils = [p for k, p in school.pupils.items() if "B" not in k][:submissions]
            session.add_all(
                Submission(
                    school_id=school.id,
                    assignment_id=assignment.id,
                    pupil_id=p.id,
                    text="mine",
                    submitted_by=teacher,
                    submitted_at=now,
                )
                for p in pupils
            )
        for code, count in (downloads or {}).items():
            session.add_all(
                Download(
                    school_id=school.id,
                    account_id=teacher,
                    platform_content_id=curriculum.workbook_id(code),
                    title="x",
                    downloaded_at=now,
                )
                for _ in range(count)
            )


async def test_platform_usage_ranks_pre_loaded_content_without_personal_data(
    factory: SchoolFactory, engine: AsyncEngine
) -> None:
    """LL-A 5.2: the operator sees which pre-loaded content and which subjects of assignments are most used
    across schools: counts only, never a school's own titles or anyone's data, counts below 5 suppressed
    and items whose every count is suppressed left out of the ranking."""
    schools = [await factory.school() for _ in range(6)]
    for i, school in enumerate(schools):
        await _use(engine, school, assign="Y3-MATHS", submissions=2, downloads={"Y3-MATHS": 1})
        if i < 2:
            await _use(engine, school, assign="Y5-WRITING", downloads={"Y6-READING": 1})
    ids = [s.id for s in schools]
    async with AsyncSession(engine) as session:
        await bind(session, ids)
        usage = await platform_usage(session, ids)
    assert isinstance(usage, PlatformUsage)
    (top,) = usage.top_content  # Y5-WRITING (2 assignments) and Y6-READING (2 downloads): all suppressed
    assert top.code == "Y3-MATHS-WORKBOOK" and top.title == "Year 3 Maths workbook"
    assert (top.schools, top.assignments, top.downloads, top.pupils_submitted) == (6, 6, 6, 12)
    assert [(s.subject, s.assignments, s.schools) for s in usage.assignments_by_subject] == [("Maths", 6, 6)]
    assert usage.school_uploads == 0
    text = repr(usage)
    assert "Private title" not in text
    for school in schools:
        assert str(school.id) not in text
        for pupil in school.pupils.values():
            assert str(pupil.id) not in text
    # Fewer schools: the same item's counts fall below 5 and it leaves the ranking.
    async with AsyncSession(engine) as session:
        await bind(session, ids[:2])
        few = await platform_usage(session, ids[:2])
    assert few.top_content == [] and few.assignments_by_subject == []

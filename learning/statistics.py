# mypy: disable-error-code="attr-defined,union-attr"
"""Aggregates across schools: per-school summaries for a trust, usage statistics for the operator.

Nothing here returns personal data: only counts, shares and the titles of pre-loaded (platform) items.
Every count below :data:`SUPPRESS_BELOW` (5) is suppressed (``None``), and so is every share computed
from a suppressed count, because a small count across schools can point at a person.

Contract of both functions: the caller binds the transaction to the schools it reads (the trust's
schools, or every school for the operator, ``tenants.context.bind``); rows of schools not bound are
invisible to row-level security anyway. The trust endpoint's ``learningSummaries`` serves
:func:`school_summaries` (graph/trust/learning.py), the platform endpoint's ``usage`` serves
:func:`platform_usage` (graph/platform/learning.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import and_, func, literal, or_, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from models import Pupil
from models.content import Download, PlatformContent, SchoolContent
from models.curriculum import SECURE_OR_BETTER, CurriculumLadder, Judgement, SchoolLadder
from models.learning import Assignment, Submission
from tenants.scoping import in_schools

SUPPRESS_BELOW: Final = 5


def suppress(count: int | None) -> int | None:
    """The count, or None when it is 1-4 (0 says nothing about anyone and is kept)."""
    if count is None or 0 < count < SUPPRESS_BELOW:
        return None
    return count


def _share(part: int, whole: int, *, basis: int) -> float | None:
    """part / whole, or None when the population it describes (``basis``) is suppressed or empty."""
    if suppress(basis) is None or basis == 0 or whole == 0 or (suppress(part) is None and part != 0):
        return None
    return round(part / whole, 4)


# --- trust: per-school learning summaries ----------------------------------------------------------------


@dataclass(frozen=True)
class SubjectSummary:
    subject: str
    assessed_pupils: int | None
    """Pupils with at least one judgement in the subject (suppressed below 5)."""
    secure_share: float | None
    """Share of the latest judgements in the subject that are secure or better."""


@dataclass(frozen=True)
class SchoolSummary:
    school_id: uuid.UUID
    pupils: int | None
    assessed_pupils: int | None
    judgements: int | None
    subjects: list[SubjectSummary] = field(default_factory=list)


async def school_summaries(session: AsyncSession, school_ids: Sequence[uuid.UUID]) -> list[SchoolSummary]:
    """One summary per school, in the order given: four statements for any number of schools."""
    ids = list(school_ids)
    pupils: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(Pupil.school_id, func.count())
                .where(in_schools(Pupil, ids), Pupil.active)
                .group_by(Pupil.school_id)
            )
        ).all()
    )
    totals = {
        row[0]: row[1:]
        for row in (
            await session.execute(
                select(Judgement.school_id, func.count(func.distinct(Judgement.pupil_id)), func.count())
                .where(in_schools(Judgement, ids))
                .group_by(Judgement.school_id)
            )
        ).all()
    }
    # The subject of each ladder (platform or the school's own), then the latest judgements per subject.
    subjects = union_all(
        select(
            CurriculumLadder.id.label("ladder_id"), literal(None).label("school_id"), CurriculumLadder.subject
        ),
        select(SchoolLadder.id, SchoolLadder.school_id, SchoolLadder.subject).where(
            in_schools(SchoolLadder, ids)
        ),
    ).subquery("subjects")
    latest = (
        select(
            Judgement.school_id, Judgement.pupil_id, Judgement.ladder_id, Judgement.rung_id, Judgement.level
        )
        .where(in_schools(Judgement, ids))
        .ext(distinct_on(Judgement.school_id, Judgement.pupil_id, Judgement.rung_id))
        .order_by(
            Judgement.school_id,
            Judgement.pupil_id,
            Judgement.rung_id,
            Judgement.assessed_on.desc(),
            Judgement.recorded_at.desc(),
        )
        .subquery("latest")
    )
    per_subject = (
        await session.execute(
            select(
                latest.c.school_id,
                subjects.c.subject,
                func.count(func.distinct(latest.c.pupil_id)),
                func.count().filter(latest.c.level.in_(SECURE_OR_BETTER)),
                func.count(),
            )
            .join(
                subjects,
                and_(
                    subjects.c.ladder_id == latest.c.ladder_id,
                    or_(
                        subjects.c.school_id.is_(None),
                        subjects.c.school_id.is_not_distinct_from(latest.c.school_id),
                    ),
                ),
            )
            .group_by(latest.c.school_id, subjects.c.subject)
            .order_by(latest.c.school_id, subjects.c.subject)
        )
    ).all()
    by_school: dict[uuid.UUID, list[SubjectSummary]] = defaultdict(list)
    for school_id, subject, assessed, secure, judged in per_subject:
        by_school[school_id].append(
            SubjectSummary(subject, suppress(assessed), _share(secure, judged, basis=assessed))
        )
    return [
        SchoolSummary(
            school_id=s,
            pupils=suppress(pupils.get(s, 0)),
            assessed_pupils=suppress(totals.get(s, (0, 0))[0]),
            judgements=suppress(totals.get(s, (0, 0))[1]),
            subjects=by_school.get(s, []),
        )
        for s in ids
    ]


# --- platform: what is used across schools (LL-A 5.2) -----------------------------------------------------


@dataclass(frozen=True)
class ContentUsage:
    """A pre-loaded item's use across schools. Never a school's own upload (it may carry personal data)."""

    content_id: uuid.UUID
    code: str
    title: str
    schools: int | None
    assignments: int | None
    pupils_submitted: int | None
    downloads: int | None


@dataclass(frozen=True)
class SubjectUsage:
    """Assignments set across schools by subject (of their content; "Free text" without content)."""

    subject: str
    assignments: int | None
    schools: int | None


@dataclass(frozen=True)
class PlatformUsage:
    top_content: list[ContentUsage]
    assignments_by_subject: list[SubjectUsage]
    school_uploads: int | None


async def platform_usage(
    session: AsyncSession, school_ids: Sequence[uuid.UUID], *, limit: int = 20
) -> PlatformUsage:
    """The most used pre-loaded content and assignment subjects across ``school_ids``.

    Ranked by assignments + downloads; an item whose every count is suppressed is left out (its rank
    would tell what the suppressed counts hide). Seven statements at most, however many schools.
    """
    ids = list(school_ids)
    assignment_use = (
        select(
            Assignment.platform_content_id.label("content_id"),
            func.count(func.distinct(Assignment.school_id)).label("schools"),
            func.count().label("assignments"),
        )
        .where(in_schools(Assignment, ids), Assignment.platform_content_id.is_not(None))
        .group_by(Assignment.platform_content_id)
    )
    submitted = (
        select(Assignment.platform_content_id, func.count(func.distinct(Submission.pupil_id)))
        .join(
            Submission,
            # The composite key, school first (as every tenant join).
            tuple_(Submission.school_id, Submission.assignment_id)
            == tuple_(Assignment.school_id, Assignment.id),
        )
        .where(in_schools(Assignment, ids), Assignment.platform_content_id.is_not(None))
        .group_by(Assignment.platform_content_id)
    )
    download_use = (
        select(
            Download.platform_content_id,
            func.count(func.distinct(Download.school_id)),
            func.count(),
        )
        .where(in_schools(Download, ids), Download.platform_content_id.is_not(None))
        .group_by(Download.platform_content_id)
    )
    used: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for content_id, _, count in (await session.execute(assignment_use)).all():
        used[content_id]["assignments"] = count
    for content_id, pupils in (await session.execute(submitted)).all():
        used[content_id]["pupils"] = pupils
    for content_id, _, count in (await session.execute(download_use)).all():
        used[content_id]["downloads"] = count
    # Schools using an item in either way: counted exactly (a school may both assign and download).
    both = union_all(
        select(Assignment.platform_content_id.label("content_id"), Assignment.school_id).where(
            in_schools(Assignment, ids), Assignment.platform_content_id.is_not(None)
        ),
        select(Download.platform_content_id, Download.school_id).where(
            in_schools(Download, ids), Download.platform_content_id.is_not(None)
        ),
    ).subquery("use")
    school_counts: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(both.c.content_id, func.count(func.distinct(both.c.school_id))).group_by(
                    both.c.content_id
                )
            )
        ).all()
    )
    titles = {}
    if used:
        titles = {
            row[0]: (row[1], row[2])
            for row in (
                await session.execute(
                    select(PlatformContent.id, PlatformContent.code, PlatformContent.title).where(
                        PlatformContent.id.in_(list(used))
                    )
                )
            ).all()
        }
    items = []
    for content_id, counts in used.items():
        usage = ContentUsage(
            content_id=content_id,
            code=titles.get(content_id, ("?", "?"))[0],
            title=titles.get(content_id, ("?", "?"))[1],
            schools=suppress(school_counts.get(content_id, 0)),
            assignments=suppress(counts.get("assignments", 0)),
            pupils_submitted=suppress(counts.get("pupils", 0)),
            downloads=suppress(counts.get("downloads", 0)),
        )
        if (usage.assignments or 0) + (usage.downloads or 0) > 0:
            items.append(usage)
    items.sort(key=lambda u: (-((u.assignments or 0) + (u.downloads or 0)), u.title))
    subject = func.coalesce(PlatformContent.subject, SchoolContent.subject, literal("Free text"))
    by_subject = (
        await session.execute(
            select(subject, func.count(), func.count(func.distinct(Assignment.school_id)))
            .select_from(Assignment)
            .outerjoin(PlatformContent, PlatformContent.id == Assignment.platform_content_id)
            .outerjoin(
                SchoolContent,
                tuple_(SchoolContent.school_id, SchoolContent.id)
                == tuple_(Assignment.school_id, Assignment.school_content_id),
            )
            .where(in_schools(Assignment, ids))
            .group_by(subject)
            .order_by(func.count().desc(), subject)
        )
    ).all()
    uploads = (
        await session.execute(
            select(func.count()).select_from(SchoolContent).where(in_schools(SchoolContent, ids))
        )
    ).scalar_one()
    return PlatformUsage(
        top_content=items[:limit],
        assignments_by_subject=[
            SubjectUsage(name, suppress(count), suppress(schools))
            for name, count, schools in by_subject
            if suppress(count) is not None
        ],
        school_uploads=suppress(uploads),
    )

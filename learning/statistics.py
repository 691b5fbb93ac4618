# mypy: disable-error-code="attr-defined,union-attr"
"""Aggregates across schools: per-school summaries for a trust, usage statistics for the operator.

Nothing here returns personal data: only counts, shares and the titles of pre-loaded (platform) items.
People whose processing is restricted or who object to statistical use are left out of every count
(``people.processing.counted``; LL-S2 (xiii), LL-A 5.2). Every count below :data:`SUPPRESS_BELOW` (5) is suppressed (``None``), and so is every share computed
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
from typing import Any, Final

from sqlalchemy import Row, Select, and_, func, literal, or_, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from models import Account, Pupil
from models.content import Download, PlatformContent, SchoolContent
from models.curriculum import SECURE_OR_BETTER, CurriculumLadder, Judgement, SchoolLadder
from models.learning import Assignment, Submission
from people.processing import counted
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
    pupils = await _active_pupils(session, ids)
    totals = await _judgement_totals(session, ids)
    by_school = await _subjects_by_school(session, ids)
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


async def _active_pupils(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Active pupils per school (one statement; schools without any are absent)."""
    rows = await session.execute(
        select(Pupil.school_id, func.count())
        .where(in_schools(Pupil, ids), Pupil.active, counted(Pupil, Pupil.id))
        .group_by(Pupil.school_id)
    )
    return dict(rows.all())


async def _judgement_totals(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    """(assessed pupils, judgements) per school (one statement; schools without any are absent)."""
    rows = await session.execute(
        select(Judgement.school_id, func.count(func.distinct(Judgement.pupil_id)), func.count())
        .where(in_schools(Judgement, ids), counted(Judgement, Judgement.pupil_id))
        .group_by(Judgement.school_id)
    )
    return {row[0]: (row[1], row[2]) for row in rows.all()}


async def _subjects_by_school(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[SubjectSummary]]:
    """Each school's subjects, by name, from the latest judgement per pupil and rung (one statement)."""
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
        .where(in_schools(Judgement, ids), counted(Judgement, Judgement.pupil_id))
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
    return by_school


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
    used = await _content_counts(session, ids)
    school_counts = await _content_schools(session, ids)
    titles = await _content_titles(session, list(used))
    items = _ranked_content(used, school_counts, titles)
    by_subject = await _assignments_by_subject(session, ids)
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


async def _content_counts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Per pre-loaded item: its ``assignments``, ``pupils`` (who submitted) and ``downloads`` (three statements)."""
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
        .where(
            in_schools(Assignment, ids),
            Assignment.platform_content_id.is_not(None),
            counted(Submission, Submission.pupil_id),
        )
        .group_by(Assignment.platform_content_id)
    )
    download_use = _counted_downloads(
        ids, Download.platform_content_id, func.count(func.distinct(Download.school_id)), func.count()
    ).group_by(Download.platform_content_id)
    used: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for content_id, _, count in (await session.execute(assignment_use)).all():
        used[content_id]["assignments"] = count
    for content_id, pupils in (await session.execute(submitted)).all():
        used[content_id]["pupils"] = pupils
    for content_id, _, count in (await session.execute(download_use)).all():
        used[content_id]["downloads"] = count
    return used


def _counted_downloads(ids: list[uuid.UUID], *columns: Any) -> Select[Any]:
    """``columns`` of the downloads of pre-loaded items by people who may be counted (``counted``: neither
    restricted nor objecting). A download names an account, so the person is the account's staff, pupil or
    contact record, joined through the account (an admin without a staff record has none and is counted)."""
    person = func.coalesce(Account.staff_id, Account.pupil_id, Account.contact_id)
    return (
        select(*columns)
        .select_from(Download)
        .outerjoin(
            Account,
            # The composite key, school first (as every tenant join).
            tuple_(Account.school_id, Account.id) == tuple_(Download.school_id, Download.account_id),
        )
        .where(
            in_schools(Download, ids), Download.platform_content_id.is_not(None), counted(Download, person)
        )
    )


async def _content_schools(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per pre-loaded item, the schools that assigned or downloaded it (one statement)."""
    # Schools using an item in either way: counted exactly (a school may both assign and download).
    both = union_all(
        select(Assignment.platform_content_id.label("content_id"), Assignment.school_id).where(
            in_schools(Assignment, ids), Assignment.platform_content_id.is_not(None)
        ),
        _counted_downloads(ids, Download.platform_content_id, Download.school_id),
    ).subquery("use")
    rows = await session.execute(
        select(both.c.content_id, func.count(func.distinct(both.c.school_id))).group_by(both.c.content_id)
    )
    return dict(rows.all())


async def _content_titles(
    session: AsyncSession, content_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """(code, title) of each pre-loaded item: one statement, none when there are no items."""
    if not content_ids:
        return {}
    rows = await session.execute(
        select(PlatformContent.id, PlatformContent.code, PlatformContent.title).where(
            PlatformContent.id.in_(content_ids)
        )
    )
    return {row[0]: (row[1], row[2]) for row in rows.all()}


def _ranked_content(
    used: dict[uuid.UUID, dict[str, int]],
    school_counts: dict[uuid.UUID, int],
    titles: dict[uuid.UUID, tuple[str, str]],
) -> list[ContentUsage]:
    """The suppressed usage of each item, most used first; items with nothing left to show are dropped."""
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
    return items


async def _assignments_by_subject(
    session: AsyncSession, ids: list[uuid.UUID]
) -> Sequence[Row[str, int, int]]:
    """(subject, assignments, schools) rows, most assigned first (one statement; counts unsuppressed)."""
    subject = func.coalesce(PlatformContent.subject, SchoolContent.subject, literal("Free text"))
    rows = await session.execute(
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
    return rows.all()

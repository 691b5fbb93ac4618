# mypy: disable-error-code="attr-defined,union-attr"
"""Progress from the latest judgements: per pupil and ladder, per group (the class view and its
distribution per rung), and per school and year group (a summary).

Definitions, used everywhere progress is shown:

* The judgement that counts for a pupil and rung is the latest one (:mod:`learning.queries`).
* ``secure_share``: the share of the ladder's rungs whose latest judgement is SECURE or GREATER_DEPTH,
  rounded to 4 places (0 for a ladder without rungs).
* ``current_rung``: the first rung, in ladder order, not yet secure or better (the next step); None when
  every rung is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from learning import ladders
from learning.policies import may_teach_group, sees_school_progress
from learning.queries import Cells, LatestJudgement, class_rows, latest_cells, latest_judgements_stmt
from models import Group, GroupPupil, Pupil
from models.curriculum import LEVELS, SECURE_OR_BETTER, CurriculumLadder, Judgement, SchoolLadder
from people.processing import visible_to_all
from tenants.scoping import in_school

SECURE = frozenset(SECURE_OR_BETTER)


@dataclass(frozen=True)
class PupilProgress:
    """One pupil on one ladder, from ``cells``: their latest judgements (:data:`learning.queries.Cells`).

    ``levels`` and ``secure_count`` are computed once, when made: every view of progress reads them."""

    pupil_id: uuid.UUID
    ladder: ladders.Ladder
    cells: Cells
    levels: list[str | None] = field(init=False, repr=False, compare=False)
    """The latest level on each rung, in ladder order (None: not assessed)."""
    secure_count: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cells = self.cells
        levels = [c[0] if (c := cells.get(r.key)) is not None else None for r in self.ladder.rungs]
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "secure_count", sum(1 for level in levels if level in SECURE))

    @cached_property
    def latest(self) -> dict[uuid.UUID, LatestJudgement]:
        """Rung id -> the judgement that counts, for the assessed rungs of the ladder."""
        cells = self.cells
        return {
            r.id: LatestJudgement(self.pupil_id, r.id, c[0], date.fromisoformat(c[1]))
            for r in self.ladder.rungs
            if (c := cells.get(r.key)) is not None
        }

    @property
    def secure_share(self) -> float:
        rungs = len(self.ladder.rungs)
        return round(self.secure_count / rungs, 4) if rungs else 0.0

    @property
    def current_rung(self) -> ladders.RungRow | None:
        for rung, level in zip(self.ladder.rungs, self.levels):
            if level not in SECURE:
                return rung
        return None


@dataclass(frozen=True)
class RungDistribution:
    rung: ladders.RungRow
    counts: dict[str, int]
    """Level -> pupils whose latest judgement on the rung is that level, plus NOT_ASSESSED."""


@dataclass(frozen=True)
class ClassView:
    """The teacher's class view: a group, its pupils (in name order) and their progress on one ladder."""

    group: Group
    ladder: ladders.Ladder
    pupils: list[Pupil]
    progress: list[PupilProgress]

    @property
    def group_id(self) -> uuid.UUID:
        """What the group policies read (:data:`learning.policies.GROUP_PROGRESS`)."""
        return self.group.id

    @cached_property
    def distribution(self) -> list[RungDistribution]:
        result = []
        for i, rung in enumerate(self.ladder.rungs):
            counts = dict.fromkeys((*LEVELS, "NOT_ASSESSED"), 0)
            for progress in self.progress:
                counts[progress.levels[i] or "NOT_ASSESSED"] += 1
            result.append(RungDistribution(rung, counts))
        return result


async def pupil_progress(
    session: AsyncSession, principal: Principal, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> list[PupilProgress | None]:
    """Progress for (pupil id, ladder id) keys (DataLoader batch): two statements however many keys.

    None for a pupil the caller may not see or a ladder the school cannot use.
    """
    ladder_ids = list({ladder_id for _, ladder_id in keys})
    found = await ladders.ladders_by_ids(session, principal.school_id, ladder_ids)
    pupil_ids = list({pupil_id for pupil_id, _ in keys if principal.may_see_pupil(pupil_id)})
    cells = await latest_cells(session, principal, pupil_ids, list(found))
    result: list[PupilProgress | None] = []
    for pupil_id, ladder_id in keys:
        ladder = found.get(ladder_id)
        if ladder is None or not principal.may_see_pupil(pupil_id):
            result.append(None)
            continue
        # A pupil's cells may span several ladders of the batch: each progress reads its own rungs only.
        result.append(PupilProgress(pupil_id, ladder, cells.get(pupil_id, {})))
    return result


async def class_view(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, ladder_id: uuid.UUID
) -> ClassView | None:
    """The class view in one statement, whatever the class size (:func:`learning.queries.class_rows`: the
    group, its pupils and each one's latest judgements, ``DISTINCT ON (rung)``), plus the ladder (none for a
    platform ladder, read once per process; one for a school's own). None when the caller does not teach
    the group (staff with school-wide access and admins see every group) or the ladder is unknown."""
    if not may_teach_group(principal, group_id):
        return None
    ladder = await ladders.ladder(session, principal.school_id, ladder_id)
    if ladder is None:
        return None
    found = await class_rows(session, principal, group_id, ladder_id)
    if found is None:
        return None
    group, rows = found
    progress = [PupilProgress(pupil.id, ladder, cells) for pupil, cells in rows]
    return ClassView(group, ladder, [pupil for pupil, _ in rows], progress)


# --- per school and year group --------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderSummary:
    """A year group's standing on one ladder: cohort = active pupils in active groups of the year."""

    ladder: ladders.Ladder
    cohort: int
    assessed_pupils: int
    level_counts: dict[str, int]
    """Latest judgements per level over every (pupil, rung) of the cohort; NOT_ASSESSED the rest."""

    @property
    def secure_share(self) -> float:
        possible = self.cohort * len(self.ladder.rungs)
        secure = sum(self.level_counts.get(level, 0) for level in SECURE_OR_BETTER)
        return round(secure / possible, 4) if possible else 0.0


async def school_summary(session: AsyncSession, principal: Principal, year_group: int) -> list[LadderSummary]:
    """Every usable ladder of the year group with its cohort's summary (school admins and staff with
    school-wide access; an empty list for anyone else). Three statements."""
    if not sees_school_progress(principal):
        return []
    school = principal.school_id
    platform = select(CurriculumLadder.id).where(CurriculumLadder.year_group == year_group)
    own = select(SchoolLadder.id).where(
        in_school(SchoolLadder, school),
        SchoolLadder.year_group == year_group,
        SchoolLadder.archived_at.is_(None),
    )
    ladder_ids = list((await session.execute(platform.union_all(own))).scalars())
    found = await ladders.ladders_by_ids(session, school, ladder_ids)
    cohort = (
        select(GroupPupil.pupil_id)
        .join(Group, and_(in_school(Group, school), Group.id == GroupPupil.group_id))
        .join(Pupil, and_(in_school(Pupil, school), Pupil.id == GroupPupil.pupil_id))
        .where(
            in_school(GroupPupil, school),
            Group.year_group == year_group,
            Group.active,
            Pupil.active,
            visible_to_all(Pupil, Pupil.id),  # a restricted pupil is left out of statistics (LL-S2 (xiii))
        )
        .distinct()
        .subquery("cohort")
    )
    latest = latest_judgements_stmt(school, select(cohort.c.pupil_id), ladder_ids).add_columns(
        Judgement.ladder_id
    )
    latest_sq = latest.subquery("latest")
    counts_stmt: Any = select(
        latest_sq.c.ladder_id,
        func.count(func.distinct(latest_sq.c.pupil_id)),
        *(func.count().filter(latest_sq.c.level == level) for level in LEVELS),
    ).group_by(latest_sq.c.ladder_id)
    cohort_size = select(func.count()).select_from(cohort).scalar_subquery()
    rows = (await session.execute(counts_stmt.add_columns(cohort_size))).all()
    by_ladder = {row[0]: row for row in rows}
    size = rows[0][-1] if rows else (await session.execute(select(cohort_size))).scalar_one()
    summaries = []
    for ladder in sorted(found.values(), key=lambda x: (x.row.subject, x.row.title)):
        row = by_ladder.get(ladder.id)
        level_counts = dict(zip(LEVELS, row[2 : 2 + len(LEVELS)])) if row else dict.fromkeys(LEVELS, 0)
        level_counts["NOT_ASSESSED"] = size * len(ladder.rungs) - sum(level_counts.values())
        summaries.append(LadderSummary(ladder, size, row[1] if row else 0, level_counts))
    return summaries

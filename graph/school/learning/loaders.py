"""The learning domain's DataLoaders: ladders, progress, assignments' work, content and stored files.

Made once per request, on first use, by :attr:`graph.school.loaders.Loaders.learning`. Every batch applies
the caller's row scope (:mod:`learning.queries`, :mod:`people.queries`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from graph.core.loaders import Lookup, batch_loader, lookup_loader
from learning import assignments, content, ladders, progress, queries
from models import Group, Pupil, Staff
from models.content import StoredFile
from models.learning import Achievement, Assignment, LearningGoal
from people import queries as people


class LearningLoaders:
    """Loaders of learning data for one request. Anonymous callers get None for every key."""

    def __init__(self, session: AsyncSession, principal: Principal | None, now: datetime) -> None:
        self.now = now
        self.assignments: dict[uuid.UUID, Assignment] = {}
        """Assignments seen in this request, so that ``work`` can batch by id."""

        def by_id(lookup: Lookup[uuid.UUID, Any]) -> DataLoader[uuid.UUID, Any]:
            return lookup_loader(session, principal, lookup)

        def batch(fn: Any) -> DataLoader[Any, Any]:
            return batch_loader(session, principal, fn, missing=lambda: None)

        self.ladder: DataLoader[uuid.UUID, ladders.Ladder | None] = by_id(_ladders)
        self.rung: DataLoader[uuid.UUID, tuple[ladders.RungRow, ladders.LadderRow] | None] = by_id(_rungs)
        self.progress: DataLoader[tuple[uuid.UUID, uuid.UUID], progress.PupilProgress | None] = batch(
            progress.pupil_progress
        )
        self.pupil: DataLoader[uuid.UUID, Pupil | None] = by_id(people.pupils_by_ids)
        self.staff: DataLoader[uuid.UUID, Staff | None] = by_id(people.staff_by_ids)
        self.group: DataLoader[uuid.UUID, Group | None] = by_id(people.groups_by_ids)
        self.content: DataLoader[uuid.UUID, content.ContentItem | None] = by_id(content.content_by_ids)
        self.file: DataLoader[uuid.UUID, StoredFile | None] = by_id(_files)
        self.work: DataLoader[uuid.UUID, list[assignments.PupilWork]] = batch(self._work)
        self.achievements: DataLoader[uuid.UUID, list[Achievement]] = batch(queries.achievements_of_pupils)
        self.goals: DataLoader[uuid.UUID, list[LearningGoal]] = batch(queries.goals_of_pupils)
        self.username: DataLoader[uuid.UUID, str | None] = batch(queries.usernames_of_accounts)

    async def _work(
        self, session: AsyncSession, principal: Principal, keys: Sequence[uuid.UUID]
    ) -> list[list[assignments.PupilWork]]:
        rows = [self.assignments[k] for k in keys]
        return await assignments.work_of_assignments(session, principal, rows, now=self.now)


async def _ladders(
    session: AsyncSession, principal: Principal, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ladders.Ladder]:
    return await ladders.ladders_by_ids(session, principal.school_id, keys)


async def _rungs(
    session: AsyncSession, principal: Principal, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[ladders.RungRow, ladders.LadderRow]]:
    return await ladders.rungs_by_ids(session, principal.school_id, keys)


async def _files(
    session: AsyncSession, principal: Principal, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StoredFile]:
    return await queries.files_by_ids(session, principal.school_id, keys)

"""The request's learning DataLoaders, made on first use from ``info.context`` (beside ``Loaders``).

:func:`learning_loaders` keys one :class:`LearningLoaders` per request by the request's session (one
session per request, never shared), so the loaders and their caches live exactly as long as the request.
Every batch applies the caller's row scope (:mod:`learning.queries`, :mod:`people.queries`).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from auth.principal import Principal
from learning import assignments, content, ladders, progress, queries
from models import Group, Pupil, Staff
from models.learning import Achievement, Assignment, LearningGoal, StoredFile
from people import queries as people


class LearningLoaders:
    """Loaders of learning data for one request. Anonymous callers get empty results."""

    def __init__(self, session: AsyncSession, principal: Principal | None, now: datetime) -> None:
        self.session, self.principal, self.now = session, principal, now
        self.assignments: dict[uuid.UUID, Assignment] = {}
        """Assignments seen in this request, so that ``work`` can batch by id."""
        self.ladder: DataLoader[uuid.UUID, ladders.Ladder | None] = self._by_id(self._ladders)
        self.rung: DataLoader[uuid.UUID, tuple[ladders.RungRow, ladders.LadderRow] | None] = self._by_id(
            self._rungs
        )
        self.progress: DataLoader[tuple[uuid.UUID, uuid.UUID], progress.PupilProgress | None] = self._batch(
            progress.pupil_progress
        )
        self.pupil: DataLoader[uuid.UUID, Pupil | None] = self._by_id(self._scoped(people.pupils_by_ids))
        self.staff: DataLoader[uuid.UUID, Staff | None] = self._by_id(self._scoped(people.staff_by_ids))
        self.group: DataLoader[uuid.UUID, Group | None] = self._by_id(self._scoped(people.groups_by_ids))
        self.content: DataLoader[uuid.UUID, content.ContentItem | None] = self._by_id(
            self._scoped(content.content_by_ids)
        )
        self.file: DataLoader[uuid.UUID, StoredFile | None] = self._by_id(self._files)
        self.work: DataLoader[uuid.UUID, list[assignments.PupilWork]] = self._batch(self._work)
        self.achievements: DataLoader[uuid.UUID, list[Achievement]] = self._batch(
            queries.achievements_of_pupils
        )
        self.goals: DataLoader[uuid.UUID, list[LearningGoal]] = self._batch(queries.goals_of_pupils)
        self.username: DataLoader[uuid.UUID, str | None] = self._batch(queries.usernames_of_accounts)

    def _batch(self, fn: Callable[[AsyncSession, Principal, Sequence[Any]], Awaitable[Sequence[Any]]]) -> Any:
        async def load(keys: list[Any]) -> Sequence[Any]:
            if self.principal is None:
                return [None for _ in keys]
            return await fn(self.session, self.principal, keys)

        return DataLoader(load_fn=load)

    def _by_id(self, fetch: Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]) -> Any:
        async def load(keys: list[uuid.UUID]) -> list[Any]:
            if self.principal is None:
                return [None for _ in keys]
            found = await fetch(keys)
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    def _scoped(self, fn: Any) -> Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]:
        async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
            found: dict[uuid.UUID, Any] = await fn(self.session, self.principal, keys)
            return found

        return fetch

    async def _ladders(self, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        assert self.principal is not None
        return await ladders.ladders_by_ids(self.session, self.principal.school_id, keys)

    async def _rungs(self, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        assert self.principal is not None
        return await ladders.rungs_by_ids(self.session, self.principal.school_id, keys)

    async def _files(self, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        assert self.principal is not None
        return await queries.files_by_ids(self.session, self.principal.school_id, keys)

    async def _work(
        self, session: AsyncSession, principal: Principal, keys: Sequence[uuid.UUID]
    ) -> list[list[assignments.PupilWork]]:
        rows = [self.assignments[k] for k in keys]
        return await assignments.work_of_assignments(session, principal, rows, now=self.now)


_PER_REQUEST: weakref.WeakKeyDictionary[AsyncSession, LearningLoaders] = weakref.WeakKeyDictionary()


def learning_loaders(info: Info) -> LearningLoaders:
    context = info.context
    found = _PER_REQUEST.get(context.session)
    if found is None:
        found = LearningLoaders(context.session, context.principal, context.now)
        _PER_REQUEST[context.session] = found
    return found

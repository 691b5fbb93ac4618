"""The request's DataLoaders: batch lookups behind nested fields, so a list of N rows costs one statement.

:class:`Loaders` is the one place a request keeps its loaders. The HTTP edge makes it with the request's
session, caller and clock (``Loaders.create``) and puts it in the context; each domain's group of loaders
is declared in that domain's module and made on its first use, so a request that reads no learning data
builds no learning loaders. The loaders and their caches live exactly as long as the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from graph.school.learning.loaders import LearningLoaders
from graph.school.people.loaders import PeopleLoaders


@dataclass(frozen=True)
class Loaders:
    """One request's loaders, a group per domain, each made when a resolver first asks for it."""

    session: AsyncSession
    principal: Principal | None
    now: datetime

    @classmethod
    def create(cls, session: AsyncSession, principal: Principal | None, now: datetime) -> Loaders:
        return cls(session, principal, now)

    @cached_property
    def people(self) -> PeopleLoaders:
        return PeopleLoaders(self.session, self.principal)

    @cached_property
    def learning(self) -> LearningLoaders:
        return LearningLoaders(self.session, self.principal, self.now)

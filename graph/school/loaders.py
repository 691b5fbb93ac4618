"""The request's DataLoaders: batch lookups behind nested fields, so a list of N rows costs one statement.

:class:`Loaders` is the one place a request keeps its loaders. The HTTP edge makes it with the request's
session, caller and clock (``Loaders.create``) and puts it in the context; each domain's group of loaders
is declared in that domain's module and made on its first use, so a request that reads no learning data
builds no learning loaders. The loaders and their caches live exactly as long as the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from graph.core.loaders import batch_loader
from graph.school.learning_loaders import LearningLoaders
from models import Account, Contact, Group, Pupil, Staff
from people import queries


class PeopleLoaders:
    """Loaders of pupils, staff, groups, contacts and accounts. Anonymous callers get empty lists."""

    def __init__(self, session: AsyncSession, principal: Principal | None) -> None:
        def of_keys(batch: Any) -> DataLoader[uuid.UUID, Any]:
            return batch_loader(session, principal, batch, missing=list)

        self.pupils_of_group: DataLoader[uuid.UUID, list[Pupil]] = of_keys(queries.pupils_of_groups)
        self.groups_of_pupil: DataLoader[uuid.UUID, list[Group]] = of_keys(queries.groups_of_pupils)
        self.teachers_of_group: DataLoader[uuid.UUID, list[Staff]] = of_keys(queries.teachers_of_groups)
        self.groups_of_staff: DataLoader[uuid.UUID, list[Group]] = of_keys(queries.groups_of_staff)
        self.contacts_of_pupil: DataLoader[uuid.UUID, list[Contact]] = of_keys(queries.contacts_of_pupils)
        self.account_of_person: DataLoader[uuid.UUID, Account | None] = of_keys(queries.accounts_of_people)


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

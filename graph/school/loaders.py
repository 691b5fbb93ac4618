"""The request's DataLoaders: batch lookups behind nested fields, so a list of N rows costs one statement."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from models import Account, Contact, Group, Pupil, Staff
from people import queries


def _loader(
    session: AsyncSession,
    principal: Principal | None,
    batch: Callable[[AsyncSession, Principal, Sequence[uuid.UUID]], Awaitable[Sequence[Any]]],
) -> DataLoader[uuid.UUID, Any]:
    async def load(keys: list[uuid.UUID]) -> Sequence[Any]:
        if principal is None:
            return [[] for _ in keys]
        return await batch(session, principal, keys)

    return DataLoader(load_fn=load)


@dataclass(frozen=True)
class Loaders:
    pupils_of_group: DataLoader[uuid.UUID, list[Pupil]]
    groups_of_pupil: DataLoader[uuid.UUID, list[Group]]
    teachers_of_group: DataLoader[uuid.UUID, list[Staff]]
    groups_of_staff: DataLoader[uuid.UUID, list[Group]]
    contacts_of_pupil: DataLoader[uuid.UUID, list[Contact]]
    account_of_person: DataLoader[uuid.UUID, Account | None]

    @classmethod
    def create(cls, session: AsyncSession, principal: Principal | None) -> Loaders:
        return cls(
            pupils_of_group=_loader(session, principal, queries.pupils_of_groups),
            groups_of_pupil=_loader(session, principal, queries.groups_of_pupils),
            teachers_of_group=_loader(session, principal, queries.teachers_of_groups),
            groups_of_staff=_loader(session, principal, queries.groups_of_staff),
            contacts_of_pupil=_loader(session, principal, queries.contacts_of_pupils),
            account_of_person=_loader(session, principal, queries.accounts_of_people),
        )

"""The people domain's DataLoaders: groups, teachers, pupils, contacts and accounts behind nested fields.

Made once per request, on first use, by :attr:`graph.school.loaders.Loaders.people`. Every batch applies
the caller's row scope (:mod:`people.queries`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from graph.core.loaders import batch_loader
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

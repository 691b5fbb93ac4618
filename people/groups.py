"""School-admin operations on a school's groups (classes, registration groups, sets): create, update,
deactivate. Who is in a group and who teaches it: :mod:`people.memberships`. The contract every operation
keeps is in :mod:`people.service`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from common.maybe import UNSET, Maybe
from models import Group
from models.groups import GROUP_TYPES
from people import validation as v
from people.rows import GROUP, Unique, apply_changes, check_unique, find


@dataclass(frozen=True)
class NewGroup:
    name: str
    kind: str
    year_group: int | None = None
    subject: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class GroupChanges:
    group_id: uuid.UUID
    name: Maybe[str | None] = UNSET
    kind: Maybe[str | None] = UNSET
    year_group: Maybe[int | None] = UNSET
    subject: Maybe[str | None] = UNSET
    external_id: Maybe[str | None] = UNSET


@dataclass(frozen=True)
class GroupRef:
    group_id: uuid.UUID


FIELDS: dict[str, v.Cleaner] = {
    "name": v.text("The name", 100, required=True),
    "kind": v.choice("The kind", GROUP_TYPES),
    "year_group": v.year_group,
    "subject": v.text("The subject", 100),
    "external_id": v.text("The external id", 255),
}
UNIQUE = (
    Unique(
        "external_id", "DUPLICATE_EXTERNAL_ID", "Another group at this school has the external id {value!r}."
    ),
)
_COLUMNS = {"kind": "type"}
"""Input fields whose column has another name."""


def _columns(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {_COLUMNS.get(name, name): value for name, value in cleaned.items()}


async def create_group(
    session: AsyncSession, principal: Principal, data: NewGroup, *, now: datetime
) -> Group:
    problems = Problems()
    cleaned = v.clean(problems, FIELDS, data)
    await check_unique(session, principal, problems, Group, cleaned, UNIQUE)
    problems.raise_if_any()
    group = Group(school_id=principal.school_id, **_columns(cleaned), created_at=now)
    session.add(group)
    await session.flush()
    return group


async def update_group(
    session: AsyncSession, principal: Principal, data: GroupChanges, *, now: datetime
) -> Group:
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems, lock=True)
    cleaned = v.clean(problems, FIELDS, data)
    await check_unique(session, principal, problems, Group, cleaned, UNIQUE, exclude=data.group_id)
    problems.raise_if_any()
    assert group is not None
    apply_changes(group, _columns(cleaned), now=now)
    await session.flush()
    return group


async def deactivate_group(
    session: AsyncSession, principal: Principal, data: GroupRef, *, now: datetime
) -> Group:
    """The group is hidden from lists and takes no new members; its memberships are kept as history."""
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems, lock=True)
    problems.raise_if_any()
    assert group is not None
    group.active = False
    group.updated_at = now
    await session.flush()
    return group

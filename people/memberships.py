"""School-admin operations on who is in a group and who teaches it. All idempotent.

A teacher's row scope (the pupils of the groups they teach) is loaded with their Principal, so every
change here takes effect on the teacher's next request. The contract every operation keeps is in
:mod:`people.service`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from models import Group, GroupPupil, GroupTeacher
from people.rows import GROUP, PUPIL, STAFF, check_all, find
from tenants.scoping import scoped_delete


@dataclass(frozen=True)
class GroupPupils:
    group_id: uuid.UUID
    pupil_ids: Sequence[uuid.UUID]


@dataclass(frozen=True)
class GroupTeacherRef:
    group_id: uuid.UUID
    staff_id: uuid.UUID


async def add_group_pupils(
    session: AsyncSession, principal: Principal, data: GroupPupils, *, now: datetime
) -> Group:
    """Idempotent: pupils already in the group stay as they are. Group and pupils must be active."""
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems, active=True)
    await check_all(session, principal, PUPIL, data.pupil_ids, problems, field="pupilIds", active=True)
    problems.raise_if_any()
    assert group is not None
    if data.pupil_ids:
        await session.execute(
            insert(GroupPupil)
            .values(
                [
                    {"school_id": principal.school_id, "group_id": group.id, "pupil_id": p, "created_at": now}
                    for p in dict.fromkeys(data.pupil_ids)
                ]
            )
            .on_conflict_do_nothing(index_elements=["school_id", "group_id", "pupil_id"])
        )
    return group


async def remove_group_pupils(
    session: AsyncSession, principal: Principal, data: GroupPupils, *, now: datetime
) -> Group:
    """Idempotent: pupils not in the group are ignored. Leavers and inactive groups may be tidied too."""
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems)
    await check_all(session, principal, PUPIL, data.pupil_ids, problems, field="pupilIds", active=False)
    problems.raise_if_any()
    assert group is not None
    if data.pupil_ids:
        await session.execute(
            scoped_delete(GroupPupil, principal.school_id).where(
                GroupPupil.group_id == group.id,
                GroupPupil.pupil_id.in_(set(data.pupil_ids)),  # type: ignore[attr-defined]
            )
        )
    return group


async def add_group_teacher(
    session: AsyncSession, principal: Principal, data: GroupTeacherRef, *, now: datetime
) -> Group:
    """Idempotent. Group and member of staff must be active. Takes effect on the teacher's next request."""
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems, active=True)
    await find(session, principal, STAFF, data.staff_id, problems, active=True)
    problems.raise_if_any()
    assert group is not None
    await session.execute(
        insert(GroupTeacher)
        .values(school_id=principal.school_id, group_id=group.id, staff_id=data.staff_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["school_id", "group_id", "staff_id"])
    )
    return group


async def remove_group_teacher(
    session: AsyncSession, principal: Principal, data: GroupTeacherRef, *, now: datetime
) -> Group:
    """Idempotent. The teacher loses sight of the group's pupils on their next request."""
    problems = Problems()
    group: Group | None = await find(session, principal, GROUP, data.group_id, problems)
    await find(session, principal, STAFF, data.staff_id, problems)
    problems.raise_if_any()
    assert group is not None
    await session.execute(
        scoped_delete(GroupTeacher, principal.school_id).where(
            GroupTeacher.group_id == group.id, GroupTeacher.staff_id == data.staff_id
        )
    )
    return group

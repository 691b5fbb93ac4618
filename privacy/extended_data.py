"""The school's extended-data opt-in (LL-A 3.2; the optional data of LL-S1).

While a school has opted in, imports keep its pupils' extended data (LEA care, SEN status code, pupil
premium, EAL); otherwise they drop it with a warning. Opting in records who approved (their name, as the
clause asks, and account) and when; revoking records who revoked and when, and deletes every stored row of
extended data of the school in the same transaction. Both are recorded in the audit trail attached to the
session (``common.events``). Both are school-admin operations: the GraphQL layer
enforces the policy, these functions trust their caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import DomainError
from common.events import emit
from common.pagination import UUID, Page, after_key
from models import Pupil, Staff
from models.roster import ExtendedDataOptIn, PupilExtendedData
from tenants.scoping import restrict, scoped, scoped_delete


@dataclass(frozen=True)
class Revoked:
    setting: ExtendedDataOptIn
    deleted: int
    """Rows of extended pupil data deleted."""


async def setting(session: AsyncSession, school_id: uuid.UUID) -> ExtendedDataOptIn | None:
    row: ExtendedDataOptIn | None = (
        await session.execute(scoped(ExtendedDataOptIn, school_id))
    ).scalar_one_or_none()
    return row


async def is_opted_in(session: AsyncSession, school_id: uuid.UUID) -> bool:
    row = await setting(session, school_id)
    return row is not None and row.enabled


async def person_name(session: AsyncSession, principal: Principal) -> str:
    """The approver's name as the school knows them (their staff record), else their username."""
    if principal.staff_id is not None:
        row = (
            await session.execute(scoped(Staff, principal.school_id).where(Staff.id == principal.staff_id))
        ).scalar_one_or_none()
        if row is not None:
            return " ".join(p for p in (row.title, row.forename, row.surname) if p)[:200]
    return principal.username[:200]


async def opt_in(session: AsyncSession, principal: Principal, *, now: datetime) -> ExtendedDataOptIn:
    school_id = principal.school_id
    if await is_opted_in(session, school_id):
        raise DomainError.one(None, "ALREADY_OPTED_IN", "This school has already opted in to extended data.")
    name = await person_name(session, principal)
    values = {
        "enabled": True,
        "approved_by": principal.account_id,
        "approved_by_name": name,
        "approved_at": now,
    }
    stmt = pg_insert(ExtendedDataOptIn).values(school_id=school_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["school_id"], set_=values))
    row = await setting(session, school_id)
    assert row is not None
    await session.refresh(row)
    await emit(session, "privacy.extended_data.opt_in")
    return row


async def revoke(session: AsyncSession, principal: Principal, *, now: datetime) -> Revoked:
    """Opt out: record who and when, and delete all of the school's extended pupil data (LL-A 3.2)."""
    school_id = principal.school_id
    row = (await session.execute(scoped(ExtendedDataOptIn, school_id).with_for_update())).scalar_one_or_none()
    if row is None or not row.enabled:
        raise DomainError.one(None, "NOT_OPTED_IN", "This school has not opted in to extended data.")
    row.enabled = False
    row.revoked_by = principal.account_id
    row.revoked_by_name = await person_name(session, principal)
    row.revoked_at = now
    result = await session.execute(scoped_delete(PupilExtendedData, school_id))
    deleted = int(result.rowcount)  # type: ignore[attr-defined]
    await emit(session, "privacy.extended_data.revoke", detail={"deletedRows": deleted})
    return Revoked(setting=row, deleted=deleted)


async def stored_count(session: AsyncSession, school_id: uuid.UUID) -> int:
    from sqlalchemy import func

    stmt = select(func.count()).select_from(scoped(PupilExtendedData, school_id).subquery())
    return int((await session.execute(stmt)).scalar_one())


async def pupils_page(session: AsyncSession, school_id: uuid.UUID, page: Page) -> Sequence[PupilExtendedData]:
    """Stored extended data of the school's pupils, by pupil id, ``page.first + 1`` rows at most."""
    stmt = restrict(
        scoped(PupilExtendedData, school_id).join(Pupil, Pupil.id == PupilExtendedData.pupil_id),
        Pupil,
        school_id,
    )
    after = after_key(page, UUID)
    if after is not None:
        stmt = stmt.where(PupilExtendedData.pupil_id > after[0])
    rows: Sequence[PupilExtendedData] = (
        (await session.execute(stmt.order_by(PupilExtendedData.pupil_id).limit(page.first + 1)))
        .scalars()
        .all()
    )
    return rows

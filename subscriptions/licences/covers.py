"""Which licence covers which school, and when covers end."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from models import School
from models.licensing import Licence, LicenceSchool
from subscriptions.licences.terms import covering


async def lock_schools(session: AsyncSession, school_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, School]:
    """Lock the schools' rows (in id order, so concurrent writers queue instead of deadlocking)."""
    if not school_ids:
        return {}
    rows = await session.execute(
        select(School).where(School.id.in_(school_ids)).order_by(School.id).with_for_update()  # type: ignore[attr-defined]
    )
    return {s.id: s for s in rows.scalars()}


async def covers_of(session: AsyncSession, school_id: uuid.UUID) -> list[tuple[Licence, LicenceSchool]]:
    rows = await session.execute(
        select(Licence, LicenceSchool)
        .join(LicenceSchool, LicenceSchool.licence_id == Licence.id)
        .where(LicenceSchool.tenant_id == school_id)
        .order_by(LicenceSchool.covered_from)
    )
    return [(licence, cover) for licence, cover in rows.all()]


async def current_licence(session: AsyncSession, school_id: uuid.UUID, on: date) -> Licence | None:
    return (
        await session.execute(
            select(Licence)
            .join(LicenceSchool, LicenceSchool.licence_id == Licence.id)
            .where(LicenceSchool.tenant_id == school_id, covering(on))
            .order_by(LicenceSchool.covered_from.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).scalar_one_or_none()


async def covered_school_ids(session: AsyncSession, licence_id: uuid.UUID, on: date) -> list[uuid.UUID]:
    rows = await session.execute(
        select(LicenceSchool.tenant_id).where(LicenceSchool.licence_id == licence_id, covering(on))
    )
    return list(rows.scalars())


async def licence_by_id(session: AsyncSession, licence_id: uuid.UUID, *, lock: bool = False) -> Licence:
    licence = await session.get(Licence, licence_id, with_for_update=lock)
    if licence is None:
        raise DomainError.one("licenceId", "NOT_FOUND", "No such licence.")
    return licence


async def end_cover(
    session: AsyncSession, licence_id: uuid.UUID, on: date, school_id: uuid.UUID | None = None
) -> None:
    """End open covers of a licence on ``on`` (a cover that had not begun by then is removed)."""
    stmt = select(LicenceSchool).where(
        LicenceSchool.licence_id == licence_id,
        or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > on),  # type: ignore[union-attr]
    )
    if school_id is not None:
        stmt = stmt.where(LicenceSchool.tenant_id == school_id)
    for cover in (await session.execute(stmt.with_for_update())).scalars():
        if cover.covered_from >= on:
            await session.execute(
                delete(LicenceSchool).where(
                    LicenceSchool.licence_id == cover.licence_id, LicenceSchool.tenant_id == cover.tenant_id
                )
            )
        else:
            cover.covered_to = on
    await session.flush()


async def end_school_cover(
    session: AsyncSession, school_id: uuid.UUID, *, on: date, status: str
) -> list[Licence]:
    """End every cover of the school from ``on``; a licence left covering no school takes ``status``."""
    touched = []
    for licence, cover in await covers_of(session, school_id):
        if cover.covered_to is not None and cover.covered_to <= on:
            continue
        await end_cover(session, licence.id, on, school_id)
        remaining = (
            await session.execute(
                select(LicenceSchool.tenant_id).where(
                    LicenceSchool.licence_id == licence.id,
                    or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > on),  # type: ignore[union-attr]
                )
            )
        ).first()
        if remaining is None and licence.status == "ACTIVE":
            licence.status = status
            licence.ended_on = on
        touched.append(licence)
    await session.flush()
    return touched

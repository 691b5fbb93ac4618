"""Reading a school's roster records: the import history and the MIS org the school is matched by."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from common.pagination import Page
from models.roster import RosterImport, RosterSource
from tenants.scoping import scoped


async def import_by_id(session: AsyncSession, school_id: uuid.UUID, import_id: uuid.UUID) -> RosterImport:
    row: RosterImport = (
        await session.execute(scoped(RosterImport, school_id).where(RosterImport.id == import_id))
    ).scalar_one()
    return row


async def imports_by_ids(
    session: AsyncSession, school_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, RosterImport]:
    if not ids:
        return {}
    stmt = scoped(RosterImport, school_id).where(RosterImport.id.in_(ids))  # type: ignore[attr-defined]
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def imports_page(session: AsyncSession, school_id: uuid.UUID, page: Page) -> Sequence[RosterImport]:
    """Newest first, ``page.first + 1`` rows at most; the cursor is (started_at ISO, id)."""
    order = (RosterImport.started_at.desc(), RosterImport.id.desc())  # type: ignore[attr-defined]
    stmt = scoped(RosterImport, school_id)
    if page.after is not None:
        try:
            started, last = datetime.datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1])
        except (ValueError, IndexError):
            raise DomainError.one(
                "after", "INVALID_CURSOR", "The cursor does not belong to this list."
            ) from None
        stmt = stmt.where(tuple_(RosterImport.started_at, RosterImport.id) < tuple_(started, last))
    rows: Sequence[RosterImport] = (
        (await session.execute(stmt.order_by(*order).limit(page.first + 1))).scalars().all()
    )
    return rows


async def roster_source(session: AsyncSession, school_id: uuid.UUID) -> RosterSource | None:
    row: RosterSource | None = (await session.execute(scoped(RosterSource, school_id))).scalar_one_or_none()
    return row

"""Leavers (LL 11.1, LRS 7.1): a leaving date recorded in advance takes effect on that day through the
``leavers`` jobs step (the person inactive, their accounts disabled, their sessions revoked), and the
overdue-leavers report lists anyone still active 7 days past their leaving date (it stays empty while the
step runs daily)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.service import set_account_status
from common.clock import school_today
from common.events import emit_for_school
from models import Account, Pupil, Staff
from tenants.scoping import in_school, scoped

OVERDUE_AFTER = timedelta(days=7)
_PEOPLE: tuple[tuple[str, Any, Any], ...] = (
    ("PUPIL", Pupil, Account.pupil_id),
    ("STAFF", Staff, Account.staff_id),
)


@dataclass(frozen=True)
class Leaver:
    kind: str
    id: uuid.UUID
    forename: str
    surname: str
    date_of_leaving: date


async def _active_leavers(
    session: AsyncSession, school_id: uuid.UUID, by: date
) -> list[tuple[str, Any, Any]]:
    found = []
    for kind, model, link in _PEOPLE:
        rows = await session.execute(
            scoped(model, school_id)
            .where(model.active, model.date_of_leaving <= by)
            .order_by(model.date_of_leaving)
        )
        found += [(kind, row, link) for row in rows.scalars()]
    return found


async def apply_due(session: AsyncSession, school_id: uuid.UUID, *, now: datetime) -> int:
    """Everyone whose leaving date has come: inactive, accounts disabled, sessions revoked (audited)."""
    today = school_today(now)
    leavers = await _active_leavers(session, school_id, today)
    for kind, person, link in leavers:
        person.active, person.updated_at = False, now
        accounts = list(
            (
                await session.execute(
                    select(Account.id).where(in_school(Account, school_id), link == person.id)
                )
            ).scalars()
        )
        if accounts:
            await set_account_status(
                session,
                school_id,
                accounts,
                status="DISABLED",
                reason=f"Left on {person.date_of_leaving}.",
                now=now,
            )
        await emit_for_school(
            session,
            school_id,
            "person.left",
            target_type=kind.title(),
            target_id=person.id,
            detail={"dateOfLeaving": str(person.date_of_leaving), "accounts": len(accounts)},
        )
    return len(leavers)


async def overdue(session: AsyncSession, school_id: uuid.UUID, *, now: datetime) -> list[Leaver]:
    """Still active 7 days (or more) past their leaving date (LL 11.1: should always be empty)."""
    by = school_today(now) - OVERDUE_AFTER
    return [
        Leaver(kind, p.id, p.forename, p.surname, p.date_of_leaving)
        for kind, p, _ in await _active_leavers(session, school_id, by)
    ]

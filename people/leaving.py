"""Leavers (LL 11.1, LL 11.2): a member of staff or pupil deactivated loses access in the same transaction.

Shared by the staff and pupil operations: the leaving date a deactivation records, and the deactivation
itself (inactive, leaving date, account disabled and every session revoked).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from auth.service import set_account_status
from common.errors import Problems
from models import Account, Pupil, Staff
from people.validation import leaving_date
from tenants.scoping import restrict


def date_of_leaving(
    problems: Problems, given: date | None, person: Staff | Pupil | None, today: date
) -> date:
    """The leaving date to record: the given one (today or earlier), else the past one already recorded for
    someone deactivated before (deactivating again without a date keeps it), else today."""
    recorded = None
    if person is not None and not person.active and person.date_of_leaving is not None:
        recorded = person.date_of_leaving if person.date_of_leaving <= today else None
    cleaned: date = leaving_date(today)(problems, "dateOfLeaving", given or recorded)
    return cleaned


async def record_leaving(
    session: AsyncSession,
    principal: Principal,
    person: Staff | Pupil,
    account_column: Any,
    leaving: date,
    *,
    now: datetime,
) -> None:
    """Inactive from now with this leaving date; the account ``account_column`` links is disabled."""
    person.active = False
    person.date_of_leaving = leaving
    person.updated_at = now
    await _end_access(
        session, principal, account_column, person.id, reason=f"Left the school on {leaving}.", now=now
    )


async def _end_access(
    session: AsyncSession,
    principal: Principal,
    column: Any,
    person_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> None:
    """LL 11.1, LL 11.2: disable the person's account and revoke its sessions in this transaction."""
    stmt = restrict(select(Account.id).where(column == person_id), Account, principal.school_id)
    account_ids = list((await session.execute(stmt)).scalars())
    if account_ids:
        await set_account_status(
            session, principal.school_id, account_ids, status="DISABLED", reason=reason, now=now
        )

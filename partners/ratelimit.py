"""The per-client rate limit of partner requests (issue 14): a fixed window per partner, in the database,
so every server instance counts against the same limit."""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.settings import Settings
from models.partners import PartnerRateWindow


async def admit(
    session: AsyncSession, settings: Settings, partner_id: uuid.UUID, now: datetime
) -> int | None:
    """Count one request of the partner; None when it is within the limit, else the seconds until the
    window ends (the response's ``Retry-After``). One statement, safe under concurrent requests."""
    window = settings.partner_rate_window
    in_window = PartnerRateWindow.window_started_at > now - window
    stmt = insert(PartnerRateWindow).values(partner_id=partner_id, window_started_at=now, requests=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["partner_id"],
        set_={
            "requests": case((in_window, PartnerRateWindow.requests + 1), else_=1),
            "window_started_at": case((in_window, PartnerRateWindow.window_started_at), else_=now),
        },
    ).returning(PartnerRateWindow.requests, PartnerRateWindow.window_started_at)
    requests, started = (await session.execute(stmt)).one()
    if requests <= settings.partner_rate_limit:
        return None
    remaining: float = (started + window - now).total_seconds()
    return max(1, math.ceil(remaining))

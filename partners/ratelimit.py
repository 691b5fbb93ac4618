"""The per-client rate limit of partner requests (issue 14): a fixed window per partner, in the database,
so every server instance counts against the same limit."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.settings import Settings
from models.partners import PartnerRateWindow


def count(now: Any, window_start: Any, partner_id: Any) -> Any:
    """The upsert that counts one request of the partner in its window (a new window at ``now`` once the
    one that started after ``window_start`` ended), returning the window's ``requests`` and
    ``window_started_at``. ``partner_id`` is the partner's id, or a SELECT of the row to insert
    (``partner_id, window_started_at, requests``): a caller then counts only a request its SELECT admits
    (:func:`partners.oauth.admit`)."""
    in_window = PartnerRateWindow.window_started_at > window_start
    if isinstance(partner_id, Select):
        stmt = insert(PartnerRateWindow).from_select(
            ["partner_id", "window_started_at", "requests"], partner_id
        )
    else:  # VALUES: Citus plans an INSERT ... SELECT of parameters into a reference table without their types
        stmt = insert(PartnerRateWindow).values(partner_id=partner_id, window_started_at=now, requests=1)
    return stmt.on_conflict_do_update(
        index_elements=["partner_id"],
        set_={
            "requests": case((in_window, PartnerRateWindow.requests + 1), else_=1),
            "window_started_at": case((in_window, PartnerRateWindow.window_started_at), else_=now),
        },
    ).returning(PartnerRateWindow.requests, PartnerRateWindow.window_started_at)


def retry_after(settings: Settings, requests: int, started: datetime, now: datetime) -> int | None:
    """None when the window's ``requests`` are within the limit, else the seconds until the window ends
    (the response's ``Retry-After``)."""
    if requests <= settings.partner_rate_limit:
        return None
    remaining: float = (started + settings.partner_rate_window - now).total_seconds()
    return max(1, math.ceil(remaining))


async def admit(
    session: AsyncSession, settings: Settings, partner_id: uuid.UUID, now: datetime
) -> int | None:
    """Count one request of the partner; None when it is within the limit, else the seconds until the
    window ends (the response's ``Retry-After``). One statement, safe under concurrent requests."""
    stmt = count(now, now - settings.partner_rate_window, partner_id)
    requests, started = (await session.execute(stmt)).one()
    return retry_after(settings, requests, started, now)

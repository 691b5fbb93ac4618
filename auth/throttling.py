"""Throttling failed attempts per network address (LRS 5.11): sign-ins, and codes that could be guessed.

A window of ``address_failure_window`` opens at an address's first failure; at ``address_failure_limit``
failures in it, the address is refused until the window has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.runtime import AuthRuntime
from common.errors import Problem
from models import AddressThrottle


async def address_blocked(session: AsyncSession, auth: AuthRuntime, address: str, now: datetime) -> bool:
    row = await session.get(AddressThrottle, address)
    settings = auth.settings
    return (
        row is not None
        and row.window_started_at > now - settings.address_failure_window
        and row.failures >= settings.address_failure_limit
    )


async def record_address_failure(
    session: AsyncSession, auth: AuthRuntime, address: str, now: datetime
) -> None:
    """Count a failed attempt (sign-in or parent code) from ``address`` in the current window."""
    in_window = AddressThrottle.window_started_at > now - auth.settings.address_failure_window
    stmt = insert(AddressThrottle).values(address=address, window_started_at=now, failures=1)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AddressThrottle.address],
            set_={
                "failures": case((in_window, AddressThrottle.failures + 1), else_=1),
                "window_started_at": case((in_window, AddressThrottle.window_started_at), else_=now),
            },
        )
    )


def throttled_problem(auth: AuthRuntime) -> Problem:
    minutes = int(auth.settings.address_failure_window.total_seconds() // 60)
    return Problem(
        None,
        "TOO_MANY_ATTEMPTS",
        f"Too many failed attempts from this network address; try again in {minutes} minutes.",
    )

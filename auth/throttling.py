"""Throttling failed attempts (LRS 5.11): per network address in a realm, and per username from an address.

Per address in a realm (sign-ins, and codes that could be guessed): a window of ``address_failure_window``
opens at an address's first failure at a school (or a trust, or the platform); at
``address_failure_limit`` failures in it, that address is refused *at that realm* until the window has
passed. Keyed by (realm, address), never by the address alone: a school's pupils share one address (the
school's network, a trust's, a provider's NAT), so failed tries at one school must not lock out another
school's users from the same address (:func:`address_key`).

Per username from an address (sign-ins): ``lockout_threshold`` failures in a row lock that username *at
that address* for ``lockout_duration``. It limits the attacker, not the owner (NIST SP 800-63B 5.2.2): a
stranger's guesses cannot lock the owner out elsewhere, and an unknown username locks exactly as a known
one does, so a lock tells nothing about which usernames exist. Both live in ``address_throttles``, the
second under hashed keys (:func:`sign_in_key`).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.runtime import AuthRuntime
from common.errors import Problem
from models import AddressThrottle


def address_key(realm: str, address: str) -> str:
    """The throttle row of failed attempts from ``address`` in ``realm`` (hashed: it fits the key)."""
    return "addr:" + hashlib.sha256(f"{realm}\0{address}".encode()).hexdigest()[:40]


async def address_blocked(
    session: AsyncSession, auth: AuthRuntime, address: str, now: datetime, *, realm: str
) -> bool:
    row = await session.get(AddressThrottle, address_key(realm, address))
    settings = auth.settings
    return (
        row is not None
        and row.window_started_at > now - settings.address_failure_window
        and row.failures >= settings.address_failure_limit
    )


async def record_address_failure(
    session: AsyncSession, auth: AuthRuntime, address: str, now: datetime, *, realm: str
) -> None:
    """Count a failed attempt (sign-in or code) from ``address`` in ``realm`` in the current window."""
    in_window = AddressThrottle.window_started_at > now - auth.settings.address_failure_window
    stmt = insert(AddressThrottle).values(
        address=address_key(realm, address), window_started_at=now, failures=1
    )
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
        f"Too many failed attempts from this network address here; try again in {minutes} minutes.",
    )


# --- sign-in locks: one username from one address -------------------------------------------------------


def school_realm(school_id: uuid.UUID) -> str:
    """The realm of a school's usernames (unique per school)."""
    return f"school:{school_id}"


def sign_in_key(realm: str, username: str, address: str) -> str:
    """The throttle row of failed sign-ins as ``username`` (in ``realm``: ``school:<id>``, a trust's or the
    platform's audience) from ``address``. Hashed: it fits the 64-character key and stores no username;
    its prefix (:func:`_sign_in_prefix`) is the same for every address, so a reset can clear them all."""
    return _sign_in_prefix(realm, username) + hashlib.sha256(address.encode()).hexdigest()[:20]


def _sign_in_prefix(realm: str, username: str) -> str:
    who = f"{realm}\0{username.strip().lower()}".encode()
    return "signin:" + hashlib.sha256(who).hexdigest()[:20] + ":"


async def sign_in_locked_until(
    session: AsyncSession, auth: AuthRuntime, key: str, now: datetime
) -> datetime | None:
    """Until when the key's sign-ins are refused: ``lockout_threshold`` failures in a row lock it for
    ``lockout_duration`` from the last of them; None when it is not locked."""
    row = await session.get(AddressThrottle, key, with_for_update=True)
    if row is None or row.failures < auth.settings.lockout_threshold:
        return None
    until = row.window_started_at + auth.settings.lockout_duration
    return until if until > now else None


async def record_sign_in_failure(
    session: AsyncSession, auth: AuthRuntime, key: str, now: datetime
) -> datetime | None:
    """Count a failed sign-in of the key; the time its lock ends if this failure locked it, else None.

    ``window_started_at`` holds the last failure, so a lock lasts ``lockout_duration`` from the failure
    that caused it; an ended lock starts the count again."""
    settings = auth.settings
    row = await session.get(AddressThrottle, key, with_for_update=True)
    if row is None:
        await session.execute(
            insert(AddressThrottle)
            .values(address=key, window_started_at=now, failures=0)
            .on_conflict_do_nothing()
        )
        row = await session.get(AddressThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
    if row.failures >= settings.lockout_threshold:
        row.failures = 0  # the lock it had has ended (callers check it first)
    row.failures += 1
    row.window_started_at = now
    await session.flush()
    return now + settings.lockout_duration if row.failures >= settings.lockout_threshold else None


async def clear_sign_in_failures(
    session: AsyncSession, realm: str, username: str, address: str | None = None
) -> None:
    """Forget failed sign-ins as ``username``: from ``address`` (a success there), or from everywhere
    (a new password set by an admin or by the owner)."""
    condition: ColumnElement[bool]
    if address is not None:
        condition = col(AddressThrottle.address) == sign_in_key(realm, username, address)
    else:
        condition = col(AddressThrottle.address).startswith(_sign_in_prefix(realm, username))
    await session.execute(delete(AddressThrottle).where(condition))

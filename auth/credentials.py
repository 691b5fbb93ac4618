"""Checking a password at sign-in, the same for every kind of account (school, trust admin, operator).

LRS 5.11: failures are throttled per client address (:mod:`auth.throttling`) and counted per account; the
account locks for a while after ``lockout_threshold`` failures in a row. An unknown account costs the same
hash verification as a known one, so timing does not tell which usernames exist. On success the counters
are reset, the sign-in time recorded and an outdated hash upgraded; the caller then starts a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from auth.runtime import AuthRuntime
from auth.throttling import address_blocked, record_address_failure, throttled_problem
from common.errors import Problem

INVALID_CREDENTIALS = Problem(None, "INVALID_CREDENTIALS", "The username or password is not correct.")


class Lockable(Protocol):
    """The columns a sign-in reads and writes, which every account table has."""

    password_hash: str | None
    status: str
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None


@dataclass(frozen=True)
class Checked:
    """The password check's verdict: no problem means the caller may start a session."""

    problem: Problem | None = None
    event: str | None = None
    """A security event besides the refusal: LOCKED_OUT."""
    about_account: bool = True
    """Whether the verdict concerns the account (False when the address was throttled before any check)."""


def locked_problem(until: datetime, remedy: str = "") -> Problem:
    return Problem(
        None,
        "ACCOUNT_LOCKED",
        f"Too many failed sign-ins: this account is locked until {until:%H:%M} UTC{remedy}.",
    )


async def check_password(
    session: AsyncSession,
    auth: AuthRuntime,
    account: Lockable | None,
    password: str,
    *,
    address: str,
    now: datetime,
    unlock_remedy: str,
    not_active_remedy: str,
) -> Checked:
    """Check ``password`` for ``account`` (locked FOR UPDATE by the caller; None if unknown).

    ``unlock_remedy`` ends the lockout message (", or until ..."), ``not_active_remedy`` the message for a
    pending or disabled account ("ask ..."): each kind of account has its own way back in."""
    settings = auth.settings
    if await address_blocked(session, auth, address, now):
        return Checked(throttled_problem(auth), about_account=False)
    if account is None:
        await auth.verify(None, password)
        await record_address_failure(session, auth, address, now)
        return Checked(INVALID_CREDENTIALS)
    if account.locked_until is not None and account.locked_until > now:
        await record_address_failure(session, auth, address, now)
        return Checked(locked_problem(account.locked_until, unlock_remedy))
    if not await auth.verify(account.password_hash, password):
        await record_address_failure(session, auth, address, now)
        account.failed_logins += 1
        if account.failed_logins >= settings.lockout_threshold:
            account.failed_logins = 0
            account.locked_until = now + settings.lockout_duration
            await session.flush()
            return Checked(locked_problem(account.locked_until, unlock_remedy), event="LOCKED_OUT")
        await session.flush()
        return Checked(INVALID_CREDENTIALS)
    if account.status != "ACTIVE":
        code = "ACCOUNT_NOT_ACTIVATED" if account.status == "PENDING" else "ACCOUNT_DISABLED"
        return Checked(Problem(None, code, f"This account cannot sign in: {not_active_remedy}."))
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if account.password_hash and auth.hasher.needs_rehash(account.password_hash):
        account.password_hash = await auth.hash(password)
    return Checked()

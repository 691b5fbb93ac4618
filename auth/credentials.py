"""Checking a password at sign-in, the same for every kind of account (school, trust admin, operator).

LRS 5.11, with NIST SP 800-63B 5.2.2's aim of limiting the attacker rather than the account's owner:

- failures are throttled per client address (:mod:`auth.throttling`);
- ``lockout_threshold`` failures in a row as one username *from one address* lock that username at that
  address for ``lockout_duration``. A stranger cannot lock the owner out (the owner's own address is
  another), and an unknown username locks exactly like a known one, so neither the lock nor its message
  tells which usernames exist;
- the account itself locks only at ``account_lockout_threshold`` failures in a row from anywhere (NIST's
  ceiling of 100): the defence against guessing spread over many addresses.

An unknown account costs the same hash verification as a known one, so timing does not tell which
usernames exist. On success the counters are reset, the sign-in time recorded and an outdated hash
upgraded; the caller then starts a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from auth.runtime import AuthRuntime
from auth.throttling import (
    address_blocked,
    clear_sign_in_failures,
    record_address_failure,
    record_sign_in_failure,
    sign_in_key,
    sign_in_locked_until,
    throttled_problem,
)
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
        f"Too many failed sign-ins: signing in as this user is locked until {until:%H:%M} UTC{remedy}.",
    )


async def check_password(
    session: AsyncSession,
    auth: AuthRuntime,
    account: Lockable | None,
    password: str,
    *,
    realm: str,
    username: str,
    address: str,
    now: datetime,
    unlock_remedy: str,
    not_active_remedy: str,
) -> Checked:
    """Check ``password`` for ``account`` (locked FOR UPDATE by the caller; None if unknown), signed in
    as ``username`` in ``realm`` (``school:<id>``, or the admin audience) from ``address``.

    ``unlock_remedy`` ends the lockout message (", or until ..."), ``not_active_remedy`` the message for a
    pending or disabled account ("ask ..."): each kind of account has its own way back in."""
    if await address_blocked(session, auth, address, now, realm=realm):
        return Checked(throttled_problem(auth), about_account=False)
    key = sign_in_key(realm, username, address)
    until = await sign_in_locked_until(session, auth, key, now)
    if (
        until is None
        and account is not None
        and account.locked_until is not None
        and account.locked_until > now
    ):
        until = account.locked_until
    if until is not None:
        await record_address_failure(session, auth, address, now, realm=realm)
        return Checked(locked_problem(until, unlock_remedy))
    # An unknown account is verified against a dummy hash: it costs what a known one does.
    verified = await auth.verify(account.password_hash if account is not None else None, password)
    if account is None or not verified:
        return await _failed(session, auth, account, key, address, now, unlock_remedy, realm)
    if account.status != "ACTIVE":
        code = "ACCOUNT_NOT_ACTIVATED" if account.status == "PENDING" else "ACCOUNT_DISABLED"
        return Checked(Problem(None, code, f"This account cannot sign in: {not_active_remedy}."))
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    await clear_sign_in_failures(session, realm, username, address)
    if account.password_hash and auth.hasher.needs_rehash(account.password_hash):
        account.password_hash = await auth.hash(password)
    return Checked()


async def _failed(
    session: AsyncSession,
    auth: AuthRuntime,
    account: Lockable | None,
    key: str,
    address: str,
    now: datetime,
    unlock_remedy: str,
    realm: str,
) -> Checked:
    """Count a wrong password (or an unknown username, verified all the same) against the address, the
    username at the address, and the account; the refusal, a lock if this failure caused one."""
    await record_address_failure(session, auth, address, now, realm=realm)
    locked = await record_sign_in_failure(session, auth, key, now)
    if account is not None:
        account.failed_logins += 1
        if account.failed_logins >= auth.settings.account_lockout_threshold:
            account.failed_logins = 0
            account.locked_until = locked = now + auth.settings.lockout_duration
        await session.flush()
    if locked is None:
        return Checked(INVALID_CREDENTIALS)
    return Checked(locked_problem(locked, unlock_remedy), event="LOCKED_OUT" if account is not None else None)

"""Activating imported accounts (LL 11.3: joiners onboarded through upload, ready for activation).

An import creates each joiner's account PENDING, with no password: it cannot sign in. A school admin issues
a one-time activation code for it (shown once, like a parent code; only its SHA-256 is stored, and a new
code withdraws the previous one); the person chooses their password with their username and the code, and
is signed in. Refusals:

* a pupil under 13, or whose age is unknown, cannot be activated until a parent's consent is current
  (LL 6.3.2; the rule is ``privacy.consent``'s, asked by every route);
* a member of staff needs a work email first (LL 6.3.1);
* a leaver's or disabled account is never activated (LL 11.1);
* wrong codes count against the caller's address like failed sign-ins (LRS 5.11).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from auth.opaque_tokens import hash_token
from auth.parent_codes import new_code, normalise_code
from auth.principal import Principal
from auth.service import AuthRuntime, Tokens, password_problems, start_session
from common.errors import DomainError, Problem, Problems
from common.events import Actor, emit
from models import Account, Contact, Pupil, Staff
from models.roster import ActivationCode
from privacy.consent import CONSENT_AGE, access_problem
from tenants.context import Tenant
from tenants.scoping import scoped, scoped_update

# CONSENT_AGE is privacy's; roster's import checks have long read it from here.
__all__ = ["CONSENT_AGE", "IssuedActivation", "activate", "issue"]

CODE_TTL = timedelta(days=14)
MAX_CODES_PER_CALL = 500
INVALID_CODE = Problem(
    "activationCode",
    "INVALID_ACTIVATION_CODE",
    "The username or activation code is not valid: the code may be used, withdrawn or expired.",
)


@dataclass(frozen=True)
class IssuedActivation:
    account: Account
    code: str
    """Shown once to the issuing admin; only its hash is stored."""
    expires_at: datetime


async def issue(
    session: AsyncSession, principal: Principal, account_ids: list[uuid.UUID], *, now: datetime
) -> list[IssuedActivation]:
    """One fresh code per PENDING account; earlier unused codes of those accounts are withdrawn."""
    problems = Problems()
    if not account_ids:
        problems.add("accountIds", "REQUIRED", "Name at least one account.")
    if len(account_ids) > MAX_CODES_PER_CALL:
        problems.add("accountIds", "TOO_MANY", f"At most {MAX_CODES_PER_CALL} accounts in one call.")
    problems.raise_if_any()
    school = principal.school_id
    rows = {
        a.id: a
        for a in (
            await session.execute(scoped(Account, school).where(Account.id.in_(set(account_ids))))  # type: ignore[attr-defined]
        ).scalars()
    }
    for index, account_id in enumerate(account_ids):
        account = rows.get(account_id)
        if account is None:
            problems.add(f"accountIds.{index}", "NOT_FOUND", "No such account at this school.")
        elif account.status != "PENDING":
            problems.add(
                f"accountIds.{index}",
                "NOT_PENDING",
                f"This account is {account.status.lower()}: only accounts waiting for activation get a code.",
            )
    problems.raise_if_any()
    await session.execute(
        scoped_update(ActivationCode, school)
        .where(
            ActivationCode.account_id.in_(list(rows)),  # type: ignore[attr-defined]
            ActivationCode.used_at.is_(None),  # type: ignore[union-attr]
            ActivationCode.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .values(revoked_at=now)
    )
    issued = []
    for account_id in dict.fromkeys(account_ids):
        code = new_code()
        session.add(
            ActivationCode(
                school_id=school,
                account_id=account_id,
                code_hash=hash_token(code),
                issued_by=principal.account_id,
                issued_at=now,
                expires_at=now + CODE_TTL,
            )
        )
        issued.append(IssuedActivation(rows[account_id], code, now + CODE_TTL))
    await session.flush()
    for item in issued:  # LL 7.1.4: the record of codes granted, and to which account
        await emit(
            session, "account.activation_code_issued", target_type="Account", target_id=item.account.id
        )
    return issued


async def activate(
    session: AsyncSession,
    auth: AuthRuntime,
    tenant: Tenant,
    *,
    username: str,
    code: str,
    password: str,
    address: str,
    now: datetime,
) -> Tokens:
    """Set the password of a PENDING account with its code, make it ACTIVE and sign the person in."""
    school = tenant.id
    account = (
        await session.execute(
            scoped(Account, school)
            .where(func.lower(Account.username) == username.strip().lower())
            .with_for_update()
        )
    ).scalar_one_or_none()
    record = None
    if account is not None and account.status == "PENDING":
        record = (
            await session.execute(
                scoped(ActivationCode, school)
                .where(
                    ActivationCode.account_id == account.id,
                    ActivationCode.code_hash == hash_token(normalise_code(code)),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
    if (
        account is None
        or record is None
        or record.used_at is not None
        or record.revoked_at is not None
        or record.expires_at <= now
    ):
        raise DomainError([INVALID_CODE])
    problems = Problems()
    names = await _person_checks(session, account, problems, now=now)
    for problem in password_problems(
        auth, password, field="password", context_words=[account.username, *names]
    ):
        problems.items.append(problem)
    problems.raise_if_any()
    account.password_hash = await auth.hash(password)
    account.password_changed_at = now
    account.must_change_password = False
    account.status = "ACTIVE"
    record.used_at = now
    await session.flush()
    tokens = await start_session(session, auth, account, now=now, address=address)
    # Named as typed at sign-in: the caller was anonymous until now.
    actor = Actor("ACCOUNT", tokens.account_id, username.strip())
    await emit(session, "account.activated", target_type="Account", target_id=tokens.account_id, actor=actor)
    return tokens


async def _person_checks(
    session: AsyncSession, account: Account, problems: Problems, *, now: datetime
) -> list[str]:
    """The person behind the account may have access (LL 11.1, LL 6.3.1, LL 6.3.2); their names for the
    password's context words."""
    school = account.school_id
    if account.pupil_id is not None:
        pupil = (
            await session.execute(scoped(Pupil, school).where(Pupil.id == account.pupil_id))
        ).scalar_one()
        if not pupil.active:
            problems.add(None, "PERSON_INACTIVE", "This pupil has left the school.")
        if (refused := await access_problem(session, school, pupil.id, now=now)) is not None:
            problems.items.append(refused)
        return [pupil.forename, pupil.surname]
    if account.staff_id is not None:
        staff = (
            await session.execute(scoped(Staff, school).where(Staff.id == account.staff_id))
        ).scalar_one()
        if not staff.active:
            problems.add(None, "PERSON_INACTIVE", "This member of staff has left the school.")
        if not (staff.work_email or staff.secondary_email):
            problems.add(
                None,
                "WORK_EMAIL_REQUIRED",
                "A staff account needs a work email first (LL 6.3.1): ask the school to record it.",
            )
        return [staff.forename, staff.surname]
    if account.contact_id is not None:
        contact = (
            await session.execute(scoped(Contact, school).where(Contact.id == account.contact_id))
        ).scalar_one()
        if not contact.active:
            problems.add(None, "PERSON_INACTIVE", "This contact is no longer active at the school.")
        return [contact.forename, contact.surname]
    return []

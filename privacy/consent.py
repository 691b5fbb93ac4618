"""Consent for a pupil's data to be processed (LL 6.3.2): the rule, the gate and the record.

The rule: a pupil under :data:`CONSENT_AGE` on the school's date (``school_today(now)``), or whose date of
birth is not recorded, may have access only while a parent's or carer's consent is *current* (given and
not withdrawn). :func:`access_problem` is that rule, and it is the one gate every route asks: activation
with an import code (``roster.activation``), ``createAccount`` (``auth.accounts``) and sign-in
(``auth.service.login``), so no route can open an account the rule closes.

The record (``models.privacy.PupilConsent``) is kept whole: giving adds a row, withdrawing stamps the current
row, nothing is deleted. A consent is for the purposes of the privacy notice in force when it was given
(:data:`PRIVACY_NOTICE_VERSION`, :data:`PURPOSES`). Every consent and withdrawal is emitted to the school's
audit trail (``consent.given``, ``consent.recorded``, ``consent.withdrawn``). A withdrawal that closes the
rule revokes the pupil's sessions in the same transaction. The pupil's data stays, managed by the school.

Callers are the GraphQL layer, which enforces who may call what (a parent, a school admin); these
functions check the row-level facts themselves (a parent consents only for their own linked child).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.agreements import CONSENT_AGE as CONSENT_AGE
from auth.principal import Principal, Role
from auth.sessions import revoke_sessions
from common.clock import school_today, years_before
from common.errors import DomainError, Problem, Problems
from common.events import emit
from models import Account, Pupil, PupilContact
from models.agreements import PRIVACY_NOTICE
from models.privacy import EVIDENCE_REFERENCE_MAX, WITHDRAWAL_REASON_MAX, PupilConsent
from privacy.agreements import current_version
from tenants.scoping import in_school, scoped

PRIVACY_NOTICE_VERSION = "2026-1"
"""The privacy notice a consent is for while the platform has published none (``policy_documents``); once
one is in force, a consent records that version (``privacy.agreements.current_version``)."""
PURPOSES = ("EDUCATIONAL_PROVISION", "PROGRESS_MONITORING", "STATISTICAL_REPORTS")
"""The processing the notice describes (LL-A 5.1: educational provision and monitoring progress; LL-A 5.2:
anonymised statistical reports)."""

PARENTAL_CONSENT_REQUIRED = Problem(
    None,
    "PARENTAL_CONSENT_REQUIRED",
    "A pupil under 13 (or whose date of birth is not recorded) needs a parent's recorded consent before "
    "they can use schoolgraph (LL 6.3.2): ask the school.",
)


def needs_parental_consent(date_of_birth: date | None, today: date) -> bool:
    """Whether a pupil born on ``date_of_birth`` is under :data:`CONSENT_AGE` on ``today`` (unknown: yes)."""
    return date_of_birth is None or date_of_birth > years_before(today, CONSENT_AGE)


def _current(school_id: Any, pupil_id: Any, given_by: str = "PARENT") -> Select[PupilConsent]:
    """The consents given by ``given_by`` for the pupil whose id is ``pupil_id`` (a value or a column) that
    are current (not withdrawn)."""
    return scoped(PupilConsent, school_id).where(
        PupilConsent.pupil_id == pupil_id,
        PupilConsent.given_by == given_by,
        PupilConsent.withdrawn_at.is_(None),  # type: ignore[union-attr]
    )


def has_parental_consent(school_id: Any, pupil_id: Any) -> ColumnElement[bool]:
    """SQL: a parent's consent for the pupil whose id is ``pupil_id`` (a column or a value) is current (given
    and not withdrawn). With the pupil's age, what decides whether they may have access (LL 6.3.2)."""
    return exists(_current(school_id, pupil_id))


async def access_problem(
    session: AsyncSession, school_id: uuid.UUID, pupil_id: uuid.UUID, *, now: datetime
) -> Problem | None:
    """Why the pupil may not have access now (:data:`PARENTAL_CONSENT_REQUIRED`), or None: ONE statement."""
    consented = has_parental_consent(school_id, Pupil.id)
    row = (
        await session.execute(
            select(Pupil.date_of_birth, consented).where(in_school(Pupil, school_id), Pupil.id == pupil_id)
        )
    ).one_or_none()
    if row is None:
        return None
    date_of_birth, has_consent = row
    if has_consent or not needs_parental_consent(date_of_birth, school_today(now)):
        return None
    return PARENTAL_CONSENT_REQUIRED


async def sign_in_problem(session: AsyncSession, account: Account, now: datetime) -> Problem | None:
    """The gate at sign-in (``auth.service.SignInGate``): a pupil's account answers to :func:`access_problem`."""
    if account.pupil_id is None:
        return None
    return await access_problem(session, account.school_id, account.pupil_id, now=now)


@dataclass(frozen=True)
class PaperConsent:
    """A parent's consent on a paper form, as a school admin records it."""

    pupil_id: uuid.UUID
    contact_id: uuid.UUID
    evidence_reference: str
    given_on: date


async def give(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID, *, now: datetime
) -> PupilConsent:
    """A parent consents, digitally, for their own linked child (refused for any other pupil)."""
    if (
        principal.role is not Role.PARENT
        or principal.contact_id is None
        or not principal.may_see_pupil(pupil_id)
    ):
        raise DomainError.one("pupilId", "NOT_YOUR_CHILD", "You can consent only for a child linked to you.")
    consent = await _add(
        session,
        principal,
        pupil_id,
        contact_id=principal.contact_id,
        method="DIGITAL",
        evidence_reference=None,
        given_on=school_today(now),
        now=now,
    )
    await emit(session, "consent.given", target_type="Pupil", target_id=pupil_id, detail=_detail(consent))
    return consent


async def record_paper(
    session: AsyncSession, principal: Principal, paper: PaperConsent, *, now: datetime
) -> PupilConsent:
    """A school admin records a parent's consent given on paper, naming the form (``evidence_reference``)."""
    problems = Problems()
    reference = paper.evidence_reference.strip()
    if not reference:
        problems.add("evidenceReference", "REQUIRED", "Name the form (its reference or where it is filed).")
    elif len(reference) > EVIDENCE_REFERENCE_MAX:
        problems.add("evidenceReference", "TOO_LONG", f"At most {EVIDENCE_REFERENCE_MAX} characters.")
    if paper.given_on > school_today(now):
        problems.add("givenOn", "IN_FUTURE", "The form cannot be dated after today.")
    pupil = (
        await session.execute(
            select(Pupil.id).where(in_school(Pupil, principal.school_id), Pupil.id == paper.pupil_id)
        )
    ).scalar_one_or_none()
    if pupil is None:
        raise DomainError.one("pupilId", "NOT_FOUND", "No such pupil at this school.")
    linked = (
        await session.execute(
            scoped(PupilContact, principal.school_id).where(
                PupilContact.pupil_id == paper.pupil_id, PupilContact.contact_id == paper.contact_id
            )
        )
    ).scalar_one_or_none()
    if linked is None:
        problems.add("contactId", "NOT_LINKED", "This contact is not a parent or carer of the pupil.")
    problems.raise_if_any()
    consent = await _add(
        session,
        principal,
        paper.pupil_id,
        contact_id=paper.contact_id,
        method="PAPER",
        evidence_reference=reference,
        given_on=paper.given_on,
        now=now,
    )
    await emit(
        session, "consent.recorded", target_type="Pupil", target_id=paper.pupil_id, detail=_detail(consent)
    )
    return consent


def parental_consent(
    school_id: uuid.UUID,
    pupil_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    method: str,
    account_id: uuid.UUID,
    evidence_reference: str | None,
    given_on: date,
    now: datetime,
    notice_version: str = PRIVACY_NOTICE_VERSION,
) -> PupilConsent:
    """A new parent's consent for the notice in force (``notice_version``) and its purposes (not yet added
    to a session). The operations here and the seeded demo build consents with it; it checks nothing."""
    return PupilConsent(
        school_id=school_id,
        pupil_id=pupil_id,
        given_by="PARENT",
        contact_id=contact_id,
        method=method,
        account_id=account_id,
        evidence_reference=evidence_reference,
        notice_version=notice_version,
        purposes=list(PURPOSES),
        given_on=given_on,
        recorded_at=now,
    )


async def _add(
    session: AsyncSession,
    principal: Principal,
    pupil_id: uuid.UUID,
    *,
    contact_id: uuid.UUID,
    method: str,
    evidence_reference: str | None,
    given_on: date,
    now: datetime,
) -> PupilConsent:
    if (await session.execute(_current(principal.school_id, pupil_id))).scalar_one_or_none() is not None:
        raise DomainError.one(
            "pupilId", "ALREADY_GIVEN", "A parent's consent for this pupil is already current."
        )
    consent = parental_consent(
        principal.school_id,
        pupil_id,
        contact_id,
        method=method,
        account_id=principal.account_id,
        evidence_reference=evidence_reference,
        given_on=given_on,
        now=now,
        notice_version=await current_version(session, PRIVACY_NOTICE, now, PRIVACY_NOTICE_VERSION),
    )
    session.add(consent)
    await session.flush()
    return consent


async def withdraw(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID, *, reason: str | None, now: datetime
) -> PupilConsent:
    """Withdraw the current parental consent: by a parent for their own child, or by a school admin (a
    withdrawal made to the school). When the pupil then needs consent, their sessions end at once."""
    if principal.role is not Role.SCHOOL_ADMIN and (
        principal.role is not Role.PARENT or not principal.may_see_pupil(pupil_id)
    ):
        raise DomainError.one(
            "pupilId", "NOT_YOUR_CHILD", "You can withdraw consent only for your own child."
        )
    if reason is not None and len(reason.strip()) > WITHDRAWAL_REASON_MAX:
        raise DomainError.one("reason", "TOO_LONG", f"At most {WITHDRAWAL_REASON_MAX} characters.")
    consent = (
        await session.execute(_current(principal.school_id, pupil_id).with_for_update())
    ).scalar_one_or_none()
    if consent is None:
        raise DomainError.one("pupilId", "NO_CONSENT", "There is no current consent to withdraw.")
    consent.withdrawn_at = now
    consent.withdrawn_by = principal.account_id
    consent.withdrawal_reason = (reason or "").strip() or None
    await session.flush()
    if await access_problem(session, principal.school_id, pupil_id, now=now) is not None:
        await _end_pupil_sessions(session, principal.school_id, pupil_id, now=now)
    await emit(session, "consent.withdrawn", target_type="Pupil", target_id=pupil_id, detail=_detail(consent))
    return consent


async def _end_pupil_sessions(
    session: AsyncSession, school_id: uuid.UUID, pupil_id: uuid.UUID, *, now: datetime
) -> None:
    account_ids = list(
        (
            await session.execute(
                select(Account.id).where(in_school(Account, school_id), Account.pupil_id == pupil_id)
            )
        ).scalars()
    )
    if account_ids:
        await revoke_sessions(
            session, school_id, account_ids=account_ids, reason="CONSENT_WITHDRAWN", now=now
        )


def _detail(consent: PupilConsent) -> dict[str, object]:
    """What the audit entry keeps: how and for which notice, never the evidence text itself."""
    return {
        "consentId": str(consent.id),
        "method": consent.method,
        "givenBy": consent.given_by,
        "noticeVersion": consent.notice_version,
    }

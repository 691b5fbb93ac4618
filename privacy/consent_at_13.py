"""Consent retaken from the pupil at 13 (LL 6.3.3).

The scheduled job (``schoolgraph jobs run``, step ``consent_at_13``) flags, school by school, every active
pupil aged 13 or over on the school's date who has no current consent of their own
(:func:`flag_turned_13`; flagging twice changes nothing). From then on, until they give their own consent
(:func:`give_own`), the pupil's sign-in carries ``consentRequired`` and every other field answers
``CONSENT_REQUIRED`` (``auth.own_consent.own_consent_pending``, asked by ``auth.principal``). A school admin
may record that a parent necessarily stays responsible, with the reason (:func:`parent_stays_responsible`):
the pupil is then not asked, and the parent's consent stays in force for them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.own_consent import own_consent_pending
from auth.principal import Principal, Role
from common.clock import school_today
from common.errors import DomainError
from common.events import emit
from models import Account, Pupil
from models.agreements import PRIVACY_NOTICE
from models.privacy import WITHDRAWAL_REASON_MAX, OwnConsentDue, PupilConsent
from privacy.agreements import current_version
from privacy.consent import PRIVACY_NOTICE_VERSION, PURPOSES, needs_parental_consent
from privacy.consent_report import own_consent_missing
from tenants.scoping import in_school, scoped


async def flag_turned_13(session: AsyncSession, school_id: uuid.UUID, *, now: datetime) -> int:
    """Flag the school's active pupils aged 13+ today who have no own consent and no flag yet: how many.
    One statement (the report's own predicate, so the two agree on who owes their consent)."""
    missing = select(Pupil.school_id, Pupil.id, literal(now)).where(
        in_school(Pupil, school_id), Pupil.active, own_consent_missing(school_today(now))
    )
    inserted = await session.execute(
        pg_insert(OwnConsentDue)
        .from_select(["school_id", "pupil_id", "flagged_at"], missing)
        .on_conflict_do_nothing()
        .returning(OwnConsentDue.pupil_id)
    )
    return len(inserted.all())


async def own_consent_required(session: AsyncSession, account: Account) -> bool:
    """Whether this account's pupil owes their own consent now (for the sign-in payload)."""
    if account.pupil_id is None:
        return False
    return bool(
        (await session.execute(select(own_consent_pending(account.school_id, account.pupil_id)))).scalar_one()
    )


async def give_own(session: AsyncSession, principal: Principal, *, now: datetime) -> PupilConsent:
    """The signed-in pupil, 13 or over, consents for themself (digitally)."""
    pupil = (
        await session.execute(scoped(Pupil, principal.school_id).where(Pupil.id == principal.pupil_id))
    ).scalar_one_or_none()
    if principal.role is not Role.PUPIL or pupil is None:
        raise DomainError.one(None, "NOT_A_PUPIL", "Only a pupil consents for themself.")
    if needs_parental_consent(pupil.date_of_birth, school_today(now)):
        raise DomainError.one(None, "UNDER_13", "Under 13, a parent's consent is needed instead (LL 6.3.2).")
    current = scoped(PupilConsent, principal.school_id).where(
        PupilConsent.pupil_id == pupil.id,
        PupilConsent.given_by == "PUPIL",
        PupilConsent.withdrawn_at.is_(None),  # type: ignore[union-attr]
    )
    if (await session.execute(current)).scalar_one_or_none() is not None:
        raise DomainError.one(None, "ALREADY_GIVEN", "Your consent is already recorded.")
    consent = PupilConsent(
        school_id=principal.school_id,
        pupil_id=pupil.id,
        given_by="PUPIL",
        method="DIGITAL",
        account_id=principal.account_id,
        notice_version=await current_version(session, PRIVACY_NOTICE, now, PRIVACY_NOTICE_VERSION),
        purposes=list(PURPOSES),
        given_on=school_today(now),
        recorded_at=now,
    )
    session.add(consent)
    await session.flush()
    detail = {"consentId": str(consent.id), "method": "DIGITAL", "givenBy": "PUPIL"}
    await emit(session, "consent.given", target_type="Pupil", target_id=pupil.id, detail=detail)
    return consent


async def parent_stays_responsible(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID, *, reason: str, now: datetime
) -> OwnConsentDue:
    """A school admin records why a parent necessarily stays responsible for a pupil aged 13+ (LL 6.3.3)."""
    reason = reason.strip()
    if not reason:
        raise DomainError.one("reason", "REQUIRED", "Say why a parent necessarily stays responsible.")
    if len(reason) > WITHDRAWAL_REASON_MAX:
        raise DomainError.one("reason", "TOO_LONG", f"At most {WITHDRAWAL_REASON_MAX} characters.")
    found = (
        await session.execute(
            select(Pupil.id).where(in_school(Pupil, principal.school_id), Pupil.id == pupil_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise DomainError.one("pupilId", "NOT_FOUND", "No such pupil at this school.")
    values = {
        "parent_responsible_reason": reason,
        "parent_responsible_by": principal.account_id,
        "parent_responsible_at": now,
    }
    row = (
        await session.execute(
            pg_insert(OwnConsentDue)
            .values(school_id=principal.school_id, pupil_id=pupil_id, flagged_at=now, **values)
            .on_conflict_do_update(index_elements=["school_id", "pupil_id"], set_=values)
            .returning(OwnConsentDue)
        )
    ).scalar_one()
    await emit(
        session, "consent.parent_stays_responsible", target_type="Pupil", target_id=pupil_id, detail={}
    )
    return row

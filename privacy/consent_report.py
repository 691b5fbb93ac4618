"""The consent report (LL 6.3.2, LL 6.3.3): who is missing a consent, who turns 13 soon, who withdrew.

Four categories of a school's *active* pupils on the school's date (``school_today(now)``):

* ``without_consent``: under 13 (or no date of birth recorded) with no current parent's consent: they
  cannot be activated or sign in (``privacy.consent.access_problem``);
* ``turning_13``: their 13th birthday falls in the next :data:`SOON` (after today, up to and including
  today + 30 days): their own consent will be needed;
* ``own_consent_missing``: 13 or over, without a current consent of their own, unless a school admin
  recorded that a parent necessarily stays responsible (LL 6.3.3);
* ``withdrawals``: consents withdrawn in the last :data:`SOON`.

Each category is one SQL predicate, used both by the school admin's report (the pupils, by name) and by the
counts a trust admin sees per school (no names): the two can never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import school_today, years_before
from models import Pupil
from models.privacy import OwnConsentDue, PupilConsent
from privacy.consent import CONSENT_AGE
from tenants.scoping import in_schools, same_school, scoped

SOON = timedelta(days=30)
LISTED = 100
"""At most this many pupils (or withdrawals) are listed per category; the counts are exact."""


def _current(given_by: str) -> ColumnElement[bool]:
    return exists(
        select(PupilConsent.id).where(
            same_school(PupilConsent, Pupil),
            PupilConsent.pupil_id == Pupil.id,
            PupilConsent.given_by == given_by,
            PupilConsent.withdrawn_at.is_(None),  # type: ignore[union-attr]
        )
    )


def _under_13(today: date) -> ColumnElement[bool]:
    born: ColumnElement[date | None] = Pupil.date_of_birth  # type: ignore[assignment]
    return or_(born.is_(None), born > years_before(today, CONSENT_AGE))


def without_consent(today: date) -> ColumnElement[bool]:
    return and_(_under_13(today), not_(_current("PARENT")))


def turning_13(today: date) -> ColumnElement[bool]:
    born: ColumnElement[date | None] = Pupil.date_of_birth  # type: ignore[assignment]
    return and_(born > years_before(today, CONSENT_AGE), born <= years_before(today + SOON, CONSENT_AGE))


def own_consent_missing(today: date) -> ColumnElement[bool]:
    """13 or over, no current consent of their own, and no parent recorded as necessarily responsible."""
    parent_responsible = exists(
        select(OwnConsentDue.pupil_id).where(
            same_school(OwnConsentDue, Pupil),
            OwnConsentDue.pupil_id == Pupil.id,
            OwnConsentDue.parent_responsible_reason.is_not(None),  # type: ignore[union-attr]
        )
    )
    return and_(not_(_under_13(today)), not_(_current("PUPIL")), not_(parent_responsible))


@dataclass(frozen=True)
class ConsentCounts:
    """One school's counts: exact, and never a name."""

    school_id: uuid.UUID
    without_consent: int = 0
    turning_13: int = 0
    own_consent_missing: int = 0
    withdrawals: int = 0


@dataclass(frozen=True)
class ConsentReport:
    counts: ConsentCounts
    without_consent: list[Pupil]
    turning_13: list[Pupil]
    own_consent_missing: list[Pupil]
    withdrawals: list[PupilConsent]
    """Newest first."""


async def counts(session: AsyncSession, school_ids: list[uuid.UUID], *, now: datetime) -> list[ConsentCounts]:
    """Per school (every one asked for, zeros included), in the order asked: two statements in all."""
    today = school_today(now)
    pupils = await session.execute(
        select(
            Pupil.school_id,
            func.count().filter(without_consent(today)),
            func.count().filter(turning_13(today)),
            func.count().filter(own_consent_missing(today)),
        )
        .where(in_schools(Pupil, school_ids), Pupil.active)
        .group_by(Pupil.school_id)
    )
    by_school: dict[uuid.UUID, tuple[int, int, int]] = {row[0]: (row[1], row[2], row[3]) for row in pupils}
    withdrawn: dict[uuid.UUID, int] = {
        row[0]: row[1]
        for row in await session.execute(
            select(PupilConsent.school_id, func.count())
            .where(in_schools(PupilConsent, school_ids), PupilConsent.withdrawn_at >= now - SOON)
            .group_by(PupilConsent.school_id)
        )
    }
    return [
        ConsentCounts(
            school_id, *by_school.get(school_id, (0, 0, 0)), withdrawals=withdrawn.get(school_id, 0)
        )
        for school_id in school_ids
    ]


async def report(session: AsyncSession, school_id: uuid.UUID, *, now: datetime) -> ConsentReport:
    """The school admin's report: the counts, and up to :data:`LISTED` pupils of each category by name."""
    today = school_today(now)

    async def listed(predicate: ColumnElement[bool]) -> list[Pupil]:
        stmt = scoped(Pupil, school_id).where(Pupil.active, predicate)
        stmt = stmt.order_by(Pupil.surname, Pupil.forename, Pupil.id).limit(LISTED)
        return list((await session.execute(stmt)).scalars())

    withdrawals = await session.execute(
        scoped(PupilConsent, school_id)
        .where(PupilConsent.withdrawn_at >= now - SOON)
        .order_by(PupilConsent.withdrawn_at.desc(), PupilConsent.id)  # type: ignore[union-attr]
        .limit(LISTED)
    )
    return ConsentReport(
        counts=(await counts(session, [school_id], now=now))[0],
        without_consent=await listed(without_consent(today)),
        turning_13=await listed(turning_13(today)),
        own_consent_missing=await listed(own_consent_missing(today)),
        withdrawals=list(withdrawals.scalars()),
    )

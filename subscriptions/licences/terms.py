"""The licence terms in dates and money (LL 15): term lengths, notice periods, covers, references.

Pure, apart from :func:`covering` (an SQL condition) and :func:`terms_in_force` (a read): every date rule of
the licences lives here once.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from models.agreements import LICENCE_TERMS
from models.licensing import Licence, LicenceSchool
from privacy.agreements import current_version

CURRENT_TERMS_VERSION = "LL-2025.1"
"""The licence terms' version before the platform publishes any (:func:`terms_in_force`)."""
NOTICE_PERIOD = timedelta(days=90)
PRICE_NOTICE_LEAD = timedelta(days=30)
PAYMENT_TERMS = timedelta(days=30)
UNPAID = "LICENCE_UNPAID"


async def terms_in_force(session: AsyncSession, now: datetime) -> str:
    """The version of the licence terms in force at ``now``: the platform's published licence terms
    (``publishDocument``, kind LICENCE_TERMS, the version a school's Super-Users accept), else
    :data:`CURRENT_TERMS_VERSION`. What a successor accepts with a novation (LL 20) and a new licence is
    agreed under unless the operator names another."""
    return await current_version(session, LICENCE_TERMS, now, CURRENT_TERMS_VERSION)


def add_years(day: date, years: int = 1) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def cancellation_deadline(term_end: date) -> date:
    """LL 15.1: the last day written notice of cancellation can arrive for the renewal on ``term_end``."""
    return term_end - NOTICE_PERIOD


def price_notice_due(term_end: date) -> date:
    """LL 15.2: the last day a price change for the term after ``term_end`` may be notified."""
    return cancellation_deadline(term_end) - PRICE_NOTICE_LEAD


def covering(on: date) -> object:
    """SQL: the ``licence_schools`` row covers its school on ``on``."""
    return and_(
        LicenceSchool.covered_from <= on,
        or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > on),  # type: ignore[union-attr]
    )


def cover_end(licence: Licence, cover: LicenceSchool) -> date | None:
    """The first day a cover no longer holds; None when it runs on (an auto-renewing, uncancelled licence)."""
    if cover.covered_to is not None:
        return cover.covered_to
    if licence.status != "ACTIVE":
        return licence.ended_on or licence.term_end
    if licence.auto_renew and licence.cancellation_received_on is None:
        return None
    return licence.term_end


def overlaps(start: date, end: date | None, other_start: date, other_end: date | None) -> bool:
    """Whether two periods (end exclusive; None runs on) share a day."""
    return (other_end is None or start < other_end) and (end is None or other_start < end)


def new_reference(prefix: str) -> str:
    """A short random reference such as ``LIC-1A2B3C4D`` (unique by constraint, not by construction)."""
    return f"{prefix}-{secrets.token_hex(4).upper()}"


def money(pence: int) -> str:
    """``pence`` as pounds for a notice: ``£1,234.50``."""
    return f"£{pence // 100:,}.{pence % 100:02d}"

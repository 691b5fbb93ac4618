"""Whether a pupil owes their own consent now (LL 6.3.3), as SQL.

The rule is ``privacy.consent_at_13``'s; its SQL is here because the principal (``auth.principal``, one
statement per request) asks it to refuse every other field, and ``auth`` sits below ``privacy`` (ADR 1).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from models.privacy import OwnConsentDue, PupilConsent
from tenants.scoping import in_school


def own_consent_pending(school_id: Any, pupil_id: Any) -> ColumnElement[bool]:
    """The pupil was flagged at 13, no parent is recorded as necessarily responsible, and they have no
    current consent of their own. ``school_id`` and ``pupil_id`` are values or (correlated) columns."""
    due = exists(
        select(OwnConsentDue.pupil_id).where(
            in_school(OwnConsentDue, school_id),
            OwnConsentDue.pupil_id == pupil_id,
            OwnConsentDue.parent_responsible_reason.is_(None),  # type: ignore[union-attr]
        )
    )
    own = exists(
        select(PupilConsent.id).where(
            in_school(PupilConsent, school_id),
            PupilConsent.pupil_id == pupil_id,
            PupilConsent.given_by == "PUPIL",
            PupilConsent.withdrawn_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return and_(due, ~own)

"""Reading consent records: a pupil's history, and a parent's children with what each needs.

Callers have checked the caller may see the pupils they name (``Principal.may_see_pupil``); these functions
scope every statement to the school.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import school_today
from models import Pupil
from models.privacy import PupilConsent
from privacy.consent import needs_parental_consent
from tenants.scoping import scoped


@dataclass(frozen=True)
class ConsentRequest:
    """One child of a parent: whether a parent's consent is needed today, and the current one, if any."""

    pupil: Pupil
    required: bool
    current: PupilConsent | None

    @property
    def pupil_id(self) -> uuid.UUID:
        """The subject of consent policies (``auth.policies.CONSENT_RECORD``)."""
        return self.pupil.id


async def history(
    session: AsyncSession, school_id: uuid.UUID, pupil_ids: list[uuid.UUID]
) -> list[PupilConsent]:
    """Every consent of these pupils, given and withdrawn, newest first."""
    rows = await session.execute(
        scoped(PupilConsent, school_id)
        .where(PupilConsent.pupil_id.in_(pupil_ids))  # type: ignore[attr-defined]
        .order_by(PupilConsent.recorded_at.desc(), PupilConsent.id)  # type: ignore[attr-defined]
    )
    return list(rows.scalars())


async def requests_for(
    session: AsyncSession, school_id: uuid.UUID, pupil_ids: frozenset[uuid.UUID], *, now: datetime
) -> list[ConsentRequest]:
    """The pupils (a parent's linked children), by name, each with its consent need and current consent."""
    pupils = list(
        (
            await session.execute(
                scoped(Pupil, school_id)
                .where(Pupil.id.in_(pupil_ids), Pupil.active)  # type: ignore[attr-defined]
                .order_by(Pupil.surname, Pupil.forename, Pupil.id)
            )
        ).scalars()
    )
    current = {
        c.pupil_id: c
        for c in await history(session, school_id, [p.id for p in pupils])
        if c.given_by == "PARENT" and c.withdrawn_at is None
    }
    today = school_today(now)
    return [
        ConsentRequest(p, needs_parental_consent(p.date_of_birth, today), current.get(p.id)) for p in pupils
    ]

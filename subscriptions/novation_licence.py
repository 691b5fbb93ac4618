"""The licence a novation hands over (LL 20): the school's cover under the old licence ends on the
effective date, and a new licence for the successor trust, naming the old one, covers it from then.

Applied by :func:`subscriptions.novation.apply`, which switches the membership and owns the novation's
status; this module only novates the licence.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Trust
from models.licensing import Licence, LicenceSchool, Novation
from subscriptions.licences import CURRENT_TERMS_VERSION, add_years, end_school_cover


async def novate_licence(
    session: AsyncSession, novation: Novation, to_trust: Trust, *, now: datetime
) -> None:
    """Novate the active licence covering the school on the effective date, if any (none: nothing to do),
    to ``to_trust``; records both licences on ``novation``. Flushes, never commits."""
    effective = novation.effective_date
    old = await _covering_licence(session, novation, effective)
    if old is None:
        return
    shared = (
        await session.execute(
            select(LicenceSchool.tenant_id).where(
                LicenceSchool.licence_id == old.id,
                or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > effective),  # type: ignore[union-attr]
            )
        )
    ).all()
    await end_school_cover(session, novation.tenant_id, on=effective, status="NOVATED")
    term_end = old.term_end if old.term_end > effective else add_years(effective)
    new = Licence(
        reference=f"{old.reference.split('/')[0]}/N{old.renewals + 1}-{novation.id.hex[:4].upper()}",
        licensee_trust_id=to_trust.id,
        licensee_name=to_trust.name,
        terms_version=novation.accepted_terms_version or CURRENT_TERMS_VERSION,
        term_start=effective,
        term_end=term_end,
        auto_renew=old.auto_renew,
        # The fee is shared out among the schools the old licence still covers.
        annual_fee_pence=old.annual_fee_pence // max(len(shared), 1),
        cancellation_received_on=old.cancellation_received_on,
        novated_from_id=old.id,
        created_at=now,
    )
    session.add(new)
    await session.flush()
    session.add(LicenceSchool(licence_id=new.id, tenant_id=novation.tenant_id, covered_from=effective))
    novation.old_licence_id, novation.new_licence_id = old.id, new.id


async def _covering_licence(session: AsyncSession, novation: Novation, effective: date) -> Licence | None:
    """The active licence covering the school on ``effective`` (the latest cover), locked."""
    return (
        await session.execute(
            select(Licence)
            .join(LicenceSchool, LicenceSchool.licence_id == Licence.id)
            .where(
                LicenceSchool.tenant_id == novation.tenant_id,
                Licence.status == "ACTIVE",
                or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > effective),  # type: ignore[union-attr]
            )
            .order_by(LicenceSchool.covered_from.desc())  # type: ignore[attr-defined]
            .limit(1)
            .with_for_update(of=Licence)
        )
    ).scalar_one_or_none()

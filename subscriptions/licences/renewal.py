"""The yearly renewal (LL 15.1, 15.2): cancellation, price changes, renewing or ending, and the notices."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from models.licensing import Licence
from subscriptions import outbox
from subscriptions.licences.covers import covered_school_ids, end_cover, licence_by_id
from subscriptions.licences.invoices import new_invoice
from subscriptions.licences.terms import (
    NOTICE_PERIOD,
    PAYMENT_TERMS,
    PRICE_NOTICE_LEAD,
    add_years,
    cancellation_deadline,
    money,
    price_notice_due,
)


async def cancel(session: AsyncSession, licence_id: uuid.UUID, *, received_on: date, today: date) -> Licence:
    """Record written notice of cancellation (LL 15.1); it must arrive 90 days before the renewal."""
    licence = await licence_by_id(session, licence_id, lock=True)
    if licence.status != "ACTIVE":
        raise DomainError.one(
            "licenceId", "LICENCE_NOT_ACTIVE", f"Licence {licence.reference} is not active."
        )
    if licence.cancellation_received_on is not None:
        raise DomainError.one(
            "licenceId", "ALREADY_CANCELLED", "Notice of cancellation was recorded already."
        )
    if not licence.auto_renew:
        raise DomainError.one("licenceId", "NOT_RENEWING", "This licence ends at its term without renewing.")
    if received_on > today:
        raise DomainError.one("receivedOn", "IN_THE_FUTURE", "Notice cannot be recorded before it arrives.")
    deadline = cancellation_deadline(licence.term_end)
    if received_on > deadline:
        raise DomainError.one(
            "receivedOn",
            "NOTICE_PERIOD_PASSED",
            f"Notice had to arrive by {deadline} (90 days before the renewal on {licence.term_end}); "
            "the licence renews once more.",
        )
    licence.cancellation_received_on = received_on
    await session.flush()
    return licence


async def notify_licensee(
    session: AsyncSession,
    licence: Licence,
    *,
    kind: str,
    subject: str,
    body: str,
    today: date,
    now: datetime,
    dedupe_key: str | None = None,
) -> None:
    """Queue a notice to the licensee trust's admins and to the Super-Users of every school covered."""
    if licence.licensee_trust_id is not None:
        await outbox.enqueue(
            session,
            kind=kind,
            subject=subject,
            body=body,
            now=now,
            trust_id=licence.licensee_trust_id,
            dedupe_key=None if dedupe_key is None else f"{dedupe_key}:trust",
        )
    for school_id in await covered_school_ids(session, licence.id, today):
        await outbox.enqueue(
            session,
            kind=kind,
            subject=subject,
            body=body,
            now=now,
            tenant_id=school_id,
            dedupe_key=None if dedupe_key is None else f"{dedupe_key}:{school_id}",
        )


async def set_next_fee(
    session: AsyncSession, licence_id: uuid.UUID, *, annual_fee_pence: int, today: date, now: datetime
) -> Licence:
    """LL 15.2: a new price for the coming year, notified at once; refused once the notice date has passed."""
    licence = await licence_by_id(session, licence_id, lock=True)
    if annual_fee_pence < 0:
        raise DomainError.one("annualFeePence", "INVALID_AMOUNT", "The fee cannot be negative.")
    if licence.status != "ACTIVE" or not licence.auto_renew or licence.cancellation_received_on is not None:
        raise DomainError.one(
            "licenceId", "NOT_RENEWING", "This licence does not renew: there is no next term."
        )
    due = price_notice_due(licence.term_end)
    if today > due:
        raise DomainError.one(
            "annualFeePence",
            "PRICE_NOTICE_TOO_LATE",
            f"A price change for the term from {licence.term_end} had to be notified by {due} "
            "(30 days before the 90-day notice period, LL 15.2).",
        )
    licence.next_fee_pence = annual_fee_pence
    licence.next_fee_notified_on = today
    await session.flush()
    await notify_licensee(
        session,
        licence,
        kind="PRICE_CHANGE",
        subject=f"Licence {licence.reference}: the fee from {licence.term_end}",
        body=(
            f"The annual fee of licence {licence.reference} will be {money(annual_fee_pence)} from "
            f"{licence.term_end} (now {money(licence.annual_fee_pence)}). To cancel instead, give written "
            f"notice by {cancellation_deadline(licence.term_end)}."
        ),
        today=today,
        now=now,
    )
    return licence


def due_renewal(today: date) -> object:
    return and_(Licence.status == "ACTIVE", Licence.term_end <= today)


async def renew(session: AsyncSession, licence: Licence, *, today: date, now: datetime) -> list[str]:
    """LL 15.1: renew a due licence for a year (a new invoice), or end it if cancelled or not renewing."""
    done = []
    while licence.status == "ACTIVE" and licence.term_end <= today:
        if licence.auto_renew and licence.cancellation_received_on is None:
            start = licence.term_end
            end = add_years(start)
            fee = licence.next_fee_pence if licence.next_fee_pence is not None else licence.annual_fee_pence
            licence.term_start, licence.term_end = start, end
            licence.annual_fee_pence = fee
            licence.next_fee_pence = None
            licence.next_fee_notified_on = None
            licence.renewals += 1
            await session.flush()
            invoice = await new_invoice(
                session,
                licence,
                amount=fee,
                period=(start, end),
                issued_on=today,
                due_on=today + PAYMENT_TERMS,
            )
            await notify_licensee(
                session,
                licence,
                kind="LICENCE_RENEWED",
                subject=f"Licence {licence.reference} renewed until {end}",
                body=(
                    f"Licence {licence.reference} renewed on {start} for a year (LL 15.1). Invoice "
                    f"{invoice.number}: {money(fee)}, due {invoice.due_on}."
                ),
                today=today,
                now=now,
                dedupe_key=f"renewed:{licence.id}:{start}",
            )
            done.append(f"renewed:{start}")
        else:
            ended = licence.term_end
            await end_cover(session, licence.id, ended)
            licence.status = "ENDED"
            licence.ended_on = ended
            await session.flush()
            done.append(f"ended:{ended}")
    return done


def due_renewal_notice(today: date) -> object:
    return and_(
        Licence.status == "ACTIVE",
        Licence.auto_renew,
        Licence.cancellation_received_on.is_(None),  # type: ignore[union-attr]
        Licence.term_end <= today + PRICE_NOTICE_LEAD + NOTICE_PERIOD,
        or_(Licence.renewal_notice_for.is_(None), Licence.renewal_notice_for != Licence.term_end),  # type: ignore[union-attr]
    )


async def send_renewal_notice(session: AsyncSession, licence: Licence, *, today: date, now: datetime) -> None:
    """LL 15.1 and 15.2: before the notice period, tell the licensee the renewal date, the last day to
    cancel and the coming year's price (changed or not). Once per term."""
    fee = licence.next_fee_pence if licence.next_fee_pence is not None else licence.annual_fee_pence
    change = "unchanged" if licence.next_fee_pence in (None, licence.annual_fee_pence) else "changed"
    await notify_licensee(
        session,
        licence,
        kind="RENEWAL_NOTICE",
        subject=f"Licence {licence.reference} renews on {licence.term_end}",
        body=(
            f"Licence {licence.reference} renews automatically on {licence.term_end} (LL 15.1). The annual fee "
            f"from then is {money(fee)} ({change}). To cancel, give written notice by "
            f"{cancellation_deadline(licence.term_end)}."
        ),
        today=today,
        now=now,
        dedupe_key=f"renewal-notice:{licence.id}:{licence.term_end}",
    )
    licence.renewal_notice_for = licence.term_end
    await session.flush()

"""Licences, the schools they cover, invoices and what non-payment does (LL 15).

* A licence renews every year on ``term_end`` unless cancelled in writing 90 days before (LL 15.1): the
  cancellation deadline is ``term_end - 90 days``.
* Price changes for the coming year are notified at least 30 days before that 90-day period begins
  (LL 15.2): the price-change notice is due ``term_end - 120 days``, and a new price set later is refused.
* An invoice unpaid after its due date ends access for every user of every school the licence covers
  (LL 15.4): the school is refused with reason ``LICENCE_UNPAID`` until the invoice is paid.

A school is covered by at most one licence on any day: a licence that would overlap another's cover of
the same school is refused. A school's access status is *derived* (:func:`refresh_school_status`) from its
suspension, its unpaid invoices and its termination, and cached on ``schools.status`` for the edge.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problems
from models import School, Trust
from models.licensing import Invoice, Licence, LicenceSchool, Suspension
from subscriptions import outbox
from subscriptions.trusts import current_trust_ids
from tenants.context import bound

CURRENT_TERMS_VERSION = "LL-2025.1"
"""The licence terms a successor accepts when a licence is novated to it (LL 20)."""
NOTICE_PERIOD = timedelta(days=90)
PRICE_NOTICE_LEAD = timedelta(days=30)
PAYMENT_TERMS = timedelta(days=30)
UNPAID = "LICENCE_UNPAID"


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


def invoice_state(invoice: Invoice, today: date) -> str:
    if invoice.paid_on is not None:
        return "PAID"
    return "OVERDUE" if invoice.due_on < today else "DUE"


def _covers(on: date) -> object:
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


def _overlaps(start: date, end: date | None, other_start: date, other_end: date | None) -> bool:
    return (other_end is None or start < other_end) and (end is None or other_start < end)


def _reference(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4).upper()}"


async def lock_schools(session: AsyncSession, school_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, School]:
    """Lock the schools' rows (in id order, so concurrent writers queue instead of deadlocking)."""
    if not school_ids:
        return {}
    rows = await session.execute(
        select(School).where(School.id.in_(school_ids)).order_by(School.id).with_for_update()  # type: ignore[attr-defined]
    )
    return {s.id: s for s in rows.scalars()}


async def covers_of(session: AsyncSession, school_id: uuid.UUID) -> list[tuple[Licence, LicenceSchool]]:
    rows = await session.execute(
        select(Licence, LicenceSchool)
        .join(LicenceSchool, LicenceSchool.licence_id == Licence.id)
        .where(LicenceSchool.tenant_id == school_id)
        .order_by(LicenceSchool.covered_from)
    )
    return [(licence, cover) for licence, cover in rows.all()]


async def current_licence(session: AsyncSession, school_id: uuid.UUID, on: date) -> Licence | None:
    return (
        await session.execute(
            select(Licence)
            .join(LicenceSchool, LicenceSchool.licence_id == Licence.id)
            .where(LicenceSchool.tenant_id == school_id, _covers(on))
            .order_by(LicenceSchool.covered_from.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).scalar_one_or_none()


async def covered_school_ids(session: AsyncSession, licence_id: uuid.UUID, on: date) -> list[uuid.UUID]:
    rows = await session.execute(
        select(LicenceSchool.tenant_id).where(LicenceSchool.licence_id == licence_id, _covers(on))
    )
    return list(rows.scalars())


async def licence_by_id(session: AsyncSession, licence_id: uuid.UUID, *, lock: bool = False) -> Licence:
    licence = await session.get(Licence, licence_id, with_for_update=lock)
    if licence is None:
        raise DomainError.one("licenceId", "NOT_FOUND", "No such licence.")
    return licence


@dataclass(frozen=True)
class NewLicence:
    licensee_trust_id: uuid.UUID | None
    licensee_school_id: uuid.UUID | None
    school_ids: Sequence[uuid.UUID]
    term_start: date
    term_end: date | None
    auto_renew: bool
    annual_fee_pence: int
    terms_version: str
    first_invoice_due_on: date | None


async def create_licence(
    session: AsyncSession, new: NewLicence, *, created_by: uuid.UUID | None, today: date, now: datetime
) -> Licence:
    """A licence for named schools, with its first invoice. Refuses a cover overlapping another licence's."""
    problems = Problems()
    school_ids = list(dict.fromkeys(new.school_ids))
    term_end = new.term_end or add_years(new.term_start)
    if (new.licensee_trust_id is None) == (new.licensee_school_id is None):
        problems.add("licensee", "ONE_LICENSEE", "Name exactly one licensee: a trust or a school.")
    if not school_ids:
        problems.add("schoolIds", "REQUIRED", "A licence covers at least one school.")
    if term_end <= new.term_start:
        problems.add("termEnd", "INVALID_TERM", "The term must end after it starts.")
    if new.annual_fee_pence < 0:
        problems.add("annualFeePence", "INVALID_AMOUNT", "The fee cannot be negative.")
    if not new.terms_version.strip():
        problems.add("termsVersion", "REQUIRED", "Name the version of the licence terms agreed.")
    if new.first_invoice_due_on is not None and new.first_invoice_due_on < today:
        problems.add("firstInvoiceDueOn", "IN_THE_PAST", "An invoice cannot fall due in the past.")
    licensee_name = ""
    if new.licensee_trust_id is not None:
        trust = await session.get(Trust, new.licensee_trust_id)
        if trust is None:
            problems.add("licensee.trustId", "NOT_FOUND", "No such trust.")
        else:
            licensee_name = trust.name
    schools = await lock_schools(session, school_ids)
    if new.licensee_school_id is not None:
        licensee = schools.get(new.licensee_school_id) or await session.get(School, new.licensee_school_id)
        if licensee is None:
            problems.add("licensee.schoolId", "NOT_FOUND", "No such school.")
        else:
            licensee_name = licensee.name
            if school_ids != [licensee.id]:
                problems.add(
                    "schoolIds", "SCHOOL_LICENSEE", "A school's own licence covers that school and no other."
                )
    async with bound(session, list(schools)):
        trusts = await current_trust_ids(session, list(schools), today)
    new_end = None if new.auto_renew else term_end
    for i, school_id in enumerate(school_ids):
        school = schools.get(school_id)
        if school is None:
            problems.add(f"schoolIds.{i}", "NOT_FOUND", "No such school.")
            continue
        if school.status == "TERMINATED":
            problems.add(f"schoolIds.{i}", "SCHOOL_TERMINATED", f"{school.name} is terminated.")
            continue
        if new.licensee_trust_id is not None and trusts.get(school_id) != new.licensee_trust_id:
            problems.add(
                f"schoolIds.{i}", "SCHOOL_NOT_IN_TRUST", f"{school.name} is not in the licensee trust today."
            )
        for licence, cover in await covers_of(session, school_id):
            if _overlaps(new.term_start, new_end, cover.covered_from, cover_end(licence, cover)):
                problems.add(
                    f"schoolIds.{i}",
                    "OVERLAPPING_LICENCE",
                    f"{school.name} is covered by licence {licence.reference} for part of this term.",
                )
                break
    problems.raise_if_any()
    licence = Licence(
        reference=_reference("LIC"),
        licensee_trust_id=new.licensee_trust_id,
        licensee_tenant_id=new.licensee_school_id,
        licensee_name=licensee_name,
        terms_version=new.terms_version.strip(),
        term_start=new.term_start,
        term_end=term_end,
        auto_renew=new.auto_renew,
        annual_fee_pence=new.annual_fee_pence,
        created_by=created_by,
        created_at=now,
    )
    session.add(licence)
    await session.flush()
    session.add_all(
        LicenceSchool(licence_id=licence.id, tenant_id=s, covered_from=new.term_start) for s in school_ids
    )
    await _invoice(
        session,
        licence,
        amount=new.annual_fee_pence,
        period=(new.term_start, term_end),
        issued_on=today,
        due_on=new.first_invoice_due_on or today + PAYMENT_TERMS,
    )
    return licence


async def _invoice(
    session: AsyncSession,
    licence: Licence,
    *,
    amount: int,
    period: tuple[date, date],
    issued_on: date,
    due_on: date,
) -> Invoice:
    invoice = Invoice(
        licence_id=licence.id,
        number=_reference("INV"),
        period_start=period[0],
        period_end=period[1],
        amount_pence=amount,
        issued_on=issued_on,
        due_on=due_on,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def issue_invoice(
    session: AsyncSession,
    licence_id: uuid.UUID,
    *,
    amount_pence: int,
    period_start: date,
    period_end: date,
    due_on: date,
    today: date,
) -> Invoice:
    licence = await licence_by_id(session, licence_id)
    problems = Problems()
    if amount_pence < 0:
        problems.add("amountPence", "INVALID_AMOUNT", "The amount cannot be negative.")
    if period_end <= period_start:
        problems.add("periodEnd", "INVALID_PERIOD", "The period must end after it starts.")
    if due_on < today:
        problems.add("dueOn", "IN_THE_PAST", "An invoice cannot fall due in the past.")
    if licence.status != "ACTIVE":
        problems.add(
            "licenceId", "LICENCE_NOT_ACTIVE", f"Licence {licence.reference} is {licence.status.lower()}."
        )
    problems.raise_if_any()
    return await _invoice(
        session,
        licence,
        amount=amount_pence,
        period=(period_start, period_end),
        issued_on=today,
        due_on=due_on,
    )


async def has_unpaid(session: AsyncSession, school_id: uuid.UUID, today: date) -> bool:
    """LL 15.4: an invoice of a licence covering the school today is unpaid after its due date."""
    return bool(
        (
            await session.execute(
                select(
                    exists().where(
                        LicenceSchool.tenant_id == school_id,
                        _covers(today),
                        Invoice.licence_id == LicenceSchool.licence_id,
                        Invoice.paid_on.is_(None),  # type: ignore[union-attr]
                        Invoice.due_on < today,
                    )
                )
            )
        ).scalar()
    )


def unpaid_condition(today: date) -> object:
    """SQL: the current row of ``schools`` is covered today by a licence with an invoice past due, unpaid."""
    return (
        select(Invoice.id)
        .join(LicenceSchool, LicenceSchool.licence_id == Invoice.licence_id)
        .where(
            LicenceSchool.tenant_id == School.id,
            _covers(today),
            Invoice.paid_on.is_(None),  # type: ignore[union-attr]
            Invoice.due_on < today,
        )
        .exists()
    )


async def refresh_school_status(
    session: AsyncSession, school_id: uuid.UUID, *, now: datetime
) -> tuple[str, str | None] | None:
    """Recompute a school's access status; returns the new (status, reason) if it changed, else None.

    TERMINATED is final. Otherwise an open suspension wins (its reason), then an unpaid invoice past due
    (``LICENCE_UNPAID``), else ACTIVE.
    """
    school = await session.get(School, school_id, with_for_update=True)
    if school is None or school.status == "TERMINATED":
        return None
    suspension = (
        await session.execute(
            select(Suspension).where(
                Suspension.tenant_id == school_id,
                Suspension.lifted_at.is_(None),  # type: ignore[union-attr]
                Suspension.starts_at <= now,
                Suspension.ends_at > now,
            )
        )
    ).scalar_one_or_none()
    status: tuple[str, str | None]
    if suspension is not None:
        status = ("SUSPENDED", suspension.reason)
    elif await has_unpaid(session, school_id, now.date()):
        status = ("SUSPENDED", UNPAID)
    else:
        status = ("ACTIVE", None)
    if (school.status, school.status_reason) == status:
        return None
    school.status, school.status_reason = status
    await session.flush()
    return status


@dataclass(frozen=True)
class Payment:
    invoice: Invoice
    restored: list[uuid.UUID]
    """Schools whose access this payment restored (LL 15.4: until paid)."""


async def record_payment(
    session: AsyncSession,
    invoice_id: uuid.UUID,
    *,
    paid_on: date | None,
    reference: str | None,
    today: date,
    now: datetime,
) -> Payment:
    invoice = await session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise DomainError.one("invoiceId", "NOT_FOUND", "No such invoice.")
    if invoice.paid_on is not None:
        raise DomainError.one(
            "invoiceId", "ALREADY_PAID", f"Invoice {invoice.number} was paid on {invoice.paid_on}."
        )
    paid_on = paid_on or today
    if paid_on > today:
        raise DomainError.one("paidOn", "IN_THE_FUTURE", "A payment cannot be recorded before it is made.")
    invoice.paid_on = paid_on
    invoice.payment_reference = reference
    await session.flush()
    restored = []
    for school_id in await covered_school_ids(session, invoice.licence_id, today):
        change = await refresh_school_status(session, school_id, now=now)
        if change is not None and change[0] == "ACTIVE":
            restored.append(school_id)
    return Payment(invoice, restored)


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


def _money(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


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
            f"The annual fee of licence {licence.reference} will be {_money(annual_fee_pence)} from "
            f"{licence.term_end} (now {_money(licence.annual_fee_pence)}). To cancel instead, give written "
            f"notice by {cancellation_deadline(licence.term_end)}."
        ),
        today=today,
        now=now,
    )
    return licence


async def _end_cover(
    session: AsyncSession, licence_id: uuid.UUID, on: date, school_id: uuid.UUID | None = None
) -> None:
    """End open covers of a licence on ``on`` (a cover that had not begun by then is removed)."""
    stmt = select(LicenceSchool).where(
        LicenceSchool.licence_id == licence_id,
        or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > on),  # type: ignore[union-attr]
    )
    if school_id is not None:
        stmt = stmt.where(LicenceSchool.tenant_id == school_id)
    for cover in (await session.execute(stmt.with_for_update())).scalars():
        if cover.covered_from >= on:
            await session.execute(
                delete(LicenceSchool).where(
                    LicenceSchool.licence_id == cover.licence_id, LicenceSchool.tenant_id == cover.tenant_id
                )
            )
        else:
            cover.covered_to = on
    await session.flush()


async def end_school_cover(
    session: AsyncSession, school_id: uuid.UUID, *, on: date, status: str
) -> list[Licence]:
    """End every cover of the school from ``on``; a licence left covering no school takes ``status``."""
    touched = []
    for licence, cover in await covers_of(session, school_id):
        if cover.covered_to is not None and cover.covered_to <= on:
            continue
        await _end_cover(session, licence.id, on, school_id)
        remaining = (
            await session.execute(
                select(LicenceSchool.tenant_id).where(
                    LicenceSchool.licence_id == licence.id,
                    or_(LicenceSchool.covered_to.is_(None), LicenceSchool.covered_to > on),  # type: ignore[union-attr]
                )
            )
        ).first()
        if remaining is None and licence.status == "ACTIVE":
            licence.status = status
            licence.ended_on = on
        touched.append(licence)
    await session.flush()
    return touched


# --- scheduled -------------------------------------------------------------------------------------------


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
            invoice = await _invoice(
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
                    f"{invoice.number}: {_money(fee)}, due {invoice.due_on}."
                ),
                today=today,
                now=now,
                dedupe_key=f"renewed:{licence.id}:{start}",
            )
            done.append(f"renewed:{start}")
        else:
            ended = licence.term_end
            await _end_cover(session, licence.id, ended)
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
            f"from then is {_money(fee)} ({change}). To cancel, give written notice by "
            f"{cancellation_deadline(licence.term_end)}."
        ),
        today=today,
        now=now,
        dedupe_key=f"renewal-notice:{licence.id}:{licence.term_end}",
    )
    licence.renewal_notice_for = licence.term_end
    await session.flush()

"""Invoices, payments and what non-payment does (LL 15.4): a school's access status, derived."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problems
from common.events import emit_for_school
from models import School
from models.licensing import Invoice, Licence, LicenceSchool, Suspension
from subscriptions.licences.covers import covered_school_ids, licence_by_id
from subscriptions.licences.terms import UNPAID, covering, new_reference


def invoice_state(invoice: Invoice, today: date) -> str:
    if invoice.paid_on is not None:
        return "PAID"
    return "OVERDUE" if invoice.due_on < today else "DUE"


async def new_invoice(
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
        number=new_reference("INV"),
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
    return await new_invoice(
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
                        covering(today),
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
            covering(today),
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


async def settle_access(
    session: AsyncSession, school_id: uuid.UUID, *, now: datetime
) -> tuple[str, str | None] | None:
    """:func:`refresh_school_status` after money moved or a due date passed (a payment, the jobs runner's
    non-payment step): a change is emitted to the school's chain as ``school.access_refused`` or
    ``school.access_restored``, whoever caused it."""
    change = await refresh_school_status(session, school_id, now=now)
    if change is not None:
        status, reason = change
        await emit_for_school(
            session,
            school_id,
            "school.access_refused" if status != "ACTIVE" else "school.access_restored",
            target_type="School",
            target_id=school_id,
            detail={"reason": reason} if reason else {},
        )
    return change


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
        change = await settle_access(session, school_id, now=now)
        if change is not None and change[0] == "ACTIVE":
            restored.append(school_id)
    return Payment(invoice, restored)

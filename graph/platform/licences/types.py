"""Licences (LL 15), the schools they cover and their invoices, as the trust and platform schemas show them."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from graph.core.relay import Node, to_global_id
from graph.limits import list_size
from graph.platform.refs import SchoolRef, TrustRef, school_ref, trust_ref
from models.licensing import Invoice, Licence
from subscriptions import licences, records

if TYPE_CHECKING:
    pass


@strawberry.enum
class LicenceStatus(Enum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    NOVATED = "NOVATED"
    TERMINATED = "TERMINATED"


@strawberry.enum
class InvoiceStatus(Enum):
    DUE = "DUE"
    OVERDUE = strawberry.enum_value("OVERDUE", description="Unpaid after its due date (LL 15.4).")
    PAID = "PAID"


@strawberry.type(name="Invoice")
class InvoiceType(Node):
    row: strawberry.Private[Invoice]
    id: strawberry.ID
    number: str
    period_start: datetime.date
    period_end: datetime.date
    amount_pence: int
    issued_on: datetime.date
    due_on: datetime.date
    paid_on: datetime.date | None
    status: InvoiceStatus

    @classmethod
    def of(cls, row: Invoice, today: datetime.date) -> InvoiceType:
        return cls(
            row=row,
            id=to_global_id("Invoice", row.id),
            number=row.number,
            period_start=row.period_start,
            period_end=row.period_end,
            amount_pence=row.amount_pence,
            issued_on=row.issued_on,
            due_on=row.due_on,
            paid_on=row.paid_on,
            status=InvoiceStatus(licences.invoice_state(row, today)),
        )


@strawberry.type(name="LicenceCover", description="A school covered by a licence, and for which days.")
class LicenceCover:
    covered_from: datetime.date
    covered_to: datetime.date | None = strawberry.field(description="The first day no longer covered.")
    school_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def school(self, info: Info) -> SchoolRef | None:
        return await school_ref(info, self.school_id)


async def _licence_schools(root: LicenceType, info: Info) -> list[LicenceCover]:
    rows = await records.covers(info.context.session, root.row.id)
    return [
        LicenceCover(covered_from=c.covered_from, covered_to=c.covered_to, school_id=c.tenant_id)
        for c in rows
    ]


async def _licence_invoices(root: LicenceType, info: Info) -> list[InvoiceType]:
    return [
        InvoiceType.of(i, info.context.today)
        for i in await records.invoices(info.context.session, root.row.id)
    ]


async def _licence_novated_from(root: LicenceType, info: Info) -> LicenceType | None:
    if root.row.novated_from_id is None:
        return None
    row = await info.context.session.get(Licence, root.row.novated_from_id)
    return None if row is None else LicenceType.of(row)


async def _licensee_trust(root: LicenceType, info: Info) -> TrustRef | None:
    return await trust_ref(info, root.row.licensee_trust_id)


@strawberry.type(
    name="Licence", description="A licence: who holds it, its term, renewal and notice dates (LL 15)."
)
class LicenceType(Node):
    row: strawberry.Private[Licence]
    id: strawberry.ID
    reference: str
    licensee_name: str
    terms_version: str
    term_start: datetime.date
    term_end: datetime.date = strawberry.field(description="The renewal date (LL 15.1).")
    auto_renew: bool
    renewals: int
    annual_fee_pence: int
    next_fee_pence: int | None = strawberry.field(
        description="The fee from the next renewal, if changed (LL 15.2)."
    )
    cancellation_deadline: datetime.date = strawberry.field(
        description="The last day written notice of cancellation can arrive: 90 days before renewal (LL 15.1)."
    )
    price_change_notice_due: datetime.date = strawberry.field(
        description="The last day a price change for the next term may be notified: 30 days before the "
        "cancellation notice period begins (LL 15.2)."
    )
    cancellation_received_on: datetime.date | None
    status: LicenceStatus
    ended_on: datetime.date | None
    licensee_trust: TrustRef | None = strawberry.field(resolver=_licensee_trust)
    novated_from: Annotated[LicenceType, strawberry.lazy("graph.platform.licences.types")] | None = (
        strawberry.field(
            resolver=_licence_novated_from, description="The licence this one was novated from (LL 20)."
        )
    )
    schools: list[LicenceCover] = strawberry.field(resolver=_licence_schools)
    invoices: list[InvoiceType] = strawberry.field(resolver=_licence_invoices, metadata=list_size(20))

    @classmethod
    def of(cls, row: Licence) -> LicenceType:
        return cls(
            row=row,
            id=to_global_id("Licence", row.id),
            reference=row.reference,
            licensee_name=row.licensee_name,
            terms_version=row.terms_version,
            term_start=row.term_start,
            term_end=row.term_end,
            auto_renew=row.auto_renew,
            renewals=row.renewals,
            annual_fee_pence=row.annual_fee_pence,
            next_fee_pence=row.next_fee_pence,
            cancellation_deadline=licences.cancellation_deadline(row.term_end),
            price_change_notice_due=licences.price_notice_due(row.term_end),
            cancellation_received_on=row.cancellation_received_on,
            status=LicenceStatus(row.status),
            ended_on=row.ended_on,
        )

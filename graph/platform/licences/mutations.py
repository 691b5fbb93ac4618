"""The operator's mutations on licences and invoices (LL 15): a licence, its cancellation and next-term
fee, invoices and the payments that restore access.
"""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import expect_global_id
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, expect_school_id, operator_of
from graph.platform.licences.types import InvoiceType, LicenceType
from graph.platform.refs import SchoolRef
from models import School
from models.licensing import Licence
from subscriptions import licences


@strawberry.input(
    description="Exactly one: a trust or local authority for named schools, or a school itself."
)
class LicenseeInput:
    trust_id: strawberry.ID | None = None
    school_id: strawberry.ID | None = None


@strawberry.input
class CreateLicenceInput:
    licensee: LicenseeInput
    school_ids: list[strawberry.ID]
    term_start: datetime.date
    term_end: datetime.date | None = strawberry.field(
        default=None, description="Default: a year after the start."
    )
    auto_renew: bool = strawberry.field(
        default=True, description="LL 15.1: renews every year unless cancelled."
    )
    annual_fee_pence: int
    terms_version: str | None = strawberry.field(
        default=None, description="Default: the licence terms in force (currentTermsVersion)."
    )
    first_invoice_due_on: datetime.date | None = strawberry.field(
        default=None, description="Default: 30 days from today."
    )


@strawberry.type
class LicencePayload:
    licence: LicenceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _licence_payload(licence: Licence) -> LicencePayload:
    return LicencePayload(licence=LicenceType.of(licence))


async def create_licence(info: Info, input: CreateLicenceInput) -> LicencePayload:
    ctx: AdminContext = info.context
    terms_version = input.terms_version
    if terms_version is None:
        terms_version = await licences.terms_in_force(ctx.session, ctx.now)

    def new_licence() -> licences.NewLicence:
        # Decoded one by one, in input order: the first id that is not one is the error.
        trust_id = (
            None
            if input.licensee.trust_id is None
            else expect_global_id(input.licensee.trust_id, "Trust", field="licensee.trustId")
        )
        school_id = (
            None
            if input.licensee.school_id is None
            else expect_school_id(input.licensee.school_id, field="licensee.schoolId")
        )
        school_ids = [expect_school_id(s, field=f"schoolIds.{i}") for i, s in enumerate(input.school_ids)]
        return licences.NewLicence(
            licensee_trust_id=trust_id,
            licensee_school_id=school_id,
            school_ids=school_ids,
            term_start=input.term_start,
            term_end=input.term_end,
            auto_renew=input.auto_renew,
            annual_fee_pence=input.annual_fee_pence,
            terms_version=terms_version,
            first_invoice_due_on=input.first_invoice_due_on,
        )

    return await mutate(
        info,
        LicencePayload,
        lambda: licences.create_licence(
            ctx.session, new_licence(), created_by=operator_of(info).account_id, today=ctx.today, now=ctx.now
        ),
        done=_licence_payload,
    )


@strawberry.input
class CancelLicenceInput:
    licence_id: strawberry.ID
    received_on: datetime.date | None = strawberry.field(
        default=None, description="When the notice arrived; today."
    )


async def cancel_licence(info: Info, input: CancelLicenceInput) -> LicencePayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        LicencePayload,
        lambda licence_id: licences.cancel(
            ctx.session, licence_id, received_on=input.received_on or ctx.today, today=ctx.today
        ),
        [("licenceId", "Licence", input.licence_id)],
        done=_licence_payload,
    )


@strawberry.input
class SetNextTermFeeInput:
    licence_id: strawberry.ID
    annual_fee_pence: int


async def set_next_term_fee(info: Info, input: SetNextTermFeeInput) -> LicencePayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        LicencePayload,
        lambda licence_id: licences.set_next_fee(
            ctx.session, licence_id, annual_fee_pence=input.annual_fee_pence, today=ctx.today, now=ctx.now
        ),
        [("licenceId", "Licence", input.licence_id)],
        done=_licence_payload,
    )


@strawberry.input
class IssueInvoiceInput:
    licence_id: strawberry.ID
    amount_pence: int
    period_start: datetime.date
    period_end: datetime.date
    due_on: datetime.date


@strawberry.type
class InvoicePayload:
    invoice: InvoiceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def issue_invoice(info: Info, input: IssueInvoiceInput) -> InvoicePayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        InvoicePayload,
        lambda licence_id: licences.issue_invoice(
            ctx.session,
            licence_id,
            amount_pence=input.amount_pence,
            period_start=input.period_start,
            period_end=input.period_end,
            due_on=input.due_on,
            today=ctx.today,
        ),
        [("licenceId", "Licence", input.licence_id)],
        done=lambda invoice: InvoicePayload(invoice=InvoiceType.of(invoice, ctx.today)),
    )


@strawberry.input
class RecordPaymentInput:
    invoice_id: strawberry.ID
    paid_on: datetime.date | None = strawberry.field(default=None, description="Default: today.")
    reference: str | None = None


@strawberry.type
class RecordPaymentPayload:
    invoice: InvoiceType | None = None
    restored_schools: list[SchoolRef] = strawberry.field(
        default_factory=list, description="Schools this payment gave access back to (LL 15.4: until paid)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def record_payment(info: Info, input: RecordPaymentInput) -> RecordPaymentPayload:
    ctx: AdminContext = info.context

    async def done(payment: licences.Payment) -> RecordPaymentPayload:
        restored = []
        for school_id in payment.restored:
            school = await ctx.session.get(School, school_id)
            if school is not None:
                restored.append(SchoolRef.of(school))
        return RecordPaymentPayload(
            invoice=InvoiceType.of(payment.invoice, ctx.today), restored_schools=restored
        )

    return await mutate(
        info,
        RecordPaymentPayload,
        lambda invoice_id: licences.record_payment(
            ctx.session,
            invoice_id,
            paid_on=input.paid_on,
            reference=input.reference,
            today=ctx.today,
            now=ctx.now,
        ),
        [("invoiceId", "Invoice", input.invoice_id)],
        done=done,
    )


@strawberry.type
class LicenceMutation:
    create_licence: LicencePayload = guarded_mutation(
        OPERATOR, resolver=create_licence, description="With its first invoice; overlapping cover is refused."
    )
    cancel_licence: LicencePayload = guarded_mutation(
        OPERATOR,
        resolver=cancel_licence,
        description="LL 15.1: written notice, at least 90 days before renewal.",
    )
    set_next_term_fee: LicencePayload = guarded_mutation(
        OPERATOR, resolver=set_next_term_fee, description="LL 15.2: notified at once; refused once too late."
    )
    issue_invoice: InvoicePayload = guarded_mutation(OPERATOR, resolver=issue_invoice)
    record_payment: RecordPaymentPayload = guarded_mutation(
        OPERATOR, resolver=record_payment, description="LL 15.4: paying restores access at once."
    )

"""The platform schema's mutations: sign-in, trusts and their admins, provisioning (LL 4.1-4.3), licences
and invoices (LL 15), suspension (LL-A 9.1), termination (LL 5.1.3, LL-A 9.3) and novation (LL 20).

Each takes one input and returns a payload with ``errors``; a refused input writes nothing
(:func:`graph.core.mutations.mutate` runs it in a savepoint). What an operator does to a school is recorded in that school's own audit chain.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from auth import admin_sessions, operators, trust_admins
from auth.operators import OPERATOR, OperatorPrincipal
from auth.tokens import PLATFORM_AUDIENCE
from common.errors import DomainError
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.core.relay import expect_global_id
from graph.permissions import guarded_mutation, public
from graph.platform.common import (
    AdminAccountStatus,
    AdminAuthPayload,
    AdminContext,
    ChangePasswordInput,
    CloseNovationInput,
    InvoiceType,
    LicenceType,
    LoginInput,
    LogoutPayload,
    NovationPayload,
    ProposeNovationInput,
    RefreshTokenInput,
    SchoolAdminType,
    SchoolPhase,
    SchoolRef,
    SetSuperUsersInput,
    SetSuperUsersPayload,
    TrustKind,
    audit_sign_in,
    expect_school_id,
    novation_done,
    school_url,
    set_super_users,
)
from graph.platform.learning import LearningMutation
from graph.platform.types import (
    DestructionRecordType,
    PlatformSchool,
    SuspensionReason,
    SuspensionType,
    TrustAdminType,
    TrustType,
)
from models import School, Trust
from models.licensing import DestructionRecord, Licence, Novation, Suspension
from subscriptions import licences, novation, onboarding, suspension, termination, trusts
from subscriptions.school_admins import SchoolAdminView


def _operator(info: Info) -> OperatorPrincipal:
    principal = info.context.principal
    assert isinstance(principal, OperatorPrincipal)  # the OPERATOR policy admitted the caller
    return principal


# --- signing in ------------------------------------------------------------------------------------------


async def login(info: Info, input: LoginInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    outcome = await operators.login(
        ctx.session,
        ctx.auth,
        username=input.username,
        password=input.password,
        address=ctx.client_address,
        now=ctx.now,
    )
    audit_sign_in(info, "auth.login", outcome)
    return AdminAuthPayload.from_outcome(outcome)


async def refresh_token(info: Info, input: RefreshTokenInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    outcome = await admin_sessions.refresh(
        ctx.session, ctx.auth, refresh_token=input.refresh_token, audience=PLATFORM_AUDIENCE, now=ctx.now
    )
    audit_sign_in(info, "auth.refresh", outcome)
    return AdminAuthPayload.from_outcome(outcome)


async def logout(info: Info) -> LogoutPayload:
    ctx: AdminContext = info.context
    await admin_sessions.revoke(
        ctx.session, session_ids=[_operator(info).session_id], reason="LOGOUT", now=ctx.now
    )
    return LogoutPayload(ok=True)


async def change_password(info: Info, input: ChangePasswordInput) -> AdminAuthPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        AdminAuthPayload,
        lambda: operators.change_password(
            ctx.session,
            ctx.auth,
            _operator(info),
            current_password=input.current_password,
            new_password=input.new_password,
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=lambda tokens: AdminAuthPayload.of(tokens, []),
        throttle_on="INVALID_CREDENTIALS",
    )


# --- trusts and their admins -----------------------------------------------------------------------------


@strawberry.input
class CreateTrustInput:
    slug: str = strawberry.field(description="Its address: /trusts/{slug}/graphql.")
    name: str
    kind: TrustKind


@strawberry.input
class UpdateTrustInput:
    trust_id: strawberry.ID
    name: str | None = None
    kind: TrustKind | None = None


@strawberry.type
class TrustPayload:
    trust: TrustType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _trust_payload(trust: Trust | None) -> TrustPayload:
    return TrustPayload(trust=None if trust is None else TrustType.of(trust))


async def create_trust(info: Info, input: CreateTrustInput) -> TrustPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustPayload,
        lambda: onboarding.new_trust(
            ctx.session, slug=input.slug, name=input.name, kind=input.kind.value, now=ctx.now
        ),
        done=_trust_payload,
    )


async def update_trust(info: Info, input: UpdateTrustInput) -> TrustPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustPayload,
        lambda trust_id: trusts.update_trust(
            ctx.session,
            trust_id,
            name=input.name,
            kind=None if input.kind is None else input.kind.value,
            now=ctx.now,
        ),
        [("trustId", "Trust", input.trust_id)],
        done=_trust_payload,
    )


@strawberry.input
class CreateTrustAdminInput:
    trust_id: strawberry.ID
    username: str
    display_name: str
    email: str


@strawberry.type
class CreateTrustAdminPayload:
    trust_admin: TrustAdminType | None = None
    activation_code: str | None = strawberry.field(
        default=None,
        description="Shown once: the admin redeems it with activateTrustAdmin at the trust's URL.",
    )
    activation_url: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def create_trust_admin(info: Info, input: CreateTrustAdminInput) -> CreateTrustAdminPayload:
    ctx: AdminContext = info.context

    async def create(trust_id: uuid.UUID) -> CreateTrustAdminPayload:
        trust = await trusts.trust_by_id(ctx.session, trust_id)
        account, code = await trust_admins.create_trust_admin(
            ctx.session,
            trust_id=trust.id,
            username=input.username,
            display_name=input.display_name,
            email=input.email,
            created_by=_operator(info).account_id,
            now=ctx.now,
        )
        return CreateTrustAdminPayload(
            trust_admin=TrustAdminType.of(account),
            activation_code=code,
            activation_url=f"/trusts/{trust.slug}/graphql",
        )

    return await mutate(
        info,
        CreateTrustAdminPayload,
        create,
        [("trustId", "Trust", input.trust_id)],
        done=lambda payload: payload,
    )


@strawberry.input
class SetTrustAdminStatusInput:
    trust_admin_id: strawberry.ID
    status: AdminAccountStatus
    reason: str | None = None


@strawberry.type
class TrustAdminPayload:
    trust_admin: TrustAdminType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_trust_admin_status(info: Info, input: SetTrustAdminStatusInput) -> TrustAdminPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustAdminPayload,
        lambda account_id: trust_admins.set_status(
            ctx.session, account_id, status=input.status.value, reason=input.reason, now=ctx.now
        ),
        [("trustAdminId", "TrustAdmin", input.trust_admin_id)],
        done=lambda account: TrustAdminPayload(trust_admin=TrustAdminType.of(account)),
    )


# --- provisioning (LL 4.1 - 4.3) -----------------------------------------------------------------------


@strawberry.input
class SchoolAdminInput:
    forename: str
    surname: str
    email: str = strawberry.field(description="Work e-mail: Super-User notices go here.")
    username: str = "admin"


@strawberry.input
class ProvisionSchoolInput:
    slug: str = strawberry.field(description="Its unique address: /schools/{slug}/graphql (LL 4.1).")
    name: str
    phase: SchoolPhase
    urn: str | None = None
    trust_id: strawberry.ID | None = strawberry.field(
        default=None, description="Joins this trust from today."
    )
    order_reference: str
    payment_confirmed: bool = strawberry.field(
        description="LL 4.1: set up on the order with payment confirmed."
    )
    admin: SchoolAdminInput


@strawberry.type
class ProvisionSchoolPayload:
    school: PlatformSchool | None = None
    url: str | None = None
    admin: SchoolAdminType | None = None
    activation_code: str | None = strawberry.field(
        default=None,
        description="Shown once (LL 4.2): the school admin redeems it with activateAccount at the school's URL.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def provision_school(info: Info, input: ProvisionSchoolInput) -> ProvisionSchoolPayload:
    ctx: AdminContext = info.context

    def order(trust_id: uuid.UUID | None = None) -> onboarding.Order:
        return onboarding.Order(
            slug=input.slug,
            name=input.name,
            phase=input.phase.value,
            urn=input.urn,
            trust_id=trust_id,
            order_reference=input.order_reference,
            payment_confirmed=input.payment_confirmed,
            admin_forename=input.admin.forename,
            admin_surname=input.admin.surname,
            admin_email=input.admin.email,
            admin_username=input.admin.username,
        )

    def done(provisioned: onboarding.Provisioned) -> ProvisionSchoolPayload:
        school, admin = provisioned.school, provisioned.admin
        ctx.audit.for_school(
            school.id,
            "school.provisioned",
            target_type="School",
            target_id=school.id,
            detail={"orderReference": input.order_reference, "adminAccountId": str(admin.account.id)},
        )
        return ProvisionSchoolPayload(
            school=PlatformSchool.of(school),
            url=school_url(school.slug),
            admin=SchoolAdminType.of(SchoolAdminView(admin.account, admin.staff, True)),
            activation_code=admin.activation_code,
        )

    return await mutate(
        info,
        ProvisionSchoolPayload,
        lambda *trust_id: onboarding.provision_school(
            ctx.session,
            order(*trust_id),
            operator_id=_operator(info).account_id,
            today=ctx.today,
            now=ctx.now,
        ),
        [] if input.trust_id is None else [("trustId", "Trust", input.trust_id)],
        done=done,
    )


async def set_school_super_users(info: Info, input: SetSuperUsersInput) -> SetSuperUsersPayload:
    try:
        school_id = expect_school_id(input.school_id)
    except DomainError as error:
        return SetSuperUsersPayload(errors=user_errors(error.problems))
    return await set_super_users(info, input, school_id, nominated_by_type="OPERATOR")


# --- licences and invoices (LL 15) -------------------------------------------------------------------------


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
    terms_version: str = licences.CURRENT_TERMS_VERSION
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
            terms_version=input.terms_version,
            first_invoice_due_on=input.first_invoice_due_on,
        )

    return await mutate(
        info,
        LicencePayload,
        lambda: licences.create_licence(
            ctx.session, new_licence(), created_by=_operator(info).account_id, today=ctx.today, now=ctx.now
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
            ctx.audit.for_school(
                school_id, "school.access_restored", target_type="School", target_id=school_id
            )
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


# --- suspension (LL-A 9.1) and termination (LL 5.1.3, LL-A 9.3) -------------------------------------------


@strawberry.input
class SuspendSchoolInput:
    school_id: strawberry.ID
    reason: SuspensionReason
    days: int = strawberry.field(default=30, description="Up to 30 (LL-A 9.1) unless agreedLonger.")
    agreed_longer: bool = False
    agreement: str | None = strawberry.field(
        default=None, description="With agreedLonger: what was agreed, with whom."
    )
    note: str | None = None


@strawberry.type
class SuspensionPayload:
    suspension: SuspensionType | None = None
    school: SchoolRef | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def suspend_school(info: Info, input: SuspendSchoolInput) -> SuspensionPayload:
    ctx: AdminContext = info.context

    async def suspend(school_id: uuid.UUID) -> tuple[Suspension, School]:
        if input.days < 1:
            raise DomainError.one("days", "INVALID_DAYS", "A suspension lasts at least a day.")
        row = await suspension.suspend(
            ctx.session,
            school_id,
            reason=input.reason.value,
            ends_at=ctx.now + datetime.timedelta(days=input.days),
            agreed_longer=input.agreed_longer,
            agreement=input.agreement,
            note=input.note,
            by=_operator(info).account_id,
            now=ctx.now,
        )
        return row, await _school(info, school_id)

    def done(suspended: tuple[Suspension, School]) -> SuspensionPayload:
        row, school = suspended
        ctx.audit.for_school(
            school.id,
            "school.suspended",
            target_type="School",
            target_id=school.id,
            detail={"reason": input.reason.value, "days": input.days, "agreedLonger": input.agreed_longer},
        )
        return SuspensionPayload(suspension=SuspensionType.of(row), school=SchoolRef.of(school))

    return await mutate(
        info, SuspensionPayload, suspend, [("schoolId", "School", input.school_id)], done=done
    )


@strawberry.input
class LiftSuspensionInput:
    school_id: strawberry.ID


async def lift_suspension(info: Info, input: LiftSuspensionInput) -> SuspensionPayload:
    ctx: AdminContext = info.context

    async def lift(school_id: uuid.UUID) -> tuple[Suspension, School]:
        row = await suspension.open_suspension(ctx.session, school_id)
        await suspension.lift(ctx.session, row, by=_operator(info).account_id, reason="MANUAL", now=ctx.now)
        school = await _school(info, school_id)
        await ctx.session.refresh(school)
        return row, school

    def done(lifted: tuple[Suspension, School]) -> SuspensionPayload:
        row, school = lifted
        ctx.audit.for_school(school.id, "school.suspension_lifted", target_type="School", target_id=school.id)
        return SuspensionPayload(suspension=SuspensionType.of(row), school=SchoolRef.of(school))

    return await mutate(info, SuspensionPayload, lift, [("schoolId", "School", input.school_id)], done=done)


@strawberry.enum
class TerminationReason(Enum):
    END_OF_LICENCE = "END_OF_LICENCE"
    NON_PAYMENT = "NON_PAYMENT"
    AT_LICENSEE_REQUEST = "AT_LICENSEE_REQUEST"
    BREACH = "BREACH"


@strawberry.input
class TerminateSchoolInput:
    school_id: strawberry.ID
    reason: TerminationReason
    confirm_slug: str = strawberry.field(description="The school's slug, typed again: this cannot be undone.")
    destroy_on: datetime.date | None = strawberry.field(
        default=None,
        description="When `schoolgraph jobs run` exports and destroys its data (default today).",
    )


@strawberry.type
class TerminateSchoolPayload:
    school: SchoolRef | None = None
    destruction: DestructionRecordType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def terminate_school(info: Info, input: TerminateSchoolInput) -> TerminateSchoolPayload:
    ctx: AdminContext = info.context

    async def terminate(school_id: uuid.UUID) -> tuple[School, DestructionRecord]:
        record = await termination.terminate(
            ctx.session,
            school_id,
            reason=input.reason.value,
            confirm_slug=input.confirm_slug,
            destroy_on=input.destroy_on or ctx.today,
            by=_operator(info).account_id,
            today=ctx.today,
            now=ctx.now,
        )
        return await _school(info, school_id), record

    def done(terminated: tuple[School, DestructionRecord]) -> TerminateSchoolPayload:
        school, record = terminated
        destruction = DestructionRecordType.of(record)
        ctx.audit.for_school(
            school.id,
            "school.terminated",
            target_type="School",
            target_id=school.id,
            detail={"reason": input.reason.value, "destroyOn": str(destruction.destroy_on)},
        )
        return TerminateSchoolPayload(school=SchoolRef.of(school), destruction=destruction)

    return await mutate(
        info, TerminateSchoolPayload, terminate, [("schoolId", "School", input.school_id)], done=done
    )


# --- novation (LL 20) ----------------------------------------------------------------------------------------


async def _school(info: Info, school_id: uuid.UUID) -> School:
    """The school a mutation just changed (it exists: the service found it)."""
    session: AsyncSession = info.context.session
    school = await session.get(School, school_id)
    assert school is not None
    return school


async def _to_trust(info: Info, slug: str) -> uuid.UUID:
    trust = await trusts.resolve_trust(info.context.session, slug)
    if trust is None:
        raise DomainError.one("toTrust", "NOT_FOUND", f"No trust with slug {slug!r}.")
    return trust.id


async def propose_novation(info: Info, input: ProposeNovationInput) -> NovationPayload:
    ctx: AdminContext = info.context

    async def propose(school_id: uuid.UUID) -> Novation:
        to_trust_id = await _to_trust(info, input.to_trust)
        return await novation.propose(
            ctx.session,
            school_id=school_id,
            to_trust_id=to_trust_id,
            effective_date=input.effective_date,
            reason=input.reason.value,
            note=input.note,
            by=novation.Party("OPERATOR", _operator(info).account_id),
            today=ctx.today,
            now=ctx.now,
        )

    return await mutate(
        info,
        NovationPayload,
        propose,
        [("schoolId", "School", input.school_id)],
        done=novation_done(info, "novation.proposed"),
    )


async def withdraw_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: novation.withdraw(
            ctx.session,
            novation_id,
            by=novation.Party("OPERATOR", _operator(info).account_id),
            reason=input.reason,
            now=ctx.now,
        ),
        [("novationId", "Novation", input.novation_id)],
        done=novation_done(info, "novation.withdrawn"),
    )


@strawberry.type
class Mutation(LearningMutation):
    login: AdminAuthPayload = public(
        "signing in is how an operator gets a session", resolver=login, mutation=True
    )
    refresh_token: AdminAuthPayload = public(
        "the refresh token itself is the credential", resolver=refresh_token, mutation=True
    )
    logout: LogoutPayload = guarded_mutation(OPERATOR, resolver=logout, password_change_exempt=True)
    change_password: AdminAuthPayload = guarded_mutation(
        OPERATOR, resolver=change_password, password_change_exempt=True
    )
    create_trust: TrustPayload = guarded_mutation(OPERATOR, resolver=create_trust)
    update_trust: TrustPayload = guarded_mutation(OPERATOR, resolver=update_trust)
    create_trust_admin: CreateTrustAdminPayload = guarded_mutation(
        OPERATOR,
        resolver=create_trust_admin,
        description="A PENDING trust admin with a one-time activation code.",
    )
    set_trust_admin_status: TrustAdminPayload = guarded_mutation(
        OPERATOR, resolver=set_trust_admin_status, description="Disabling ends the admin's sessions at once."
    )
    provision_school: ProvisionSchoolPayload = guarded_mutation(
        OPERATOR,
        resolver=provision_school,
        description="LL 4.1-4.3: the tenant, its URL and its school admin (one-time activation code).",
    )
    set_super_users: SetSuperUsersPayload = guarded_mutation(
        OPERATOR,
        resolver=set_school_super_users,
        description="Up to three school admins hear of agreement changes.",
    )
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
    suspend_school: SuspensionPayload = guarded_mutation(
        OPERATOR, resolver=suspend_school, description="LL-A 9.1: every session of the school is revoked."
    )
    lift_suspension: SuspensionPayload = guarded_mutation(OPERATOR, resolver=lift_suspension)
    terminate_school: TerminateSchoolPayload = guarded_mutation(
        OPERATOR,
        resolver=terminate_school,
        description="LL 5.1.3, LL-A 9.3: access ends now; the jobs runner exports then destroys the data.",
    )
    propose_novation: NovationPayload = guarded_mutation(
        OPERATOR, resolver=propose_novation, description="LL 20: the successor trust must accept it."
    )
    withdraw_novation: NovationPayload = guarded_mutation(OPERATOR, resolver=withdraw_novation)

"""What the trust and platform schemas share: their request context, the declaration registry for account
data, admin sign-in payloads and auditing, and the types both show (trusts and schools by reference,
school counts, licences, invoices, novations).

Neither schema has a type that could carry a pupil's personal data: schools appear as counts, and the only
people they show are admin accounts (operators, trust admins, school admins). tests/test_platform_schema.py
walks both schemas to prove it, and that every root field and every field of an ``@admin_data`` type
declares its policy (``graph/permissions.py``), as the school schema's walk does for its types.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from audit.platform import PlatformTrail, operator_actor, trust_admin_actor
from auth.admin_sessions import AdminOutcome, AdminTokens
from auth.service import AuthRuntime
from auth.trust_admins import SCHOOL_ADMIN_DIRECTORY
from graph.core.errors import UserError, user_errors
from graph.core.mutations import mutate
from graph.core.relay import expect_global_id, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, public
from models import School, Trust
from models.licensing import Invoice, Licence, Novation
from subscriptions import licences, records, school_admins
from subscriptions.school_admins import SchoolAdminView
from subscriptions.trusts import SchoolSummary, TrustTenant
from tenants.context import bound

if TYPE_CHECKING:
    from auth.operators import OperatorPrincipal
    from auth.trust_admins import TrustAdminPrincipal

ADMIN_DATA_TYPES: set[type] = set()


def admin_data(cls: type) -> type:
    """Class decorator for the trust and platform schemas: this type carries an admin's personal data
    (a username, a name, an e-mail), so each of its fields must declare a policy.

    Kept apart from ``graph.permissions.PERSONAL_DATA_TYPES``, which the school schema's walk expects to be
    served in full by the school schema.
    """
    ADMIN_DATA_TYPES.add(cls)
    return cls


@dataclass(frozen=True)
class AdminContext:
    """The context of a trust or platform request. ``tenant`` is the trust at a trust URL, else None;
    ``school_ids`` are the trust's current schools, to which the transaction is bound."""

    audit: PlatformTrail
    session: AsyncSession
    principal: OperatorPrincipal | TrustAdminPrincipal | None
    tenant: TrustTenant | None
    auth: AuthRuntime
    now: datetime.datetime
    request_id: str
    client_address: str
    max_page_size: int
    school_ids: tuple[uuid.UUID, ...] = ()
    binding_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def today(self) -> datetime.date:
        return self.now.date()

    @asynccontextmanager
    async def tenant_rows(
        self, school_ids: Sequence[uuid.UUID], trust_ids: Sequence[uuid.UUID] = ()
    ) -> AsyncIterator[None]:
        """Read tenant rows of these schools (or a trust's memberships) from a query resolver.

        Resolvers of one request run concurrently on one session, and the row-level-security binding is
        the transaction's: so a block that rebinds holds the request's lock for its whole length, and
        restores the binding before letting the next one in. Outside such blocks a platform request is
        bound to no school; a trust request to its schools, which its resolvers never change.
        """
        async with self.binding_lock, bound(self.session, school_ids, trust_ids):
            yield


def school_url(slug: str) -> str:
    return f"/schools/{slug}/graphql"


def expect_school_id(global_id: str, *, field: str = "schoolId") -> uuid.UUID:
    return expect_global_id(global_id, "School", field=field)


# --- sign-in payloads -----------------------------------------------------------------------------------


@strawberry.type
class AdminAuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_expires_at: datetime.datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, tokens: AdminTokens | None, errors: list[UserError]) -> AdminAuthPayload:
        if tokens is None:
            return cls(errors=errors)
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=tokens.access_token_expires_at,
            errors=errors,
        )

    @classmethod
    def from_outcome(cls, outcome: AdminOutcome) -> AdminAuthPayload:
        if outcome.problem is not None:
            return cls.of(None, user_errors([outcome.problem]))
        return cls.of(outcome.tokens, [])


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


def audit_sign_in(info: Info, action: str, outcome: AdminOutcome) -> None:
    """LRS 5.11: sign-ins, refusals and lockouts of admin accounts are logged (the platform log)."""
    audit: PlatformTrail = info.context.audit
    account = outcome.account
    actor = None
    if account is not None and outcome.tokens is not None:
        is_trust = hasattr(account, "trust_id")
        actor = (trust_admin_actor if is_trust else operator_actor)(account.id, account.username)
    audit.record(
        action,
        "SUCCESS" if outcome.tokens is not None else "REJECTED",
        target_type=None if account is None else type(account).__name__,
        target_id=None if account is None else account.id,
        detail={"code": outcome.problem.code} if outcome.problem is not None else {},
        actor=actor,
    )
    if outcome.event is not None and account is not None:
        audit.record(
            f"auth.{outcome.event.lower()}", target_type=type(account).__name__, target_id=account.id
        )


# --- enums ----------------------------------------------------------------------------------------------


@strawberry.enum
class TrustKind(Enum):
    MULTI_ACADEMY_TRUST = "MULTI_ACADEMY_TRUST"
    SINGLE_ACADEMY_TRUST = "SINGLE_ACADEMY_TRUST"
    LOCAL_AUTHORITY = "LOCAL_AUTHORITY"


@strawberry.enum
class SchoolStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


@strawberry.enum
class SchoolPhase(Enum):
    NURSERY = "NURSERY"
    PRIMARY = "PRIMARY"
    MIDDLE = "MIDDLE"
    SECONDARY = "SECONDARY"
    ALL_THROUGH = "ALL_THROUGH"
    SPECIAL = "SPECIAL"
    ALTERNATIVE_PROVISION = "ALTERNATIVE_PROVISION"


@strawberry.enum(
    description="LL 20.1.1: a local-authority school becomes an academy; LL 20.1.2: an academy moves."
)
class NovationReason(Enum):
    CONVERSION_TO_ACADEMY = "CONVERSION_TO_ACADEMY"
    TRUST_TRANSFER = "TRUST_TRANSFER"


@strawberry.enum
class NovationStatus(Enum):
    PROPOSED = "PROPOSED"
    ACCEPTED = "ACCEPTED"
    APPLIED = "APPLIED"
    WITHDRAWN = "WITHDRAWN"
    REJECTED = "REJECTED"


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


@strawberry.enum
class Party(Enum):
    OPERATOR = "OPERATOR"
    TRUST_ADMIN = "TRUST_ADMIN"
    SYSTEM = "SYSTEM"


# --- shared types ---------------------------------------------------------------------------------------


@strawberry.type(name="TrustRef", description="A trust, by name.")
class TrustRef:
    id: strawberry.ID
    slug: str
    name: str
    kind: TrustKind

    @classmethod
    def of(cls, row: Trust) -> TrustRef:
        return cls(id=to_global_id("Trust", row.id), slug=row.slug, name=row.name, kind=TrustKind(row.kind))


async def trust_ref(info: Info, trust_id: uuid.UUID | None) -> TrustRef | None:
    if trust_id is None:
        return None
    row = await info.context.session.get(Trust, trust_id)
    return None if row is None else TrustRef.of(row)


@strawberry.type(name="SchoolRef", description="A school, by name, with its address and access status.")
class SchoolRef:
    id: strawberry.ID
    slug: str
    name: str
    status: SchoolStatus
    status_reason: str | None
    url: str

    @classmethod
    def of(cls, row: School) -> SchoolRef:
        return cls(
            id=to_global_id("School", row.id),
            slug=row.slug,
            name=row.name,
            status=SchoolStatus(row.status),
            status_reason=row.status_reason,
            url=school_url(row.slug),
        )


async def school_ref(info: Info, school_id: uuid.UUID) -> SchoolRef | None:
    row = await info.context.session.get(School, school_id)
    return None if row is None else SchoolRef.of(row)


@strawberry.type(name="SchoolCounts", description="How big a school is: counts only, no one's personal data.")
class SchoolCounts:
    pupils: int = strawberry.field(description="Pupils on roll.")
    staff: int = strawberry.field(description="Staff in post.")
    active_accounts: int = strawberry.field(description="Accounts that can sign in.")
    last_import_at: datetime.datetime | None = strawberry.field(
        default=None,
        description="When the school's roster was last imported. Null until the roster capability records "
        "imports (it is not part of this release).",
    )

    @classmethod
    def of(cls, summary: SchoolSummary) -> SchoolCounts:
        return cls(pupils=summary.pupils, staff=summary.staff, active_accounts=summary.active_accounts)


@strawberry.type(name="Invoice")
class InvoiceType:
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
class LicenceType:
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
    novated_from: Annotated[LicenceType, strawberry.lazy("graph.platform.common")] | None = strawberry.field(
        resolver=_licence_novated_from, description="The licence this one was novated from (LL 20)."
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


async def _novation_school(root: NovationType, info: Info) -> SchoolRef | None:
    return await school_ref(info, root.row.tenant_id)


async def _novation_from(root: NovationType, info: Info) -> TrustRef | None:
    return await trust_ref(info, root.row.from_trust_id)


async def _novation_to(root: NovationType, info: Info) -> TrustRef | None:
    return await trust_ref(info, root.row.to_trust_id)


async def _novation_licence(info: Info, licence_id: uuid.UUID | None) -> LicenceType | None:
    if licence_id is None:
        return None
    row = await info.context.session.get(Licence, licence_id)
    return None if row is None else LicenceType.of(row)


async def _novation_old_licence(root: NovationType, info: Info) -> LicenceType | None:
    return await _novation_licence(info, root.row.old_licence_id)


async def _novation_new_licence(root: NovationType, info: Info) -> LicenceType | None:
    return await _novation_licence(info, root.row.new_licence_id)


@strawberry.type(name="Novation", description="A school moving between trusts (LL 20); no tenant data moves.")
class NovationType:
    row: strawberry.Private[Novation]
    id: strawberry.ID
    reason: NovationReason
    effective_date: datetime.date
    status: NovationStatus
    note: str | None
    proposed_by: Party
    proposed_at: datetime.datetime
    accepted_at: datetime.datetime | None
    accepted_terms_version: str | None = strawberry.field(
        description="The licence terms the successor accepted."
    )
    closed_at: datetime.datetime | None
    close_reason: str | None
    applied_at: datetime.datetime | None
    school: SchoolRef | None = strawberry.field(resolver=_novation_school)
    from_trust: TrustRef | None = strawberry.field(resolver=_novation_from)
    to_trust: TrustRef | None = strawberry.field(resolver=_novation_to)
    old_licence: LicenceType | None = strawberry.field(resolver=_novation_old_licence)
    new_licence: LicenceType | None = strawberry.field(
        resolver=_novation_new_licence, description="The successor's licence, naming the old one."
    )

    @classmethod
    def of(cls, row: Novation) -> NovationType:
        return cls(
            row=row,
            id=to_global_id("Novation", row.id),
            reason=NovationReason(row.reason),
            effective_date=row.effective_date,
            status=NovationStatus(row.status),
            note=row.note,
            proposed_by=Party(row.proposed_by_type),
            proposed_at=row.proposed_at,
            accepted_at=row.accepted_at,
            accepted_terms_version=row.accepted_terms_version,
            closed_at=row.closed_at,
            close_reason=row.close_reason,
            applied_at=row.applied_at,
        )


@strawberry.type
class NovationPayload:
    novation: NovationType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def novation_done(info: Info, action: str) -> Callable[[Novation], NovationPayload]:
    """The payload of a novation a mutation changed, with ``action`` recorded in the school's audit chain."""

    def done(row: Novation) -> NovationPayload:
        info.context.audit.for_school(row.tenant_id, action, target_type="Novation", target_id=row.id)
        return NovationPayload(novation=NovationType.of(row))

    return done


@strawberry.input
class ProposeNovationInput:
    school_id: strawberry.ID
    to_trust: str = strawberry.field(description="The successor trust's slug.")
    effective_date: datetime.date
    reason: NovationReason
    note: str | None = None


@strawberry.input
class CloseNovationInput:
    novation_id: strawberry.ID
    reason: str | None = None


@strawberry.enum
class AdminAccountStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Created; waiting for its activation code.")
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@admin_data
@strawberry.type(name="SchoolAdmin", description="A school admin account (School Subscriber, LL 4.3).")
class SchoolAdminType:
    row: strawberry.Private[SchoolAdminView]
    id: strawberry.ID = public("opaque identifier")
    username: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    forename: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    surname: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    email: str | None = guarded(
        SCHOOL_ADMIN_DIRECTORY, description="Work e-mail: Super-User notices go here."
    )
    status: AdminAccountStatus | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    super_user: bool | None = guarded(
        SCHOOL_ADMIN_DIRECTORY, description="One of the school's (up to three) nominated Super-Users."
    )
    last_login_at: datetime.datetime | None = guarded(SCHOOL_ADMIN_DIRECTORY)

    @classmethod
    def of(cls, view: SchoolAdminView) -> SchoolAdminType:
        account, staff = view.account, view.staff
        return cls(
            row=view,
            id=to_global_id("Account", account.id),
            username=account.username,
            forename=None if staff is None else staff.forename,
            surname=None if staff is None else staff.surname,
            email=None if staff is None else staff.work_email,
            status=AdminAccountStatus(account.status),
            super_user=view.super_user,
            last_login_at=account.last_login_at,
        )


@strawberry.input
class SetSuperUsersInput:
    school_id: strawberry.ID
    account_ids: list[strawberry.ID] = strawberry.field(description="At most three school admins.")


@strawberry.type
class SetSuperUsersPayload:
    super_users: list[SchoolAdminType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_super_users(
    info: Info, input: SetSuperUsersInput, school_id: uuid.UUID, *, nominated_by_type: str
) -> SetSuperUsersPayload:
    """Replace a school's Super-Users (the caller has checked it may reach ``school_id``)."""
    ctx: AdminContext = info.context
    assert ctx.principal is not None

    async def set_chosen() -> list[SchoolAdminView]:
        # Decoded one by one: the first id that is not an account's is the error.
        ids = [
            expect_global_id(a, "Account", field=f"accountIds.{i}") for i, a in enumerate(input.account_ids)
        ]
        async with bound(ctx.session, [school_id]):
            chosen = await school_admins.set_super_users(
                ctx.session,
                school_id,
                ids,
                nominated_by_type=nominated_by_type,
                nominated_by=ctx.principal.account_id if ctx.principal else None,
                now=ctx.now,
            )
            views = await school_admins.school_admins(ctx.session, school_id)
        return [v for v in views if v.account.id in chosen]

    def done(chosen: list[SchoolAdminView]) -> SetSuperUsersPayload:
        ctx.audit.for_school(
            school_id, "super_users.set", detail={"accountIds": [str(c.account.id) for c in chosen]}
        )
        return SetSuperUsersPayload(super_users=[SchoolAdminType.of(v) for v in chosen])

    return await mutate(info, SetSuperUsersPayload, set_chosen, done=done)

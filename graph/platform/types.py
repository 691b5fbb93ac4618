"""Types of the platform schema only: trusts with their admins, schools as the operator sees them
(status, trust history, licences, suspensions, novations, destruction, counts), and operators."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.relay import Connection, Node, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, public
from graph.platform.context import AdminContext, admin_data, school_url
from graph.platform.licences.types import LicenceType
from graph.platform.novations.types import NovationType
from graph.platform.refs import (
    SchoolCounts,
    SchoolPhase,
    SchoolRef,
    SchoolStatus,
    TrustKind,
    TrustRef,
    trust_ref,
)
from graph.platform.school_admins import AdminAccountStatus, SchoolAdminType
from models import School, Trust
from models.licensing import DestructionRecord, Suspension
from models.platform import JobRun, OperatorAccount, TrustAdminAccount
from subscriptions import licences, records, school_admins, trusts


@admin_data
@strawberry.type(name="Operator", description="The signed-in platform operator.")
class OperatorViewer(Node):
    id: strawberry.ID = public("opaque identifier of the caller's own account")
    username: str | None = guarded(OPERATOR, password_change_exempt=True)
    display_name: str | None = guarded(OPERATOR, password_change_exempt=True)
    must_change_password: bool | None = guarded(OPERATOR, password_change_exempt=True)

    @classmethod
    def of(cls, account: OperatorAccount) -> OperatorViewer:
        return cls(
            id=to_global_id("Operator", account.id),
            username=account.username,
            display_name=account.display_name,
            must_change_password=account.must_change_password,
        )


@admin_data
@strawberry.type(name="TrustAdmin", description="An admin account of a trust.")
class TrustAdminType(Node):
    row: strawberry.Private[TrustAdminAccount]
    id: strawberry.ID = public("opaque identifier")
    username: str | None = guarded(OPERATOR)
    display_name: str | None = guarded(OPERATOR)
    email: str | None = guarded(OPERATOR)
    status: AdminAccountStatus | None = guarded(OPERATOR)
    last_login_at: datetime.datetime | None = guarded(OPERATOR)

    @classmethod
    def of(cls, row: TrustAdminAccount) -> TrustAdminType:
        return cls(
            row=row,
            id=to_global_id("TrustAdmin", row.id),
            username=row.username,
            display_name=row.display_name,
            email=row.email,
            status=AdminAccountStatus(row.status),
            last_login_at=row.last_login_at,
        )


async def _trust_schools(root: TrustType, info: Info) -> list[PlatformSchool]:
    ctx: AdminContext = info.context
    async with ctx.tenant_rows([], [root.row.id]):
        ids = await trusts.current_school_ids(ctx.session, root.row.id, ctx.today)
    return [PlatformSchool.of(s) for s in await trusts.schools_by_ids(ctx.session, ids)]


async def _trust_admins(root: TrustType, info: Info) -> list[TrustAdminType]:
    return [TrustAdminType.of(r) for r in await records.trust_admins(info.context.session, root.row.id)]


async def _trust_licences(root: TrustType, info: Info) -> list[LicenceType]:
    return [LicenceType.of(r) for r in await records.licences_held(info.context.session, root.row.id)]


@strawberry.type(name="Trust", description="A multi-academy trust, single-academy trust or local authority.")
class TrustType(Node):
    row: strawberry.Private[Trust]
    id: strawberry.ID
    slug: str
    name: str
    kind: TrustKind
    created_at: datetime.datetime
    url: str = strawberry.field(description="Where its admins work: the trust endpoint.")
    schools: list[PlatformSchool] = strawberry.field(
        resolver=_trust_schools, description="Its schools today."
    )
    admins: list[TrustAdminType] = strawberry.field(resolver=_trust_admins, metadata=list_size(10))
    licences: list[LicenceType] = strawberry.field(
        resolver=_trust_licences, description="Licences it holds.", metadata=list_size(10)
    )

    @classmethod
    def of(cls, row: Trust) -> TrustType:
        return cls(
            row=row,
            id=to_global_id("Trust", row.id),
            slug=row.slug,
            name=row.name,
            kind=TrustKind(row.kind),
            created_at=row.created_at,
            url=f"/trusts/{row.slug}/graphql",
        )


@strawberry.type(
    name="Membership", description="A school in a trust from one date until the day before another."
)
class MembershipType:
    effective_from: datetime.date
    effective_to: datetime.date | None
    trust_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def trust(self, info: Info) -> TrustRef | None:
        return await trust_ref(info, self.trust_id)


@strawberry.enum
class SuspensionReason(Enum):
    SECURITY_BREACH = "SECURITY_BREACH"
    DATA_BREACH = "DATA_BREACH"


@strawberry.type(name="Suspension", description="A suspension on a breach (LL-A 9.1).")
class SuspensionType(Node):
    id: strawberry.ID
    reason: SuspensionReason
    note: str | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    agreed_longer: bool
    agreement: str | None
    sessions_revoked: int
    lifted_at: datetime.datetime | None
    lift_reason: str | None

    @classmethod
    def of(cls, row: Suspension) -> SuspensionType:
        return cls(
            id=to_global_id("Suspension", row.id),
            reason=SuspensionReason(row.reason),
            note=row.note,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            agreed_longer=row.agreed_longer,
            agreement=row.agreement,
            sessions_revoked=row.sessions_revoked,
            lifted_at=row.lifted_at,
            lift_reason=row.lift_reason,
        )


@strawberry.type(name="TableRows")
class TableRows:
    table: str
    rows: int


@strawberry.type(
    name="DestructionRecord",
    description="What was destroyed of a terminated school, when and at whose request (LL 5.1.3, LL-A 9.3).",
)
class DestructionRecordType(Node):
    id: strawberry.ID
    school_slug: str
    school_name: str
    reason: str
    requested_at: datetime.datetime
    destroy_on: datetime.date
    status: str = strawberry.field(
        description="PENDING until the jobs runner has destroyed it, then DESTROYED."
    )
    export_path: str | None = strawberry.field(
        description="The JSON export for return to the school (purged with every copy after the handover)."
    )
    export_sha256: str | None
    export_bytes: int | None
    destroyed_at: datetime.datetime | None
    total_rows: int
    row_counts: list[TableRows] = strawberry.field(metadata=list_size(100))
    handover: str | None = strawberry.field(
        default=None,
        description="RETURN or DELETE, as a Super-User of the school chose in advance or its trust's admins "
        "chose (null: not chosen).",
    )
    super_user_credential: bool = strawberry.field(
        default=False,
        description="A Super-User of the school holds a handover credential for this export (issued when they "
        "chose RETURN, honoured as they were still a Super-User with an active account at termination): they "
        "release and download it at the school's termination-export route.",
    )
    return_until: datetime.date | None = strawberry.field(
        default=None,
        description="A returned export is downloadable by the trust's admins and the credential's holder until "
        "this day.",
    )
    released_at: datetime.datetime | None = None
    copies_purged_at: datetime.datetime | None = strawberry.field(
        default=None, description="When every copy (export, copied files, encrypted archive) was purged."
    )

    @classmethod
    def of(cls, row: DestructionRecord) -> DestructionRecordType:
        return cls(
            id=to_global_id("DestructionRecord", row.id),
            school_slug=row.school_slug,
            school_name=row.school_name,
            reason=row.reason,
            requested_at=row.requested_at,
            destroy_on=row.destroy_on,
            status=row.status,
            export_path=row.export_path,
            export_sha256=row.export_sha256,
            export_bytes=row.export_bytes,
            destroyed_at=row.destroyed_at,
            total_rows=row.total_rows,
            row_counts=[TableRows(table=t, rows=int(n)) for t, n in sorted(row.row_counts.items())],
            handover=row.handover,
            super_user_credential=row.credential_hash is not None,
            return_until=row.return_until,
            released_at=row.released_at,
            copies_purged_at=row.copies_purged_at,
        )


async def _school_trust(root: PlatformSchool, info: Info) -> TrustRef | None:
    ctx: AdminContext = info.context
    async with ctx.tenant_rows([root.row.id]):
        current = await trusts.current_trust_ids(ctx.session, [root.row.id], ctx.today)
    return await trust_ref(info, current.get(root.row.id))


async def _school_memberships(root: PlatformSchool, info: Info) -> list[MembershipType]:
    ctx: AdminContext = info.context
    async with ctx.tenant_rows([root.row.id]):
        rows = await trusts.membership_history(ctx.session, root.row.id)
    return [
        MembershipType(effective_from=m.effective_from, effective_to=m.effective_to, trust_id=m.trust_id)
        for m in rows
    ]


async def _school_counts(root: PlatformSchool, info: Info) -> SchoolCounts:
    ctx: AdminContext = info.context
    async with ctx.tenant_rows([root.row.id]):
        found = await trusts.summaries(ctx.session, [root.row.id])
    return SchoolCounts.of(found[root.row.id])


async def _school_admins(root: PlatformSchool, info: Info) -> list[SchoolAdminType]:
    ctx: AdminContext = info.context
    async with ctx.tenant_rows([root.row.id]):
        views = await school_admins.school_admins(ctx.session, root.row.id)
    return [SchoolAdminType.of(v) for v in views]


async def _school_licence(root: PlatformSchool, info: Info) -> LicenceType | None:
    row = await licences.current_licence(info.context.session, root.row.id, info.context.today)
    return None if row is None else LicenceType.of(row)


async def _school_licences(root: PlatformSchool, info: Info) -> list[LicenceType]:
    return [
        LicenceType.of(licence) for licence, _ in await licences.covers_of(info.context.session, root.row.id)
    ]


async def _school_suspensions(root: PlatformSchool, info: Info) -> list[SuspensionType]:
    return [SuspensionType.of(r) for r in await records.suspensions(info.context.session, root.row.id)]


async def _school_novations(root: PlatformSchool, info: Info) -> list[NovationType]:
    return [NovationType.of(r) for r in await records.novations_of_school(info.context.session, root.row.id)]


async def _school_destruction(root: PlatformSchool, info: Info) -> DestructionRecordType | None:
    row = await records.destruction_of(info.context.session, root.row.id)
    return None if row is None else DestructionRecordType.of(row)


@strawberry.type(
    name="School", description="A school (tenant) as the operator sees it: no pupil's personal data."
)
class PlatformSchool(Node):
    row: strawberry.Private[School]
    id: strawberry.ID
    slug: str
    name: str
    urn: str | None
    phase: SchoolPhase
    status: SchoolStatus
    status_reason: str | None = strawberry.field(description="Why it is refused: the 403 reason code.")
    url: str
    created_at: datetime.datetime
    trust: TrustRef | None = strawberry.field(resolver=_school_trust, description="Its trust today.")
    memberships: list[MembershipType] = strawberry.field(
        resolver=_school_memberships,
        description="Every trust it was in, oldest first.",
        metadata=list_size(10),
    )
    counts: SchoolCounts = strawberry.field(resolver=_school_counts)
    school_admins: list[SchoolAdminType] = strawberry.field(resolver=_school_admins, metadata=list_size(10))
    licence: LicenceType | None = strawberry.field(resolver=_school_licence, description="Covering it today.")
    licences: list[LicenceType] = strawberry.field(
        resolver=_school_licences, description="Every licence that covered it.", metadata=list_size(10)
    )
    suspensions: list[SuspensionType] = strawberry.field(resolver=_school_suspensions, metadata=list_size(10))
    novations: list[NovationType] = strawberry.field(resolver=_school_novations, metadata=list_size(10))
    destruction: DestructionRecordType | None = strawberry.field(resolver=_school_destruction)

    @classmethod
    def of(cls, row: School) -> PlatformSchool:
        return cls(
            row=row,
            id=to_global_id("School", row.id),
            slug=row.slug,
            name=row.name,
            urn=row.urn,
            phase=SchoolPhase(row.phase),
            status=SchoolStatus(row.status),
            status_reason=row.status_reason,
            url=school_url(row.slug),
            created_at=row.created_at,
        )

    def ref(self) -> SchoolRef:
        return SchoolRef.of(self.row)


@strawberry.type(name="JobRun", description="One step of one `schoolgraph jobs run`.")
class JobRunType:
    step: str
    runner: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    applied: int
    failed: int

    @classmethod
    def of(cls, row: JobRun) -> JobRunType:
        return cls(
            step=row.step,
            runner=row.runner,
            started_at=row.started_at,
            finished_at=row.finished_at,
            applied=row.applied,
            failed=row.failed,
        )


TrustConnection = Connection[TrustType]
SchoolConnection = Connection[PlatformSchool]

"""The trust schema's types and root query: the trust's current schools as counts, their school admins,
novations in and out, and the schools' account events. No pupil's personal data is reachable."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN, TrustAdminPrincipal
from common.errors import DomainError
from common.pagination import Page
from graph.core.relay import Connection, Node, connection, from_global_id, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, public
from graph.platform.context import AdminContext, admin_data, school_url
from graph.platform.licences.types import LicenceType
from graph.platform.novations.types import NovationType
from graph.platform.refs import SchoolCounts, SchoolPhase, SchoolStatus, TrustRef
from graph.platform.school_admins import SchoolAdminType
from graph.trust.consent import ConsentQuery
from graph.trust.learning import LearningQuery
from models import AuditEntry, School, Trust
from models.platform import TrustAdminAccount
from subscriptions import licences, records, school_admins, trusts
from subscriptions.trusts import SchoolSummary


def school_of_trust(info: Info, global_id: str, *, field: str = "schoolId") -> uuid.UUID:
    """The id of one of the trust's *current* schools; any other id (another trust's school, a school that
    left, a malformed id) is NOT_FOUND, indistinguishable from no school at all."""
    decoded = from_global_id(global_id)
    ctx: AdminContext = info.context
    if decoded is None or decoded[0] != "School" or decoded[1] not in ctx.school_ids:
        raise DomainError.one(field, "NOT_FOUND", "No such school in this trust.")
    return decoded[1]


@admin_data
@strawberry.type(name="TrustAdmin", description="The signed-in trust admin.")
class TrustAdminViewer(Node):
    id: strawberry.ID = public("opaque identifier of the caller's own account")
    username: str | None = guarded(TRUST_ADMIN, password_change_exempt=True)
    display_name: str | None = guarded(TRUST_ADMIN, password_change_exempt=True)
    email: str | None = guarded(TRUST_ADMIN, password_change_exempt=True)

    @classmethod
    def of(cls, account: TrustAdminAccount) -> TrustAdminViewer:
        return cls(
            id=to_global_id("TrustAdmin", account.id),
            username=account.username,
            display_name=account.display_name,
            email=account.email,
        )


async def _admins(root: TrustSchool, info: Info) -> list[SchoolAdminType]:
    # The request is bound to the trust's schools, this one included.
    return [
        SchoolAdminType.of(v) for v in await school_admins.school_admins(info.context.session, root.row.id)
    ]


async def _licence(root: TrustSchool, info: Info) -> LicenceType | None:
    row = await licences.current_licence(info.context.session, root.row.id, info.context.today)
    return None if row is None else LicenceType.of(row)


@strawberry.type(
    name="School", description="One of the trust's schools today: counts, no one's personal data."
)
class TrustSchool(Node):
    row: strawberry.Private[School]
    id: strawberry.ID
    slug: str
    name: str
    urn: str | None
    phase: SchoolPhase
    status: SchoolStatus
    status_reason: str | None
    url: str
    member_since: datetime.date | None = strawberry.field(description="When it joined this trust.")
    counts: SchoolCounts
    school_admins: list[SchoolAdminType] = strawberry.field(resolver=_admins, metadata=list_size(10))
    licence: LicenceType | None = strawberry.field(
        resolver=_licence, description="The licence covering it today."
    )

    @classmethod
    def of(cls, row: School, summary: SchoolSummary, since: datetime.date | None) -> TrustSchool:
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
            member_since=since,
            counts=SchoolCounts.of(summary),
        )


@admin_data
@strawberry.type(
    name="AccountEvent",
    description="A sign-in or account change at one of the trust's schools (LRS 8.9). Usernames are shown "
    "for admins only: a pupil's or parent's sign-in shows its role, never who.",
)
class AccountEventType:
    seq: int | None = guarded(TRUST_ADMIN)
    occurred_at: datetime.datetime | None = guarded(TRUST_ADMIN)
    action: str | None = guarded(TRUST_ADMIN)
    outcome: str | None = guarded(TRUST_ADMIN)
    actor_type: str | None = guarded(TRUST_ADMIN)
    actor_role: str | None = guarded(TRUST_ADMIN)
    actor_username: str | None = guarded(
        TRUST_ADMIN, description="Only when the actor is a school admin, a trust admin or an operator."
    )
    target_type: str | None = guarded(TRUST_ADMIN)
    target_id: strawberry.ID | None = guarded(TRUST_ADMIN)

    @classmethod
    def of(cls, row: AuditEntry) -> AccountEventType:
        named = row.role in ("SCHOOL_ADMIN", "TRUST_ADMIN", "OPERATOR")
        return cls(
            seq=row.seq,
            occurred_at=row.occurred_at,
            action=row.action,
            outcome=row.outcome,
            actor_type=row.actor_type,
            actor_role=row.role,
            actor_username=row.actor_username if named else None,
            target_type=row.target_type,
            target_id=None
            if row.target_id is None or row.target_type is None
            else to_global_id(row.target_type, row.target_id),
        )


AccountEventConnection = Connection[AccountEventType]


@strawberry.enum
class NovationDirection(Enum):
    IN = strawberry.enum_value("IN", description="Schools proposed to join this trust.")
    OUT = strawberry.enum_value("OUT", description="Schools proposed to leave it.")
    ALL = "ALL"


async def _viewer(info: Info) -> TrustAdminViewer | None:
    principal = info.context.principal
    if not isinstance(principal, TrustAdminPrincipal):
        return None
    account = await info.context.session.get(TrustAdminAccount, principal.account_id)
    return None if account is None else TrustAdminViewer.of(account)


async def _trust(info: Info) -> TrustRef | None:
    row = await info.context.session.get(Trust, info.context.tenant.id)
    return None if row is None else TrustRef.of(row)


async def _schools_of(info: Info, school_ids: list[uuid.UUID]) -> list[TrustSchool]:
    ctx: AdminContext = info.context
    rows = await trusts.schools_by_ids(ctx.session, school_ids)
    counts = await trusts.summaries(ctx.session, school_ids)
    assert ctx.tenant is not None
    since = await records.member_since(ctx.session, ctx.tenant.id, school_ids, ctx.today)
    return [TrustSchool.of(s, counts.get(s.id, SchoolSummary()), since.get(s.id)) for s in rows]


async def _schools(info: Info) -> list[TrustSchool]:
    return await _schools_of(info, list(info.context.school_ids))


async def fetch_school(info: Info, school_id: uuid.UUID) -> TrustSchool | None:
    """One of the trust's schools today; None for any other school."""
    if school_id not in info.context.school_ids:
        return None
    found = await _schools_of(info, [school_id])
    return found[0] if found else None


async def _school(info: Info, id: strawberry.ID) -> TrustSchool | None:
    decoded = from_global_id(id)
    return None if decoded is None or decoded[0] != "School" else await fetch_school(info, decoded[1])


async def _novations(
    info: Info, direction: NovationDirection = NovationDirection.ALL, open_only: bool = True
) -> list[NovationType]:
    rows = await records.novations_of_trust(
        info.context.session, info.context.tenant.id, direction=direction.value, open_only=open_only
    )
    return [NovationType.of(r) for r in rows]


async def _account_events(
    info: Info, school_id: strawberry.ID, first: int | None = None, after: str | None = None
) -> AccountEventConnection | None:
    try:
        school = school_of_trust(info, school_id)
    except DomainError:
        return None
    page = Page.of(first, after, maximum=info.context.max_page_size)
    before = None
    if page.after is not None:
        try:
            before = int(page.after[0])
        except ValueError:
            raise DomainError.one(
                "after", "INVALID_CURSOR", "The cursor is not one this server issued."
            ) from None
    rows = await school_admins.account_events(
        info.context.session, school, first=page.first, before_id=before
    )
    return connection(rows, page, key=lambda e: (e.id,), node=AccountEventType.of)


async def _terms(info: Info) -> str:
    ctx: AdminContext = info.context
    return await licences.terms_in_force(ctx.session, ctx.now)


@strawberry.type
class Query(LearningQuery, ConsentQuery):
    viewer: TrustAdminViewer | None = public("says who the caller is; null when anonymous", resolver=_viewer)
    trust: TrustRef | None = guarded(TRUST_ADMIN, resolver=_trust, description="This trust.")
    schools: list[TrustSchool] | None = guarded(
        TRUST_ADMIN, resolver=_schools, description="The trust's schools today (by its membership rows)."
    )
    school: TrustSchool | None = guarded(
        TRUST_ADMIN, resolver=_school, description="One of the trust's schools today; null for any other."
    )
    novations: list[NovationType] | None = guarded(
        TRUST_ADMIN, resolver=_novations, description="Novations in (to this trust) and out (from it)."
    )
    account_events: AccountEventConnection | None = guarded(
        TRUST_ADMIN,
        resolver=_account_events,
        description="Sign-ins and account changes at one of the trust's schools, newest first (LRS 8.9).",
    )
    current_terms_version: str | None = guarded(
        TRUST_ADMIN,
        resolver=_terms,
        description="The version of the licence terms in force (the platform's published licence terms): what a "
        "successor accepts with a novation (LL 20).",
    )

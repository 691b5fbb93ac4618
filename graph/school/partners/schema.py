"""The partner directory and a school admin's approvals (LL 10.2, LL-A 4.1)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.limits import list_size
from graph.permissions import guarded, guarded_mutation
from graph.school.partners.types import PartnerListing, graphql_exposure
from models.partners import PartnerApproval
from partners import approvals
from partners.approvals import DirectoryEntry


@strawberry.input
class ApprovePartnerInput:
    partner_id: strawberry.ID
    scopes: list[str] = strawberry.field(description="A subset of the scopes the partner may ask for.")


@strawberry.input
class RevokePartnerInput:
    partner_id: strawberry.ID


@strawberry.type
class PartnerApprovalPayload:
    partner: PartnerListing | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _directory(info: Info) -> list[PartnerListing]:
    ctx = info.context
    graphql = graphql_exposure(info.schema._schema)
    return [PartnerListing.of(e, graphql) for e in await approvals.directory(ctx.session, ctx.tenant.id)]


async def _listing(
    info: Info, approval: PartnerApproval | None, partner_id: object
) -> PartnerApprovalPayload:
    ctx = info.context
    for entry in await approvals.directory(ctx.session, ctx.tenant.id):
        if entry.partner.id == partner_id:
            return PartnerApprovalPayload(
                partner=PartnerListing.of(entry, graphql_exposure(info.schema._schema))
            )
    return PartnerApprovalPayload()


async def approve_partner(info: Info, input: ApprovePartnerInput) -> PartnerApprovalPayload:
    ctx = info.context
    return await mutate(
        info,
        PartnerApprovalPayload,
        lambda partner_id: approvals.approve(
            ctx.session, ctx.principal, ctx.tenant.id, partner_id, input.scopes, now=ctx.now
        ),
        [("partnerId", "Partner", input.partner_id)],
        done=lambda approval: _listing(info, approval, approval.partner_id),
    )


async def revoke_partner(info: Info, input: RevokePartnerInput) -> PartnerApprovalPayload:
    ctx = info.context
    return await mutate(
        info,
        PartnerApprovalPayload,
        lambda partner_id: approvals.revoke(
            ctx.session, ctx.principal, ctx.tenant.id, partner_id, now=ctx.now
        ),
        [("partnerId", "Partner", input.partner_id)],
        done=lambda approval: _listing(info, None, approval.partner_id),
    )


@strawberry.type
class PartnerQuery:
    partner_directory: list[PartnerListing] | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_directory,
        metadata=list_size(10),
        description="Registered integration partners, what each scope would expose, and this school's approvals.",
    )


@strawberry.type
class PartnerMutation:
    approve_partner: PartnerApprovalPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=approve_partner,
        description="Approve a partner at this school with a subset of its scopes (replaces an earlier approval).",
    )
    revoke_partner: PartnerApprovalPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=revoke_partner,
        description="Withdraw the approval: the partner's very next request is refused, even with a live token.",
    )


__all__ = ["DirectoryEntry", "PartnerMutation", "PartnerQuery"]

"""The partner directory and a school admin's approvals (LL 10.2, LL-A 4.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from common.errors import DomainError
from common.pagination import INT, TEXT, after_key
from graph.core.arguments import page_of
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import Connection, connection, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, guarded_mutation
from graph.school.partners.types import PartnerListing, graphql_exposure
from models.partners import PartnerApproval
from partners import approvals, changes
from partners.approvals import DirectoryEntry
from roster.service import school_ref


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


@strawberry.type(
    name="RosterChange",
    description="One person (users) or class (classes) written since the version asked for: its latest "
    "change, with status tobedeleted when it has left, deleted when it no longer exists (the tombstones).",
)
class RosterChangeType:
    version: str = strawberry.field(
        description="The change's version, a whole number (it may exceed 32 bits)."
    )
    collection: str = strawberry.field(description="The OneRoster collection: users or classes.")
    sourced_id: str = strawberry.field(description="The OneRoster sourcedId (the provider's object).")
    status: str = strawberry.field(
        description="active; tobedeleted: the record has left the roster; deleted: the record no longer "
        "exists (erased or deleted): delete your copy."
    )

    @classmethod
    def of(cls, row: Any) -> RosterChangeType:
        return cls(
            version=str(row.version), collection=row.collection, sourced_id=row.sourcedId, status=row.status
        )


RosterChangeConnection = Connection[RosterChangeType]

NODE_TYPES = {"judgements": "Judgement", "achievements": "Achievement"}
"""The GraphQL type of each learning collection (its objects' ids are that type's global ids)."""


@strawberry.type(
    name="LearningChange",
    description="One judgement (judgements) or achievement (achievements) written since the version asked "
    "for, or deleted (status deleted: the tombstone, e.g. of an erased pupil's record).",
)
class LearningChangeType:
    version: str = strawberry.field(
        description="The change's version, a whole number (it may exceed 32 bits)."
    )
    collection: str = strawberry.field(description="judgements or achievements.")
    object_id: strawberry.ID = strawberry.field(
        description="The judgement's or achievement's id (the `id` of the Judgement or Achievement)."
    )
    pupil_id: strawberry.ID | None = strawberry.field(
        description="The pupil's id, for a change that is not a deletion (a deletion names no pupil)."
    )
    status: str = strawberry.field(description="active, or deleted: the record no longer exists.")

    @classmethod
    def of(cls, row: Any) -> LearningChangeType:
        pupil = None if row.pupil_id is None else to_global_id("Pupil", row.pupil_id)
        return cls(
            version=str(row.version),
            collection=row.collection,
            object_id=to_global_id(NODE_TYPES[row.collection], row.sourcedId),
            pupil_id=pupil,
            status=row.status,
        )


LearningChangeConnection = Connection[LearningChangeType]


async def _feed(
    info: Info, among: tuple[str, ...], via: str, since: str, first: int | None, after: str | None
) -> tuple[Any, Any]:
    """The feed's rows (``partners.changes``) of the collections of ``among`` the caller's scopes open, as
    a connection's page: the changes of version ``since`` and later, or after a cursor of an earlier page
    (which carries its position: ``since`` is then not used)."""
    ctx = info.context
    page = page_of(info, first, after)
    # A cursor is (version, collection, sourcedId, purged) (partners.changes.Cursor); given out before
    # migration 0031, without the purged version.
    key = after_key(
        page, *((INT, TEXT, TEXT, INT) if page.after and len(page.after) == 4 else (INT, TEXT, TEXT))
    )
    if key is not None:
        cursor = changes.Cursor(*key)
    elif since.isdigit() and len(since) <= 19:
        cursor = changes.Cursor(int(since))
    else:
        raise DomainError.one(
            "since", "INVALID_VERSION", "since must be a version: a whole number, 0 for all."
        )
    collections = changes.collections_for(ctx.principal.scopes, among)
    school = await school_ref(ctx.session, ctx.tenant.id)
    try:
        feed = await changes.read(ctx.session, school, cursor, page.first + 1, collections, via=via)
    except changes.SinceTooOld as error:
        raise DomainError.one("after" if key is not None else "since", "SINCE_TOO_OLD", str(error)) from None
    return feed, page


def _keys(feed: changes.Feed) -> Callable[[Any], tuple[int, str, str, int]]:
    """Each edge's cursor: its position, with the purged version the page was checked against."""
    return lambda row: (row.version, row.collection, row.sourcedId, feed.next.purged)


async def _roster_changes(
    info: Info, since: str = "0", first: int | None = None, after: str | None = None
) -> RosterChangeConnection:
    """The REST feed's rows as a connection."""
    feed, page = await _feed(info, changes.ROSTER, "graphql rosterChanges", since, first, after)
    return connection(feed.changes, page, key=_keys(feed), node=RosterChangeType.of)


async def _learning_changes(
    info: Info, since: str = "0", first: int | None = None, after: str | None = None
) -> LearningChangeConnection:
    """The judgements (progress.read) and achievements (achievements.read) written or deleted."""
    feed, page = await _feed(info, changes.LEARNING, "graphql learningChanges", since, first, after)
    return connection(feed.changes, page, key=_keys(feed), node=LearningChangeType.of)


@strawberry.type
class PartnerQuery:
    roster_changes: RosterChangeConnection | None = guarded(
        policies.ROSTER_CHANGES,
        resolver=_roster_changes,
        description="The roster change feed (integration partners with roster.read): every person and class "
        "written at version `since` or later (or after `after`, a cursor of an earlier page), oldest first, "
        "each once at its latest change; leavers (tobedeleted) and deleted records (deleted) as tombstones, "
        "kept 30 days: a position from before a tombstone purged since is refused SINCE_TOO_OLD (read again "
        "from since 0).",
    )
    learning_changes: LearningChangeConnection | None = guarded(
        policies.LEARNING_CHANGES,
        resolver=_learning_changes,
        description="The learning change feed (integration partners; judgements with progress.read, "
        "achievements with achievements.read, each only with its scope): every judgement and achievement "
        "written at version `since` or later (or after `after`), oldest first, each once at its latest "
        "change; deleted ones (an erased pupil's, say) as tombstones, kept 30 days: a position from before "
        "a tombstone purged since is refused SINCE_TOO_OLD (read again from since 0).",
    )
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

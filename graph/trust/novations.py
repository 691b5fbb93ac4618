"""Novations in and out of the trust (LL 20, LL 7.1.16): the outgoing trust proposes, the successor accepts
or rejects, the proposer may withdraw.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from common.errors import DomainError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, trust_admin_of
from graph.platform.novations.types import (
    CloseNovationInput,
    NovationPayload,
    ProposeNovationInput,
    novation_payload,
)
from graph.trust.queries import school_of_trust
from models.licensing import Novation
from subscriptions import novation, trusts


def _party(info: Info) -> novation.Party:
    principal = trust_admin_of(info)
    return novation.Party("TRUST_ADMIN", principal.account_id, principal.trust_id)


async def propose_novation(info: Info, input: ProposeNovationInput) -> NovationPayload:
    """LL 7.1.16: the outgoing trust tells the platform a school is leaving, for which trust, from when."""
    ctx: AdminContext = info.context

    async def propose() -> Novation:
        school_id = school_of_trust(info, input.school_id)
        to_trust = await trusts.resolve_trust(ctx.session, input.to_trust)
        if to_trust is None:
            raise DomainError.one("toTrust", "NOT_FOUND", f"No trust with slug {input.to_trust!r}.")
        return await novation.propose(
            ctx.session,
            school_id=school_id,
            to_trust_id=to_trust.id,
            effective_date=input.effective_date,
            reason=input.reason.value,
            note=input.note,
            by=_party(info),
            today=ctx.today,
            now=ctx.now,
        )

    return await mutate(info, NovationPayload, propose, done=novation_payload)


@strawberry.input
class AcceptNovationInput:
    novation_id: strawberry.ID
    accept_licence_terms: bool = strawberry.field(
        description="The successor accepts the licence terms (LL 20)."
    )
    terms_version: str = strawberry.field(description="The version accepted: currentTermsVersion.")


async def accept_novation(info: Info, input: AcceptNovationInput) -> NovationPayload:
    ctx: AdminContext = info.context

    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: novation.accept(
            ctx.session,
            novation_id,
            by=_party(info),
            accept_terms=input.accept_licence_terms,
            terms_version=input.terms_version,
            today=ctx.today,
            now=ctx.now,
        ),
        [("novationId", "Novation", input.novation_id)],
        done=novation_payload,
    )


async def _close(info: Info, input: CloseNovationInput, *, reject: bool) -> NovationPayload:
    ctx: AdminContext = info.context
    close = novation.reject if reject else novation.withdraw
    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: close(
            ctx.session, novation_id, by=_party(info), reason=input.reason, now=ctx.now
        ),
        [("novationId", "Novation", input.novation_id)],
        done=novation_payload,
    )


async def reject_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    return await _close(info, input, reject=True)


async def withdraw_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    return await _close(info, input, reject=False)


@strawberry.type
class NovationMutation:
    propose_novation: NovationPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=propose_novation,
        description="LL 7.1.16: one of this trust's schools leaves it, for which trust and from when.",
    )
    accept_novation: NovationPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=accept_novation,
        description="The successor accepts a school and the licence terms; applied at once if due today.",
    )
    reject_novation: NovationPayload = guarded_mutation(TRUST_ADMIN, resolver=reject_novation)
    withdraw_novation: NovationPayload = guarded_mutation(TRUST_ADMIN, resolver=withdraw_novation)

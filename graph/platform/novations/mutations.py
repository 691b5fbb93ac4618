"""The operator's side of novation (LL 20): proposing that a school moves to another trust, withdrawing it."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from common.errors import DomainError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, operator_of
from graph.platform.novations.types import (
    CloseNovationInput,
    NovationPayload,
    ProposeNovationInput,
    novation_payload,
)
from models.licensing import Novation
from subscriptions import novation, trusts


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
            by=novation.Party("OPERATOR", operator_of(info).account_id),
            today=ctx.today,
            now=ctx.now,
        )

    return await mutate(
        info,
        NovationPayload,
        propose,
        [("schoolId", "School", input.school_id)],
        done=novation_payload,
    )


async def withdraw_novation(info: Info, input: CloseNovationInput) -> NovationPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        NovationPayload,
        lambda novation_id: novation.withdraw(
            ctx.session,
            novation_id,
            by=novation.Party("OPERATOR", operator_of(info).account_id),
            reason=input.reason,
            now=ctx.now,
        ),
        [("novationId", "Novation", input.novation_id)],
        done=novation_payload,
    )


@strawberry.type
class NovationMutation:
    propose_novation: NovationPayload = guarded_mutation(
        OPERATOR, resolver=propose_novation, description="LL 20: the successor trust must accept it."
    )
    withdraw_novation: NovationPayload = guarded_mutation(OPERATOR, resolver=withdraw_novation)

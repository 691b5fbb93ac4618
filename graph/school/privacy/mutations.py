"""Rights mutations (LL-S2 (xii)): erasure by a school admin, with a reason and the person's name typed back."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.privacy.types import ErasureType, person_of
from privacy import erasure


@strawberry.input
class ErasePersonInput:
    person_id: strawberry.ID = strawberry.field(description="A pupil, member of staff or contact.")
    reason: str = strawberry.field(description="Why (kept on the erasure record).")
    confirm_name: str = strawberry.field(description="The person's full name, typed back to confirm.")


@strawberry.type
class ErasePersonPayload:
    erasure: ErasureType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def erase_person(info: Info, input: ErasePersonInput) -> ErasePersonPayload:
    ctx = info.context

    async def call() -> object:
        kind, person_id = person_of(input.person_id)
        request = erasure.Erasure(kind, person_id, input.reason, input.confirm_name)
        return await erasure.erase(ctx.session, ctx.principal, request, now=ctx.now)

    return await mutate(
        info, ErasePersonPayload, call, done=lambda row: ErasePersonPayload(erasure=ErasureType.of(row))
    )


@strawberry.type
class PrivacyMutation:
    erase_person: ErasePersonPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=erase_person,
        description="Erase a pupil, member of staff or contact (LL 5.1.6): in one transaction every row of "
        "theirs is deleted or anonymised per the data registry, their accounts and sessions end, and the audit "
        "log's personal columns are blanked; their stored files go after the commit. Irreversible.",
    )

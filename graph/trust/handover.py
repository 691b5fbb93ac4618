"""The termination handover for the trust's admins (LL 5.1.3, LL-A 6.3.7, LL-A 9.3): choose RETURN or DELETE
for a terminated school of the trust, and release its returned export (encrypted, password shown once)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, trust_admin_of
from graph.platform.types import DestructionRecordType
from privacy.exporter import export_keys_of
from subscriptions import handover


@strawberry.enum
class HandoverChoice(Enum):
    RETURN = "RETURN"
    DELETE = "DELETE"


@strawberry.input
class ChooseHandoverInput:
    school_id: strawberry.ID = strawberry.field(description="A terminated school of this trust.")
    choice: HandoverChoice


@strawberry.input
class ReleaseTerminationExportInput:
    school_id: strawberry.ID


@strawberry.type
class HandoverPayload:
    destruction: DestructionRecordType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReleaseTerminationExportPayload:
    destruction: DestructionRecordType | None = None
    password: str | None = strawberry.field(
        default=None, description="The archive's password: shown this once, never stored (LRS 6.8)."
    )
    download_path: str | None = strawberry.field(
        default=None, description="GET it with a trust admin's bearer token until the record's returnUntil."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def choose_termination_handover(info: Info, input: ChooseHandoverInput) -> HandoverPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        HandoverPayload,
        lambda school_id: handover.choose(
            ctx.session, trust_admin_of(info), school_id, input.choice.value, now=ctx.now
        ),
        [("schoolId", "School", input.school_id)],
        done=lambda record: HandoverPayload(destruction=DestructionRecordType.of(record)),
    )


async def release_termination_export(
    info: Info, input: ReleaseTerminationExportInput
) -> ReleaseTerminationExportPayload:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None  # the trust of the URL
    slug = ctx.tenant.slug
    return await mutate(
        info,
        ReleaseTerminationExportPayload,
        lambda school_id: handover.release(
            ctx.session, trust_admin_of(info), school_id, keys=export_keys_of(ctx.auth.settings), now=ctx.now
        ),
        [("schoolId", "School", input.school_id)],
        done=lambda released: ReleaseTerminationExportPayload(
            destruction=DestructionRecordType.of(released.record),
            password=released.password,
            download_path=f"/trusts/{slug}/termination-exports/{released.record.tenant_id}",
        ),
    )


@strawberry.type
class HandoverMutation:
    choose_termination_handover: HandoverPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=choose_termination_handover,
        description="For a terminated school of the trust: RETURN (its export, encrypted, downloadable until "
        "returnUntil) or DELETE (every copy purged after the destruction). Changeable until the copies go.",
    )
    release_termination_export: ReleaseTerminationExportPayload = guarded_mutation(
        TRUST_ADMIN,
        resolver=release_termination_export,
        description="Pack a destroyed school's export for return: an AES-256 zip marked PROTECT whose password "
        "is in this payload only (LL 5.1.3, LRS 6.6, LRS 6.8).",
    )

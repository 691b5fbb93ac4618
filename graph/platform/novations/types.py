"""Novations (LL 20): a school moving between trusts, its types and payload, shared by the trust and
platform schemas. No tenant data moves.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from graph.core.errors import UserError
from graph.core.relay import Node, to_global_id
from graph.platform.licences.types import LicenceType
from graph.platform.refs import SchoolRef, TrustRef, school_ref, trust_ref
from models.licensing import Licence, Novation

if TYPE_CHECKING:
    pass


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
class Party(Enum):
    OPERATOR = "OPERATOR"
    TRUST_ADMIN = "TRUST_ADMIN"
    SYSTEM = "SYSTEM"


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
class NovationType(Node):
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


def novation_payload(row: Novation) -> NovationPayload:
    """The payload of a novation a mutation changed (the service emitted the event)."""
    return NovationPayload(novation=NovationType.of(row))


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

"""Trusts and schools by reference, as the trust and platform schemas show them: names, addresses,
access status and counts, never anyone's personal data.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from graph.core.relay import to_global_id
from graph.platform.context import school_url
from models import School, Trust
from subscriptions.trusts import SchoolSummary

if TYPE_CHECKING:
    pass


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

"""The partner directory as a school admin sees it: each partner, what each of its scopes exposes (generated
from the OneRoster resources' declarations), and the school's approval in force."""

from __future__ import annotations

import datetime

import strawberry

from graph.core.relay import to_global_id
from graph.limits import list_size
from models.partners import Partner, PartnerApproval
from partners.approvals import DirectoryEntry
from partners.scopes import SCOPES, exposed_by


@strawberry.type
class ExposedCollection:
    collection: str = strawberry.field(description="The OneRoster 1.1 collection (a path segment).")
    fields: list[str] = strawberry.field(metadata=list_size(20))


@strawberry.type
class PartnerScope:
    scope: str
    description: str
    exposes: list[ExposedCollection] = strawberry.field(
        description="Exactly which collections and fields a token with this scope can read.",
        metadata=list_size(10),
    )

    @classmethod
    def of(cls, scope: str) -> PartnerScope:
        return cls(
            scope=scope,
            description=SCOPES[scope],
            exposes=[ExposedCollection(collection=c, fields=list(f)) for c, f in exposed_by(scope)],
        )


@strawberry.type(name="PartnerApproval")
class PartnerApprovalType:
    scopes: list[str] = strawberry.field(metadata=list_size(8))
    approved_at: datetime.datetime

    @classmethod
    def of(cls, row: PartnerApproval) -> PartnerApprovalType:
        return cls(scopes=list(row.scopes), approved_at=row.approved_at)


@strawberry.type
class PartnerListing:
    """A registered integration partner, as a school deciding whether to approve it sees it."""

    row: strawberry.Private[Partner]
    id: strawberry.ID
    name: str
    client_id: str
    privacy_notice_url: str
    contact_name: str
    contact_email: str
    scopes: list[PartnerScope] = strawberry.field(
        description="The scopes it may ask for, and what each opens."
    )
    approval: PartnerApprovalType | None = strawberry.field(description="The school's approval in force.")

    @classmethod
    def of(cls, entry: DirectoryEntry) -> PartnerListing:
        p = entry.partner
        return cls(
            row=p,
            id=to_global_id("Partner", p.id),
            name=p.name,
            client_id=p.client_id,
            privacy_notice_url=p.privacy_notice_url,
            contact_name=p.contact_name,
            contact_email=p.contact_email,
            scopes=[PartnerScope.of(s) for s in p.allowed_scopes],
            approval=None if entry.approval is None else PartnerApprovalType.of(entry.approval),
        )

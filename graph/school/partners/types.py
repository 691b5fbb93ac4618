"""The partner directory as a school admin sees it: each partner, what each of its scopes exposes (generated
from the OneRoster resources' declarations), and the school's approval in force."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.schema_converter import GraphQLCoreConverter

from graph.core.relay import to_global_id
from graph.limits import list_size
from graph.permissions import POLICY_KEY
from models.partners import Partner, PartnerApproval
from partners.approvals import DirectoryEntry
from partners.scopes import SCOPES, exposed_by


@strawberry.type
class ExposedCollection:
    api: str = strawberry.field(description="ONEROSTER (the REST provider) or GRAPHQL (this endpoint).")
    collection: str = strawberry.field(description="The OneRoster 1.1 collection, or the GraphQL type.")
    fields: list[str] = strawberry.field(metadata=list_size(20))


def graphql_exposure(schema: Any) -> dict[str, list[ExposedCollection]]:
    """Per scope, the GraphQL types and fields whose declared policy admits it (``Policy.scopes``): read
    from the schema's own field declarations, so the directory cannot drift from what is enforced."""
    found: dict[str, dict[str, list[str]]] = {}
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field_name, field in named.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            policy = getattr(definition, "metadata", {}).get(POLICY_KEY)
            for scope in getattr(policy, "scopes", ()):
                found.setdefault(scope, {}).setdefault(named.name, []).append(field_name)
    return {
        scope: [ExposedCollection(api="GRAPHQL", collection=t, fields=f) for t, f in sorted(types.items())]
        for scope, types in found.items()
    }


@strawberry.type
class PartnerScope:
    scope: str
    description: str
    exposes: list[ExposedCollection] = strawberry.field(
        description="Exactly which collections and fields a token with this scope can read.",
        metadata=list_size(15),
    )

    @classmethod
    def of(cls, scope: str, graphql: dict[str, list[ExposedCollection]]) -> PartnerScope:
        rest = [
            ExposedCollection(api="ONEROSTER", collection=c, fields=list(f)) for c, f in exposed_by(scope)
        ]
        return cls(scope=scope, description=SCOPES[scope], exposes=rest + graphql.get(scope, []))


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
    def of(cls, entry: DirectoryEntry, graphql: dict[str, list[ExposedCollection]]) -> PartnerListing:
        p = entry.partner
        return cls(
            row=p,
            id=to_global_id("Partner", p.id),
            name=p.name,
            client_id=p.client_id,
            privacy_notice_url=p.privacy_notice_url,
            contact_name=p.contact_name,
            contact_email=p.contact_email,
            scopes=[PartnerScope.of(s, graphql) for s in p.allowed_scopes],
            approval=None if entry.approval is None else PartnerApprovalType.of(entry.approval),
        )

"""The operator's registry of integration partners (issue 14): register, issue and rotate secrets, keys."""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import Node, from_global_id, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, guarded_mutation
from graph.platform.context import AdminContext
from models.partners import Partner, PartnerKey
from partners import registry
from partners.registry import IssuedSecret


@strawberry.type(name="Partner")
class PartnerType(Node):
    """An integration partner (an OAuth2 client). Its contact is the operator's business contact."""

    row: strawberry.Private[Partner]
    id: strawberry.ID
    client_id: str = strawberry.field(description="The public OAuth2 client id.")
    name: str
    contact_name: str
    contact_email: str
    privacy_notice_url: str
    allowed_scopes: list[str] = strawberry.field(
        description="The scopes schools may approve it for.", metadata=list_size(8)
    )
    status: str
    created_at: datetime.datetime

    @classmethod
    def of(cls, row: Partner) -> PartnerType:
        return cls(
            row=row,
            id=to_global_id("Partner", row.id),
            client_id=row.client_id,
            name=row.name,
            contact_name=row.contact_name,
            contact_email=row.contact_email,
            privacy_notice_url=row.privacy_notice_url,
            allowed_scopes=list(row.allowed_scopes),
            status=row.status,
            created_at=row.created_at,
        )


@strawberry.type(name="PartnerKey")
class PartnerKeyType:
    kid: str
    jwk: JSON = strawberry.field(description="The public JWK (no private members are ever accepted).")
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None

    @classmethod
    def of(cls, row: PartnerKey) -> PartnerKeyType:
        return cls(kid=row.kid, jwk=row.jwk, created_at=row.created_at, revoked_at=row.revoked_at)


@strawberry.input
class RegisterPartnerInput:
    name: str = strawberry.field(description="The organisation.")
    contact_name: str
    contact_email: str
    privacy_notice_url: str = strawberry.field(description="An https:// URL of its privacy notice.")
    allowed_scopes: list[str] = strawberry.field(description="Scopes it may ask schools for.")


@strawberry.enum
class PartnerStatus(Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.input
class SetPartnerStatusInput:
    partner_id: strawberry.ID
    status: PartnerStatus


@strawberry.type
class PartnerPayload:
    partner: PartnerType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class IssuePartnerSecretInput:
    partner_id: strawberry.ID


@strawberry.type
class PartnerSecretPayload:
    partner: PartnerType | None = None
    client_secret: str | None = strawberry.field(
        default=None,
        description="Shown once, never stored: only its hash is kept. Earlier secrets keep working until "
        "previousSecretsValidUntil.",
    )
    previous_secrets_valid_until: datetime.datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AddPartnerKeyInput:
    partner_id: strawberry.ID
    jwk: JSON = strawberry.field(description="The partner's public JWK (EC, RSA or OKP) for private_key_jwt.")


@strawberry.input
class RevokePartnerKeyInput:
    partner_id: strawberry.ID
    kid: str


@strawberry.type
class PartnerKeyPayload:
    key: PartnerKeyType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def register_partner(info: Info, input: RegisterPartnerInput) -> PartnerPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        PartnerPayload,
        lambda: registry.register(
            ctx.session,
            name=input.name,
            contact_name=input.contact_name,
            contact_email=input.contact_email,
            privacy_notice_url=input.privacy_notice_url,
            allowed_scopes=input.allowed_scopes,
        ),
        done=lambda partner: PartnerPayload(partner=PartnerType.of(partner)),
    )


async def set_partner_status(info: Info, input: SetPartnerStatusInput) -> PartnerPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        PartnerPayload,
        lambda partner_id: registry.set_status(ctx.session, partner_id, input.status.value),
        [("partnerId", "Partner", input.partner_id)],
        done=lambda partner: PartnerPayload(partner=PartnerType.of(partner)),
    )


async def issue_partner_secret(info: Info, input: IssuePartnerSecretInput) -> PartnerSecretPayload:
    ctx: AdminContext = info.context

    def done(issued: IssuedSecret) -> PartnerSecretPayload:
        return PartnerSecretPayload(
            partner=PartnerType.of(issued.partner),
            client_secret=issued.secret,
            previous_secrets_valid_until=ctx.now + ctx.auth.settings.partner_secret_overlap,
        )

    return await mutate(
        info,
        PartnerSecretPayload,
        lambda partner_id: registry.issue_secret(
            ctx.session,
            ctx.auth.hasher,
            partner_id,
            overlap=ctx.auth.settings.partner_secret_overlap,
            now=ctx.now,
        ),
        [("partnerId", "Partner", input.partner_id)],
        done=done,
    )


async def add_partner_key(info: Info, input: AddPartnerKeyInput) -> PartnerKeyPayload:
    ctx: AdminContext = info.context
    jwk: Any = input.jwk
    return await mutate(
        info,
        PartnerKeyPayload,
        lambda partner_id: registry.add_key(ctx.session, partner_id, jwk, now=ctx.now),
        [("partnerId", "Partner", input.partner_id)],
        done=lambda key: PartnerKeyPayload(key=PartnerKeyType.of(key)),
    )


async def revoke_partner_key(info: Info, input: RevokePartnerKeyInput) -> PartnerKeyPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        PartnerKeyPayload,
        lambda partner_id: registry.revoke_key(ctx.session, partner_id, input.kid, now=ctx.now),
        [("partnerId", "Partner", input.partner_id)],
        done=lambda key: PartnerKeyPayload(key=PartnerKeyType.of(key)),
    )


async def _partners(info: Info) -> list[PartnerType]:
    ctx: AdminContext = info.context
    return [PartnerType.of(p) for p in await registry.all_partners(ctx.session)]


async def _partner_keys(info: Info, partner_id: strawberry.ID) -> list[PartnerKeyType]:
    ctx: AdminContext = info.context
    decoded = from_global_id(partner_id)
    if decoded is None or decoded[0] != "Partner":
        return []
    partner: uuid.UUID = decoded[1]
    return [PartnerKeyType.of(k) for k in await registry.live_keys(ctx.session, partner)]


@strawberry.type
class PartnerQuery:
    partners: list[PartnerType] | None = guarded(
        OPERATOR, resolver=_partners, description="Every registered integration partner, by name."
    )
    partner_keys: list[PartnerKeyType] | None = guarded(
        OPERATOR,
        resolver=_partner_keys,
        description="A partner's public keys in use (private_key_jwt).",
        metadata=list_size(20),
    )


@strawberry.type
class PartnerMutation:
    register_partner: PartnerPayload = guarded_mutation(
        OPERATOR, resolver=register_partner, description="Register an integration partner (an OAuth2 client)."
    )
    issue_partner_secret: PartnerSecretPayload = guarded_mutation(
        OPERATOR,
        resolver=issue_partner_secret,
        description="A new client secret, shown once; the previous ones stop working after the overlap.",
    )
    add_partner_key: PartnerKeyPayload = guarded_mutation(
        OPERATOR,
        resolver=add_partner_key,
        description="Register a public key for private_key_jwt (RFC 7523).",
    )
    revoke_partner_key: PartnerKeyPayload = guarded_mutation(OPERATOR, resolver=revoke_partner_key)
    set_partner_status: PartnerPayload = guarded_mutation(
        OPERATOR,
        resolver=set_partner_status,
        description="DISABLED refuses the partner everywhere from its next request; ACTIVE restores it.",
    )

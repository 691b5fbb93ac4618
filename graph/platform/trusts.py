"""The operator's mutations on trusts and their admins."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from auth import trust_admins
from auth.operators import OPERATOR
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, operator_of
from graph.platform.refs import TrustKind
from graph.platform.school_admins import AdminAccountStatus
from graph.platform.types import TrustAdminType, TrustType
from models import Trust
from models.platform import TrustAdminAccount
from subscriptions import onboarding, trusts


@strawberry.input
class CreateTrustInput:
    slug: str = strawberry.field(description="Its address: /trusts/{slug}/graphql.")
    name: str
    kind: TrustKind


@strawberry.input
class UpdateTrustInput:
    trust_id: strawberry.ID
    name: str | None = None
    kind: TrustKind | None = None


@strawberry.type
class TrustPayload:
    trust: TrustType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _trust_payload(trust: Trust | None) -> TrustPayload:
    return TrustPayload(trust=None if trust is None else TrustType.of(trust))


async def create_trust(info: Info, input: CreateTrustInput) -> TrustPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustPayload,
        lambda: onboarding.new_trust(
            ctx.session, slug=input.slug, name=input.name, kind=input.kind.value, now=ctx.now
        ),
        done=_trust_payload,
    )


async def update_trust(info: Info, input: UpdateTrustInput) -> TrustPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustPayload,
        lambda trust_id: trusts.update_trust(
            ctx.session,
            trust_id,
            name=input.name,
            kind=None if input.kind is None else input.kind.value,
            now=ctx.now,
        ),
        [("trustId", "Trust", input.trust_id)],
        done=_trust_payload,
    )


@strawberry.input
class CreateTrustAdminInput:
    trust_id: strawberry.ID
    username: str
    display_name: str
    email: str


@strawberry.type
class CreateTrustAdminPayload:
    trust_admin: TrustAdminType | None = None
    activation_code: str | None = strawberry.field(
        default=None,
        description="Shown once: the admin redeems it with activateTrustAdmin at the trust's URL.",
    )
    activation_url: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def create_trust_admin(info: Info, input: CreateTrustAdminInput) -> CreateTrustAdminPayload:
    ctx: AdminContext = info.context

    async def create(trust_id: uuid.UUID) -> tuple[TrustAdminAccount, str, str]:
        trust = await trusts.trust_by_id(ctx.session, trust_id)
        account, code = await trust_admins.create_trust_admin(
            ctx.session,
            trust_id=trust.id,
            username=input.username,
            display_name=input.display_name,
            email=input.email,
            created_by=operator_of(info).account_id,
            now=ctx.now,
        )
        return account, code, trust.slug

    def done(created: tuple[TrustAdminAccount, str, str]) -> CreateTrustAdminPayload:
        account, code, slug = created
        return CreateTrustAdminPayload(
            trust_admin=TrustAdminType.of(account),
            activation_code=code,
            activation_url=f"/trusts/{slug}/graphql",
        )

    return await mutate(
        info, CreateTrustAdminPayload, create, [("trustId", "Trust", input.trust_id)], done=done
    )


@strawberry.input
class SetTrustAdminStatusInput:
    trust_admin_id: strawberry.ID
    status: AdminAccountStatus
    reason: str | None = None


@strawberry.type
class TrustAdminPayload:
    trust_admin: TrustAdminType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_trust_admin_status(info: Info, input: SetTrustAdminStatusInput) -> TrustAdminPayload:
    ctx: AdminContext = info.context
    return await mutate(
        info,
        TrustAdminPayload,
        lambda account_id: trust_admins.set_status(
            ctx.session, account_id, status=input.status.value, reason=input.reason, now=ctx.now
        ),
        [("trustAdminId", "TrustAdmin", input.trust_admin_id)],
        done=lambda account: TrustAdminPayload(trust_admin=TrustAdminType.of(account)),
    )


@strawberry.type
class TrustMutation:
    create_trust: TrustPayload = guarded_mutation(OPERATOR, resolver=create_trust)
    update_trust: TrustPayload = guarded_mutation(OPERATOR, resolver=update_trust)
    create_trust_admin: CreateTrustAdminPayload = guarded_mutation(
        OPERATOR,
        resolver=create_trust_admin,
        description="A PENDING trust admin with a one-time activation code.",
    )
    set_trust_admin_status: TrustAdminPayload = guarded_mutation(
        OPERATOR, resolver=set_trust_admin_status, description="Disabling ends the admin's sessions at once."
    )

"""``activateAccount``: a school admin made by the platform or the trust redeems its one-time code (LL 4.2)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graph.core.mutations import mutate
from graph.permissions import public
from graph.school.accounts.auth import AuthPayload
from subscriptions import school_admins


@strawberry.input
class ActivateAccountInput:
    code: str = strawberry.field(description="The one-time activation code given with the account.")
    username: str | None = strawberry.field(default=None, description="Optionally, a different username.")
    password: str


async def activate_account(info: Info, input: ActivateAccountInput) -> AuthPayload:
    ctx = info.context

    return await mutate(
        info,
        AuthPayload,
        lambda: school_admins.activate_account(
            ctx.session,
            ctx.auth,
            ctx.tenant,
            code=input.code,
            username=input.username,
            password=input.password,
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=lambda activated: AuthPayload.of(activated[1], []),
        throttle_on="INVALID_ACTIVATION_CODE",
    )


@strawberry.type
class ActivationMutation:
    activate_account: AuthPayload = public(
        "the one-time activation code is the credential (LL 4.2)", resolver=activate_account, mutation=True
    )

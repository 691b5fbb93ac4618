"""School admin accounts as the trust and platform schemas show them, and nominating a school's
Super-Users (up to three), which both schemas offer.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from auth.trust_admins import SCHOOL_ADMIN_DIRECTORY
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import Node, expect_global_id, to_global_id
from graph.permissions import guarded, public
from graph.platform.context import AdminContext, admin_data
from subscriptions import school_admins
from subscriptions.school_admins import SchoolAdminView
from tenants.context import bound

if TYPE_CHECKING:
    pass


@strawberry.enum
class AdminAccountStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Created; waiting for its activation code.")
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@admin_data
@strawberry.type(name="SchoolAdmin", description="A school admin account (School Subscriber, LL 4.3).")
class SchoolAdminType(Node):
    row: strawberry.Private[SchoolAdminView]
    id: strawberry.ID = public("opaque identifier")
    username: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    forename: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    surname: str | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    email: str | None = guarded(
        SCHOOL_ADMIN_DIRECTORY, description="Work e-mail: Super-User notices go here."
    )
    status: AdminAccountStatus | None = guarded(SCHOOL_ADMIN_DIRECTORY)
    super_user: bool | None = guarded(
        SCHOOL_ADMIN_DIRECTORY, description="One of the school's (up to three) nominated Super-Users."
    )
    last_login_at: datetime.datetime | None = guarded(SCHOOL_ADMIN_DIRECTORY)

    @classmethod
    def of(cls, view: SchoolAdminView) -> SchoolAdminType:
        account, staff = view.account, view.staff
        return cls(
            row=view,
            id=to_global_id("Account", account.id),
            username=account.username,
            forename=None if staff is None else staff.forename,
            surname=None if staff is None else staff.surname,
            email=None if staff is None else staff.work_email,
            status=AdminAccountStatus(account.status),
            super_user=view.super_user,
            last_login_at=account.last_login_at,
        )


@strawberry.input
class SetSuperUsersInput:
    school_id: strawberry.ID
    account_ids: list[strawberry.ID] = strawberry.field(description="At most three school admins.")


@strawberry.type
class SetSuperUsersPayload:
    super_users: list[SchoolAdminType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_super_users(
    info: Info, input: SetSuperUsersInput, school_id: uuid.UUID, *, nominated_by_type: str
) -> SetSuperUsersPayload:
    """Replace a school's Super-Users (the caller has checked it may reach ``school_id``)."""
    ctx: AdminContext = info.context
    assert ctx.principal is not None

    async def set_chosen() -> list[SchoolAdminView]:
        # Decoded one by one: the first id that is not an account's is the error.
        ids = [
            expect_global_id(a, "Account", field=f"accountIds.{i}") for i, a in enumerate(input.account_ids)
        ]
        async with bound(ctx.session, [school_id]):
            chosen = await school_admins.set_super_users(
                ctx.session,
                school_id,
                ids,
                nominated_by_type=nominated_by_type,
                nominated_by=ctx.principal.account_id if ctx.principal else None,
                now=ctx.now,
            )
            views = await school_admins.school_admins(ctx.session, school_id)
        return [v for v in views if v.account.id in chosen]

    return await mutate(
        info,
        SetSuperUsersPayload,
        set_chosen,
        done=lambda chosen: SetSuperUsersPayload(super_users=[SchoolAdminType.of(v) for v in chosen]),
    )

"""School-admin mutations on accounts and parent codes (LL 4.3, LL 6.3.4, LL 7.1.6, LL 8.2)."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import accounts, parent_codes, policies
from auth import service as auth_service
from common.errors import DomainError
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import from_global_id
from graph.permissions import guarded_mutation
from graph.school.people.schema import PeopleMutation
from graph.school.people.types import AccountStatus, AccountType, Relationship
from models import Account
from privacy import consent


@strawberry.input
class CreateAccountInput:
    person_id: strawberry.ID = strawberry.field(description="A Staff, Pupil or Contact id.")
    username: str
    school_admin: bool = strawberry.field(
        default=False, description="Staff only: make this a school admin account."
    )


@strawberry.type
class CreateAccountPayload:
    account: AccountType | None = None
    temporary_password: str | None = strawberry.field(
        default=None, description="Shown once: give it to the person; they must change it at first sign-in."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ResetPasswordInput:
    account_id: strawberry.ID


@strawberry.type
class ResetPasswordPayload:
    temporary_password: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetAccountStatusInput:
    account_id: strawberry.ID
    status: AccountStatus
    reason: str | None = None


@strawberry.type
class AccountPayload:
    account: AccountType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class IssueParentCodeInput:
    pupil_id: strawberry.ID
    relationship: Relationship = Relationship.PARENT


@strawberry.type
class IssueParentCodePayload:
    code: str | None = strawberry.field(default=None, description="Shown once: give it to the parent.")
    expires_at: datetime.datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def create_account(info: Info, input: CreateAccountInput) -> CreateAccountPayload:
    ctx = info.context

    async def create() -> accounts.NewAccount:
        decoded = from_global_id(input.person_id)
        if decoded is None or decoded[0] not in accounts.PERSON_ROLES:
            raise DomainError.one(
                "personId", "NOT_FOUND", "No such staff member, pupil or contact at this school."
            )
        return await accounts.create_account(
            ctx.session,
            ctx.auth,
            ctx.principal,
            person_kind=decoded[0],
            person_id=decoded[1],
            username=input.username,
            school_admin=input.school_admin,
            gate=consent.sign_in_problem,
            now=ctx.now,
        )

    return await mutate(
        info,
        CreateAccountPayload,
        create,
        done=lambda created: CreateAccountPayload(
            account=AccountType.of(created.account), temporary_password=created.temporary_password
        ),
    )


async def reset_password(info: Info, input: ResetPasswordInput) -> ResetPasswordPayload:
    ctx = info.context

    return await mutate(
        info,
        ResetPasswordPayload,
        lambda account_id: auth_service.reset_password(
            ctx.session, ctx.auth, ctx.tenant.id, account_id, now=ctx.now
        ),
        [("accountId", "Account", input.account_id)],
        done=lambda password: ResetPasswordPayload(temporary_password=password),
    )


async def set_account_status(info: Info, input: SetAccountStatusInput) -> AccountPayload:
    ctx = info.context

    async def set_status(account_id: uuid.UUID) -> Account:
        account = await accounts.account_by_id(ctx.session, ctx.tenant.id, account_id)
        if account.id == ctx.principal.account_id and input.status is not AccountStatus.ACTIVE:
            raise DomainError.one("accountId", "OWN_ACCOUNT", "You cannot disable your own account.")
        await auth_service.set_account_status(
            ctx.session,
            ctx.tenant.id,
            [account.id],
            status=input.status.value,
            reason=input.reason,
            now=ctx.now,
        )
        await ctx.session.refresh(account)
        return account

    return await mutate(
        info,
        AccountPayload,
        set_status,
        [("accountId", "Account", input.account_id)],
        done=lambda account: AccountPayload(account=AccountType.of(account)),
    )


async def issue_parent_code(info: Info, input: IssueParentCodeInput) -> IssueParentCodePayload:
    ctx = info.context

    def done(issued: parent_codes.IssuedCode) -> IssueParentCodePayload:
        return IssueParentCodePayload(code=issued.code, expires_at=issued.record.expires_at)

    return await mutate(
        info,
        IssueParentCodePayload,
        lambda pupil_id: parent_codes.issue(
            ctx.session,
            ctx.principal,
            pupil_id=pupil_id,
            relationship=input.relationship.value,
            now=ctx.now,
            ttl_days=ctx.auth.settings.parent_code_ttl.days,
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=done,
    )


@strawberry.type
class AdminMutation(PeopleMutation):
    create_account: CreateAccountPayload = guarded_mutation(policies.SCHOOL_ADMIN, resolver=create_account)
    reset_password: ResetPasswordPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=reset_password,
        description="A temporary password, to be changed at next sign-in; ends every session of the account.",
    )
    set_account_status: AccountPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=set_account_status,
        description="Enable or disable an account; disabling ends its sessions at once (LL 8.2).",
    )
    issue_parent_code: IssueParentCodePayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=issue_parent_code,
        description="A single-use, expiring code (LL 6.3.4).",
    )

"""School-admin mutations on staff: create, change, leave, pupil access (LL 6.3.1, LL 11.1)."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.arguments import given
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.people.types import PupilAccess, StaffType
from models import Staff
from people import service


@strawberry.type
class StaffPayload:
    staff: StaffType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _staff_payload(row: Staff) -> StaffPayload:
    return StaffPayload(staff=StaffType.of(row))


@strawberry.input
class CreateStaffInput:
    forename: str
    surname: str
    work_email: str
    title: str | None = None
    secondary_email: str | None = None
    teaching: bool = True
    role_text: str | None = None
    staff_code: str | None = strawberry.field(default=None, description="Unique at the school.")
    date_of_leaving: datetime.date | None = strawberry.field(
        default=None, description="Today or earlier: the member of staff is created inactive."
    )


@strawberry.input
class UpdateStaffInput:
    staff_id: strawberry.ID
    title: str | None = strawberry.UNSET
    forename: str | None = strawberry.UNSET
    surname: str | None = strawberry.UNSET
    work_email: str | None = strawberry.UNSET
    secondary_email: str | None = strawberry.UNSET
    teaching: bool | None = strawberry.UNSET
    role_text: str | None = strawberry.UNSET
    staff_code: str | None = strawberry.UNSET
    date_of_leaving: datetime.date | None = strawberry.field(
        default=strawberry.UNSET,
        description="Today or earlier ends their access at once, as deactivateStaff does.",
    )


@strawberry.input
class DeactivateStaffInput:
    staff_id: strawberry.ID
    date_of_leaving: datetime.date | None = strawberry.field(
        default=None, description="Today when not given; never in the future."
    )


@strawberry.input
class SetStaffPupilAccessInput:
    staff_id: strawberry.ID
    access: PupilAccess
    reason: str | None = strawberry.field(
        default=None, description='Required for SCHOOL, e.g. "Head of Year 6", "SENCO", "Safeguarding lead".'
    )


async def create_staff(info: Info, input: CreateStaffInput) -> StaffPayload:
    ctx = info.context
    data = service.NewStaff(
        forename=input.forename,
        surname=input.surname,
        work_email=input.work_email,
        title=input.title,
        secondary_email=input.secondary_email,
        teaching=input.teaching,
        role_text=input.role_text,
        staff_code=input.staff_code,
        date_of_leaving=input.date_of_leaving,
    )
    return await mutate(
        info,
        StaffPayload,
        lambda: service.create_staff(ctx.session, ctx.principal, data, now=ctx.now),
        done=_staff_payload,
    )


async def update_staff(info: Info, input: UpdateStaffInput) -> StaffPayload:
    ctx = info.context

    def changes(staff_id: uuid.UUID) -> service.StaffChanges:
        return service.StaffChanges(
            staff_id=staff_id,
            title=given(input.title),
            forename=given(input.forename),
            surname=given(input.surname),
            work_email=given(input.work_email),
            secondary_email=given(input.secondary_email),
            teaching=given(input.teaching),
            role_text=given(input.role_text),
            staff_code=given(input.staff_code),
            date_of_leaving=given(input.date_of_leaving),
        )

    return await mutate(
        info,
        StaffPayload,
        lambda staff_id: service.update_staff(ctx.session, ctx.principal, changes(staff_id), now=ctx.now),
        [("staffId", "Staff", input.staff_id)],
        done=_staff_payload,
    )


async def deactivate_staff(info: Info, input: DeactivateStaffInput) -> StaffPayload:
    ctx = info.context
    return await mutate(
        info,
        StaffPayload,
        lambda staff_id: service.deactivate_staff(
            ctx.session,
            ctx.principal,
            service.StaffLeaving(staff_id=staff_id, date_of_leaving=input.date_of_leaving),
            now=ctx.now,
        ),
        [("staffId", "Staff", input.staff_id)],
        done=_staff_payload,
    )


async def set_staff_pupil_access(info: Info, input: SetStaffPupilAccessInput) -> StaffPayload:
    ctx = info.context
    return await mutate(
        info,
        StaffPayload,
        lambda staff_id: service.set_staff_pupil_access(
            ctx.session,
            ctx.principal,
            service.PupilAccessGrant(staff_id=staff_id, access=input.access.value, reason=input.reason),
            now=ctx.now,
        ),
        [("staffId", "Staff", input.staff_id)],
        done=_staff_payload,
    )


@strawberry.type
class StaffMutation:
    create_staff: StaffPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=create_staff,
        description="A member of staff, named and with a work email (LL 6.3.1).",
    )
    update_staff: StaffPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=update_staff,
        description="Change the given fields; a leaving date of today or earlier ends their access.",
    )
    deactivate_staff: StaffPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=deactivate_staff,
        description="A leaver: inactive, account disabled and every session revoked at once (LL 11.1).",
    )
    set_staff_pupil_access: StaffPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=set_staff_pupil_access,
        description="Pupils they teach (TAUGHT), or every pupil (SCHOOL, with a recorded reason).",
    )

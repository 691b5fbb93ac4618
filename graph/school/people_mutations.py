"""School-admin mutations on staff, pupils, groups, memberships and contacts (LL 4.3, LL 11.1, LL-S1).

Thin: each resolver hands :func:`graph.core.mutations.mutate` the input's global ids and a call of
:mod:`people.service` (run in a savepoint: a refused input writes nothing), and wraps the row it returns.
In update inputs a field left out is not changed; a nullable field given as null is cleared.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from common.maybe import UNSET
from graph.core.arguments import WantedId
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.types import (
    ContactType,
    Gender,
    GroupKind,
    GroupType,
    PupilAccess,
    PupilType,
    Relationship,
    StaffType,
)
from models import Contact, Group, Pupil, Staff
from people import service

# --- decoding -------------------------------------------------------------------------------------------


def _given(value: Any) -> Any:
    """A field left out of the input (strawberry.UNSET) is the service's UNSET: "do not change"."""
    return UNSET if value is strawberry.UNSET else value


def _given_enum(value: Any) -> Any:
    if value is strawberry.UNSET:
        return UNSET
    return None if value is None else value.value


# --- payloads -------------------------------------------------------------------------------------------


@strawberry.type
class StaffPayload:
    staff: StaffType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PupilPayload:
    pupil: PupilType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class GroupPayload:
    group: GroupType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactPayload:
    contact: ContactType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactLinkPayload:
    pupil: PupilType | None = None
    contact: ContactType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _staff_payload(row: Staff) -> StaffPayload:
    return StaffPayload(staff=StaffType.of(row))


def _pupil_payload(row: Pupil) -> PupilPayload:
    return PupilPayload(pupil=PupilType.of(row))


def _group_payload(row: Group) -> GroupPayload:
    return GroupPayload(group=GroupType.of(row))


# --- staff ----------------------------------------------------------------------------------------------


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
            title=_given(input.title),
            forename=_given(input.forename),
            surname=_given(input.surname),
            work_email=_given(input.work_email),
            secondary_email=_given(input.secondary_email),
            teaching=_given(input.teaching),
            role_text=_given(input.role_text),
            staff_code=_given(input.staff_code),
            date_of_leaving=_given(input.date_of_leaving),
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


# --- pupils ---------------------------------------------------------------------------------------------


@strawberry.input
class CreatePupilInput:
    forename: str
    surname: str
    date_of_birth: datetime.date
    gender: Gender
    upn: str = strawberry.field(
        description="Unique Pupil Number, with its check letter; unique at the school."
    )
    email: str | None = None
    uln: str | None = strawberry.field(
        default=None, description="Unique Learner Number, with its check digit; 9999999999 means none."
    )


@strawberry.input
class UpdatePupilInput:
    pupil_id: strawberry.ID
    forename: str | None = strawberry.UNSET
    surname: str | None = strawberry.UNSET
    date_of_birth: datetime.date | None = strawberry.UNSET
    gender: Gender | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    upn: str | None = strawberry.UNSET
    uln: str | None = strawberry.UNSET


@strawberry.input
class DeactivatePupilInput:
    pupil_id: strawberry.ID
    date_of_leaving: datetime.date | None = strawberry.field(
        default=None, description="Today when not given; never in the future."
    )


async def create_pupil(info: Info, input: CreatePupilInput) -> PupilPayload:
    ctx = info.context
    data = service.NewPupil(
        forename=input.forename,
        surname=input.surname,
        date_of_birth=input.date_of_birth,
        gender=input.gender.value,
        upn=input.upn,
        email=input.email,
        uln=input.uln,
    )
    return await mutate(
        info,
        PupilPayload,
        lambda: service.create_pupil(ctx.session, ctx.principal, data, now=ctx.now),
        done=_pupil_payload,
    )


async def update_pupil(info: Info, input: UpdatePupilInput) -> PupilPayload:
    ctx = info.context

    def changes(pupil_id: uuid.UUID) -> service.PupilChanges:
        return service.PupilChanges(
            pupil_id=pupil_id,
            forename=_given(input.forename),
            surname=_given(input.surname),
            date_of_birth=_given(input.date_of_birth),
            gender=_given_enum(input.gender),
            email=_given(input.email),
            upn=_given(input.upn),
            uln=_given(input.uln),
        )

    return await mutate(
        info,
        PupilPayload,
        lambda pupil_id: service.update_pupil(ctx.session, ctx.principal, changes(pupil_id), now=ctx.now),
        [("pupilId", "Pupil", input.pupil_id)],
        done=_pupil_payload,
    )


async def deactivate_pupil(info: Info, input: DeactivatePupilInput) -> PupilPayload:
    ctx = info.context
    return await mutate(
        info,
        PupilPayload,
        lambda pupil_id: service.deactivate_pupil(
            ctx.session,
            ctx.principal,
            service.PupilLeaving(pupil_id=pupil_id, date_of_leaving=input.date_of_leaving),
            now=ctx.now,
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=_pupil_payload,
    )


# --- groups and memberships -----------------------------------------------------------------------------


@strawberry.input
class CreateGroupInput:
    name: str
    kind: GroupKind
    year_group: int | None = strawberry.field(
        default=None, description="-2 nursery, -1 reception, 0..14; null for a mixed-age group."
    )
    subject: str | None = None
    external_id: str | None = strawberry.field(default=None, description="Unique at the school.")


@strawberry.input
class UpdateGroupInput:
    group_id: strawberry.ID
    name: str | None = strawberry.UNSET
    kind: GroupKind | None = strawberry.UNSET
    year_group: int | None = strawberry.UNSET
    subject: str | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET


@strawberry.input
class DeactivateGroupInput:
    group_id: strawberry.ID


@strawberry.input
class GroupPupilsInput:
    group_id: strawberry.ID
    pupil_ids: list[strawberry.ID]


@strawberry.input
class GroupTeacherInput:
    group_id: strawberry.ID
    staff_id: strawberry.ID


async def create_group(info: Info, input: CreateGroupInput) -> GroupPayload:
    ctx = info.context
    data = service.NewGroup(
        name=input.name,
        kind=input.kind.value,
        year_group=input.year_group,
        subject=input.subject,
        external_id=input.external_id,
    )
    return await mutate(
        info,
        GroupPayload,
        lambda: service.create_group(ctx.session, ctx.principal, data, now=ctx.now),
        done=_group_payload,
    )


async def update_group(info: Info, input: UpdateGroupInput) -> GroupPayload:
    ctx = info.context

    def changes(group_id: uuid.UUID) -> service.GroupChanges:
        return service.GroupChanges(
            group_id=group_id,
            name=_given(input.name),
            kind=_given_enum(input.kind),
            year_group=_given(input.year_group),
            subject=_given(input.subject),
            external_id=_given(input.external_id),
        )

    return await mutate(
        info,
        GroupPayload,
        lambda group_id: service.update_group(ctx.session, ctx.principal, changes(group_id), now=ctx.now),
        [("groupId", "Group", input.group_id)],
        done=_group_payload,
    )


async def deactivate_group(info: Info, input: DeactivateGroupInput) -> GroupPayload:
    ctx = info.context
    return await mutate(
        info,
        GroupPayload,
        lambda group_id: service.deactivate_group(
            ctx.session, ctx.principal, service.GroupRef(group_id=group_id), now=ctx.now
        ),
        [("groupId", "Group", input.group_id)],
        done=_group_payload,
    )


def _group_pupils_ids(input: GroupPupilsInput) -> list[WantedId]:
    return [
        ("groupId", "Group", input.group_id),
        *((f"pupilIds.{i}", "Pupil", pupil_id) for i, pupil_id in enumerate(input.pupil_ids)),
    ]


def _group_pupils(group_id: uuid.UUID, *pupil_ids: uuid.UUID) -> service.GroupPupils:
    return service.GroupPupils(group_id=group_id, pupil_ids=list(pupil_ids))


async def add_group_pupils(info: Info, input: GroupPupilsInput) -> GroupPayload:
    ctx = info.context
    return await mutate(
        info,
        GroupPayload,
        lambda *ids: service.add_group_pupils(ctx.session, ctx.principal, _group_pupils(*ids), now=ctx.now),
        _group_pupils_ids(input),
        done=_group_payload,
    )


async def remove_group_pupils(info: Info, input: GroupPupilsInput) -> GroupPayload:
    ctx = info.context
    return await mutate(
        info,
        GroupPayload,
        lambda *ids: service.remove_group_pupils(
            ctx.session, ctx.principal, _group_pupils(*ids), now=ctx.now
        ),
        _group_pupils_ids(input),
        done=_group_payload,
    )


def _group_teacher_ids(input: GroupTeacherInput) -> list[WantedId]:
    return [("groupId", "Group", input.group_id), ("staffId", "Staff", input.staff_id)]


def _group_teacher(group_id: uuid.UUID, staff_id: uuid.UUID) -> service.GroupTeacherRef:
    return service.GroupTeacherRef(group_id=group_id, staff_id=staff_id)


async def add_group_teacher(info: Info, input: GroupTeacherInput) -> GroupPayload:
    ctx = info.context
    return await mutate(
        info,
        GroupPayload,
        lambda *ids: service.add_group_teacher(ctx.session, ctx.principal, _group_teacher(*ids), now=ctx.now),
        _group_teacher_ids(input),
        done=_group_payload,
    )


async def remove_group_teacher(info: Info, input: GroupTeacherInput) -> GroupPayload:
    ctx = info.context
    return await mutate(
        info,
        GroupPayload,
        lambda *ids: service.remove_group_teacher(
            ctx.session, ctx.principal, _group_teacher(*ids), now=ctx.now
        ),
        _group_teacher_ids(input),
        done=_group_payload,
    )


# --- contacts -------------------------------------------------------------------------------------------


@strawberry.input
class CreateContactInput:
    forename: str
    surname: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.input
class LinkContactInput:
    contact_id: strawberry.ID
    pupil_id: strawberry.ID
    relationship: Relationship = Relationship.PARENT


@strawberry.input
class UnlinkContactInput:
    contact_id: strawberry.ID
    pupil_id: strawberry.ID


async def create_contact(info: Info, input: CreateContactInput) -> ContactPayload:
    ctx = info.context
    data = service.NewContact(
        forename=input.forename,
        surname=input.surname,
        title=input.title,
        email=input.email,
        phone=input.phone,
    )
    return await mutate(
        info,
        ContactPayload,
        lambda: service.create_contact(ctx.session, ctx.principal, data, now=ctx.now),
        done=lambda contact: ContactPayload(contact=ContactType.of(contact)),
    )


def _contact_link_ids(input: LinkContactInput | UnlinkContactInput) -> list[WantedId]:
    return [("contactId", "Contact", input.contact_id), ("pupilId", "Pupil", input.pupil_id)]


def _contact_link_payload(linked: tuple[Pupil, Contact]) -> ContactLinkPayload:
    return ContactLinkPayload(pupil=PupilType.of(linked[0]), contact=ContactType.of(linked[1]))


async def link_contact(info: Info, input: LinkContactInput) -> ContactLinkPayload:
    ctx = info.context
    return await mutate(
        info,
        ContactLinkPayload,
        lambda contact_id, pupil_id: service.link_contact(
            ctx.session,
            ctx.principal,
            service.ContactLink(
                contact_id=contact_id, pupil_id=pupil_id, relationship=input.relationship.value
            ),
            now=ctx.now,
        ),
        _contact_link_ids(input),
        done=_contact_link_payload,
    )


async def unlink_contact(info: Info, input: UnlinkContactInput) -> ContactLinkPayload:
    ctx = info.context
    return await mutate(
        info,
        ContactLinkPayload,
        lambda contact_id, pupil_id: service.unlink_contact(
            ctx.session,
            ctx.principal,
            service.ContactUnlink(contact_id=contact_id, pupil_id=pupil_id),
            now=ctx.now,
        ),
        _contact_link_ids(input),
        done=_contact_link_payload,
    )


@strawberry.type
class PeopleMutation:
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
    create_pupil: PupilPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=create_pupil, description="A pupil with the LL-S1 fields."
    )
    update_pupil: PupilPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=update_pupil, description="Change the given fields."
    )
    deactivate_pupil: PupilPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=deactivate_pupil,
        description="A leaver: inactive, account disabled and every session revoked at once (LL 11.1).",
    )
    create_group: GroupPayload = guarded_mutation(policies.SCHOOL_ADMIN, resolver=create_group)
    update_group: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=update_group, description="Change the given fields."
    )
    deactivate_group: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=deactivate_group,
        description="Hidden from lists and closed to new members; memberships are kept.",
    )
    add_group_pupils: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=add_group_pupils,
        description="Idempotent: pupils already in the group stay as they are.",
    )
    remove_group_pupils: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=remove_group_pupils, description="Idempotent."
    )
    add_group_teacher: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=add_group_teacher, description="Idempotent."
    )
    remove_group_teacher: GroupPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=remove_group_teacher, description="Idempotent."
    )
    create_contact: ContactPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=create_contact,
        description="A parent, guardian or other contact, to link to pupils.",
    )
    link_contact: ContactLinkPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=link_contact,
        description="Link a contact to a pupil, or change the relationship of an existing link.",
    )
    unlink_contact: ContactLinkPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=unlink_contact, description="Idempotent."
    )

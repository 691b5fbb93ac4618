"""School-admin mutations on staff, pupils, groups, memberships and contacts (LL 4.3, LL 11.1, LL-S1).

Thin: each resolver decodes the input's global ids, calls :mod:`people.service` through ``attempt`` (a
savepoint: a refused input writes nothing) and wraps the row it returns. In update inputs a field left
out is not changed; a nullable field given as null is cleared.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from common.errors import DomainError, Problems
from common.maybe import UNSET
from graph.mutations import attempt
from graph.permissions import guarded_mutation
from graph.relay import expect_global_id
from graph.school.types import (
    ContactType,
    Gender,
    GroupKind,
    GroupType,
    PupilAccess,
    PupilType,
    Relationship,
    StaffType,
    UserError,
)
from people import service

# --- decoding -------------------------------------------------------------------------------------------


def _ids(*wanted: tuple[str, str, str]) -> list[uuid.UUID]:
    """Decode ``(field, type name, global id)`` triples, reporting every id that is not one at once."""
    problems = Problems()
    decoded: list[uuid.UUID] = []
    for field, type_name, global_id in wanted:
        try:
            decoded.append(expect_global_id(global_id, type_name, field=field))
        except DomainError as error:
            problems.items.extend(error.problems)
    problems.raise_if_any()
    return decoded


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

    async def run() -> StaffType:
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
        return StaffType.of(await service.create_staff(ctx.session, ctx.principal, data, now=ctx.now))

    staff, errors = await attempt(info, run)
    return StaffPayload(staff=staff, errors=errors)


async def update_staff(info: Info, input: UpdateStaffInput) -> StaffPayload:
    ctx = info.context

    async def run() -> StaffType:
        (staff_id,) = _ids(("staffId", "Staff", input.staff_id))
        data = service.StaffChanges(
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
        return StaffType.of(await service.update_staff(ctx.session, ctx.principal, data, now=ctx.now))

    staff, errors = await attempt(info, run)
    return StaffPayload(staff=staff, errors=errors)


async def deactivate_staff(info: Info, input: DeactivateStaffInput) -> StaffPayload:
    ctx = info.context

    async def run() -> StaffType:
        (staff_id,) = _ids(("staffId", "Staff", input.staff_id))
        data = service.StaffLeaving(staff_id=staff_id, date_of_leaving=input.date_of_leaving)
        return StaffType.of(await service.deactivate_staff(ctx.session, ctx.principal, data, now=ctx.now))

    staff, errors = await attempt(info, run)
    return StaffPayload(staff=staff, errors=errors)


async def set_staff_pupil_access(info: Info, input: SetStaffPupilAccessInput) -> StaffPayload:
    ctx = info.context

    async def run() -> StaffType:
        (staff_id,) = _ids(("staffId", "Staff", input.staff_id))
        data = service.PupilAccessGrant(staff_id=staff_id, access=input.access.value, reason=input.reason)
        return StaffType.of(
            await service.set_staff_pupil_access(ctx.session, ctx.principal, data, now=ctx.now)
        )

    staff, errors = await attempt(info, run)
    return StaffPayload(staff=staff, errors=errors)


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

    async def run() -> PupilType:
        data = service.NewPupil(
            forename=input.forename,
            surname=input.surname,
            date_of_birth=input.date_of_birth,
            gender=input.gender.value,
            upn=input.upn,
            email=input.email,
            uln=input.uln,
        )
        return PupilType.of(await service.create_pupil(ctx.session, ctx.principal, data, now=ctx.now))

    pupil, errors = await attempt(info, run)
    return PupilPayload(pupil=pupil, errors=errors)


async def update_pupil(info: Info, input: UpdatePupilInput) -> PupilPayload:
    ctx = info.context

    async def run() -> PupilType:
        (pupil_id,) = _ids(("pupilId", "Pupil", input.pupil_id))
        data = service.PupilChanges(
            pupil_id=pupil_id,
            forename=_given(input.forename),
            surname=_given(input.surname),
            date_of_birth=_given(input.date_of_birth),
            gender=_given_enum(input.gender),
            email=_given(input.email),
            upn=_given(input.upn),
            uln=_given(input.uln),
        )
        return PupilType.of(await service.update_pupil(ctx.session, ctx.principal, data, now=ctx.now))

    pupil, errors = await attempt(info, run)
    return PupilPayload(pupil=pupil, errors=errors)


async def deactivate_pupil(info: Info, input: DeactivatePupilInput) -> PupilPayload:
    ctx = info.context

    async def run() -> PupilType:
        (pupil_id,) = _ids(("pupilId", "Pupil", input.pupil_id))
        data = service.PupilLeaving(pupil_id=pupil_id, date_of_leaving=input.date_of_leaving)
        return PupilType.of(await service.deactivate_pupil(ctx.session, ctx.principal, data, now=ctx.now))

    pupil, errors = await attempt(info, run)
    return PupilPayload(pupil=pupil, errors=errors)


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

    async def run() -> GroupType:
        data = service.NewGroup(
            name=input.name,
            kind=input.kind.value,
            year_group=input.year_group,
            subject=input.subject,
            external_id=input.external_id,
        )
        return GroupType.of(await service.create_group(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


async def update_group(info: Info, input: UpdateGroupInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        (group_id,) = _ids(("groupId", "Group", input.group_id))
        data = service.GroupChanges(
            group_id=group_id,
            name=_given(input.name),
            kind=_given_enum(input.kind),
            year_group=_given(input.year_group),
            subject=_given(input.subject),
            external_id=_given(input.external_id),
        )
        return GroupType.of(await service.update_group(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


async def deactivate_group(info: Info, input: DeactivateGroupInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        (group_id,) = _ids(("groupId", "Group", input.group_id))
        data = service.GroupRef(group_id=group_id)
        return GroupType.of(await service.deactivate_group(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


def _group_pupils(input: GroupPupilsInput) -> service.GroupPupils:
    group_id, *pupil_ids = _ids(
        ("groupId", "Group", input.group_id),
        *((f"pupilIds.{i}", "Pupil", pupil_id) for i, pupil_id in enumerate(input.pupil_ids)),
    )
    return service.GroupPupils(group_id=group_id, pupil_ids=pupil_ids)


async def add_group_pupils(info: Info, input: GroupPupilsInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        data = _group_pupils(input)
        return GroupType.of(await service.add_group_pupils(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


async def remove_group_pupils(info: Info, input: GroupPupilsInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        data = _group_pupils(input)
        return GroupType.of(await service.remove_group_pupils(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


def _group_teacher(input: GroupTeacherInput) -> service.GroupTeacherRef:
    group_id, staff_id = _ids(("groupId", "Group", input.group_id), ("staffId", "Staff", input.staff_id))
    return service.GroupTeacherRef(group_id=group_id, staff_id=staff_id)


async def add_group_teacher(info: Info, input: GroupTeacherInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        data = _group_teacher(input)
        return GroupType.of(await service.add_group_teacher(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


async def remove_group_teacher(info: Info, input: GroupTeacherInput) -> GroupPayload:
    ctx = info.context

    async def run() -> GroupType:
        data = _group_teacher(input)
        return GroupType.of(await service.remove_group_teacher(ctx.session, ctx.principal, data, now=ctx.now))

    group, errors = await attempt(info, run)
    return GroupPayload(group=group, errors=errors)


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

    async def run() -> ContactType:
        data = service.NewContact(
            forename=input.forename,
            surname=input.surname,
            title=input.title,
            email=input.email,
            phone=input.phone,
        )
        return ContactType.of(await service.create_contact(ctx.session, ctx.principal, data, now=ctx.now))

    contact, errors = await attempt(info, run)
    return ContactPayload(contact=contact, errors=errors)


async def link_contact(info: Info, input: LinkContactInput) -> ContactLinkPayload:
    ctx = info.context

    async def run() -> tuple[PupilType, ContactType]:
        contact_id, pupil_id = _ids(
            ("contactId", "Contact", input.contact_id), ("pupilId", "Pupil", input.pupil_id)
        )
        data = service.ContactLink(
            contact_id=contact_id, pupil_id=pupil_id, relationship=input.relationship.value
        )
        pupil, contact = await service.link_contact(ctx.session, ctx.principal, data, now=ctx.now)
        return PupilType.of(pupil), ContactType.of(contact)

    linked, errors = await attempt(info, run)
    if linked is None:
        return ContactLinkPayload(errors=errors)
    return ContactLinkPayload(pupil=linked[0], contact=linked[1])


async def unlink_contact(info: Info, input: UnlinkContactInput) -> ContactLinkPayload:
    ctx = info.context

    async def run() -> tuple[PupilType, ContactType]:
        contact_id, pupil_id = _ids(
            ("contactId", "Contact", input.contact_id), ("pupilId", "Pupil", input.pupil_id)
        )
        data = service.ContactUnlink(contact_id=contact_id, pupil_id=pupil_id)
        pupil, contact = await service.unlink_contact(ctx.session, ctx.principal, data, now=ctx.now)
        return PupilType.of(pupil), ContactType.of(contact)

    unlinked, errors = await attempt(info, run)
    if unlinked is None:
        return ContactLinkPayload(errors=errors)
    return ContactLinkPayload(pupil=unlinked[0], contact=unlinked[1])


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

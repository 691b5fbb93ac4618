"""School-admin mutations on groups and their memberships: pupils and teachers."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.arguments import WantedId, given, given_enum
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.people.types import GroupKind, GroupType
from models import Group
from people import service


@strawberry.type
class GroupPayload:
    group: GroupType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _group_payload(row: Group) -> GroupPayload:
    return GroupPayload(group=GroupType.of(row))


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
            name=given(input.name),
            kind=given_enum(input.kind),
            year_group=given(input.year_group),
            subject=given(input.subject),
            external_id=given(input.external_id),
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


@strawberry.type
class GroupMutation:
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

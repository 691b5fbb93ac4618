"""School-admin mutations on pupils: create, change, leave (LL-S1, LL 11.1)."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.arguments import given, given_enum
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.people.types import Gender, PupilType
from models import Pupil
from people import service


@strawberry.type
class PupilPayload:
    pupil: PupilType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _pupil_payload(row: Pupil) -> PupilPayload:
    return PupilPayload(pupil=PupilType.of(row))


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
            forename=given(input.forename),
            surname=given(input.surname),
            date_of_birth=given(input.date_of_birth),
            gender=given_enum(input.gender),
            email=given(input.email),
            upn=given(input.upn),
            uln=given(input.uln),
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


@strawberry.type
class PupilMutation:
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

"""School-admin mutations on contacts (parents, guardians, carers) and their links to pupils."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.arguments import WantedId
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.people.types import ContactType, PupilType, Relationship
from models import Contact, Pupil
from people import service


@strawberry.type
class ContactPayload:
    contact: ContactType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactLinkPayload:
    pupil: PupilType | None = None
    contact: ContactType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


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
class ContactMutation:
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

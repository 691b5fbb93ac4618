"""Consent mutations (LL 6.3.2): a parent gives or withdraws consent for their child; a school admin records
a parent's paper consent, or a withdrawal made to the school."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.consent.types import ConsentType
from models.privacy import PupilConsent
from privacy import consent, consent_at_13


@strawberry.input
class GiveConsentInput:
    pupil_id: strawberry.ID


@strawberry.input
class RecordPaperConsentInput:
    pupil_id: strawberry.ID
    contact_id: strawberry.ID = strawberry.field(description="The parent or carer who signed the form.")
    evidence_reference: str = strawberry.field(description="The form: its reference or where it is filed.")
    given_on: datetime.date = strawberry.field(description="The date on the form.")


@strawberry.input
class WithdrawConsentInput:
    pupil_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class ConsentPayload:
    consent: ConsentType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _done(row: PupilConsent) -> ConsentPayload:
    return ConsentPayload(consent=ConsentType.of(row))


async def give_consent(info: Info, input: GiveConsentInput) -> ConsentPayload:
    ctx = info.context
    return await mutate(
        info,
        ConsentPayload,
        lambda pupil_id: consent.give(ctx.session, ctx.principal, pupil_id, now=ctx.now),
        [("pupilId", "Pupil", input.pupil_id)],
        done=_done,
    )


async def record_paper_consent(info: Info, input: RecordPaperConsentInput) -> ConsentPayload:
    ctx = info.context
    return await mutate(
        info,
        ConsentPayload,
        lambda pupil_id, contact_id: consent.record_paper(
            ctx.session,
            ctx.principal,
            consent.PaperConsent(pupil_id, contact_id, input.evidence_reference, input.given_on),
            now=ctx.now,
        ),
        [("pupilId", "Pupil", input.pupil_id), ("contactId", "Contact", input.contact_id)],
        done=_done,
    )


async def withdraw_consent(info: Info, input: WithdrawConsentInput) -> ConsentPayload:
    ctx = info.context
    return await mutate(
        info,
        ConsentPayload,
        lambda pupil_id: consent.withdraw(
            ctx.session, ctx.principal, pupil_id, reason=input.reason, now=ctx.now
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=_done,
    )


@strawberry.input
class ParentStaysResponsibleInput:
    pupil_id: strawberry.ID
    reason: str = strawberry.field(description="Why a parent necessarily stays responsible (LL 6.3.3).")


@strawberry.type
class ParentStaysResponsiblePayload:
    recorded: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OwnConsentPayload:
    given_on: datetime.date | None = strawberry.field(
        default=None, description="Recorded: from the next request on, everything works again."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def give_own_consent(info: Info) -> OwnConsentPayload:
    ctx = info.context
    return await mutate(
        info,
        OwnConsentPayload,
        lambda: consent_at_13.give_own(ctx.session, ctx.principal, now=ctx.now),
        done=lambda row: OwnConsentPayload(given_on=row.given_on),
    )


async def record_parent_stays_responsible(
    info: Info, input: ParentStaysResponsibleInput
) -> ParentStaysResponsiblePayload:
    ctx = info.context
    return await mutate(
        info,
        ParentStaysResponsiblePayload,
        lambda pupil_id: consent_at_13.parent_stays_responsible(
            ctx.session, ctx.principal, pupil_id, reason=input.reason, now=ctx.now
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=lambda _: ParentStaysResponsiblePayload(recorded=True),
    )


@strawberry.type
class ConsentMutation:
    give_consent: ConsentPayload = guarded_mutation(
        policies.PARENT, resolver=give_consent, description="Consent, as a parent, for your child (LL 6.3.2)."
    )
    record_paper_consent: ConsentPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=record_paper_consent,
        description="Record a parent's consent given on a paper form, naming the form (LL 6.3.2).",
    )
    withdraw_consent: ConsentPayload = guarded_mutation(
        policies.CONSENT_MANAGER,
        resolver=withdraw_consent,
        description="Withdraw the parent's consent: a parent for their own child, a school admin for a "
        "withdrawal made to the school. A child under 13 then cannot sign in; their sessions end at once.",
    )
    give_own_consent: OwnConsentPayload = guarded_mutation(
        policies.PUPIL,
        resolver=give_own_consent,
        password_change_exempt=True,
        description="A pupil of 13 or over consents for themself (LL 6.3.3); until then nothing else works.",
    )
    record_parent_stays_responsible: ParentStaysResponsiblePayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=record_parent_stays_responsible,
        description="Record that a parent necessarily stays responsible for a pupil of 13 or over: the pupil "
        "is not asked for their own consent, and the parent's stays in force (LL 6.3.3).",
    )

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
from privacy import consent


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

"""Accepting documents (LL 21, LL 3.1, LRS 1.1) and marking notices read (LL 6.2)."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from common.errors import Problems
from graph.core.arguments import lookup_id
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.agreements.types import AcceptanceType
from privacy import agreements


@strawberry.input
class AcceptDocumentsInput:
    document_ids: list[strawberry.ID] = strawberry.field(
        description="Versions to accept (current or upcoming)."
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None,
        description="A pupil under 13: their parent accepts for them, or a school admin from the parent's form.",
    )
    evidence_reference: str | None = strawberry.field(
        default=None, description="A school admin accepting from a parent's paper form: the form's reference."
    )


@strawberry.type
class AcceptDocumentsPayload:
    acceptances: list[AcceptanceType] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


def _document_ids(values: list[strawberry.ID]) -> list[uuid.UUID]:
    problems = Problems()
    ids = []
    for index, value in enumerate(values[:20]):
        decoded = lookup_id(value, "PolicyDocument")
        if decoded is None:
            problems.add(f"documentIds.{index}", "INVALID_ID", "Not the id of a document.")
        else:
            ids.append(decoded)
    if len(values) > 20:
        problems.add("documentIds", "TOO_MANY", "At most 20 documents at once.")
    problems.raise_if_any()
    return ids


async def accept_documents(info: Info, input: AcceptDocumentsInput) -> AcceptDocumentsPayload:
    ctx = info.context

    async def accept(on_behalf_of: uuid.UUID | None = None) -> list[AcceptanceType]:
        rows = await agreements.accept(
            ctx.session,
            ctx.principal,
            _document_ids(input.document_ids),
            on_behalf_of=on_behalf_of,
            evidence_reference=input.evidence_reference,
            now=ctx.now,
        )
        return [AcceptanceType.of(r) for r in rows]

    ids = [] if input.on_behalf_of is None else [("onBehalfOf", "Pupil", input.on_behalf_of)]
    return await mutate(
        info,
        AcceptDocumentsPayload,
        accept,
        ids,
        done=lambda rows: AcceptDocumentsPayload(acceptances=rows),
    )


@strawberry.input
class MarkNoticeReadInput:
    document_id: strawberry.ID


@strawberry.type
class MarkNoticeReadPayload:
    read_at: datetime.datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def mark_notice_read(info: Info, input: MarkNoticeReadInput) -> MarkNoticeReadPayload:
    ctx = info.context

    async def mark(document_id: uuid.UUID) -> datetime.datetime:
        return await agreements.mark_read(ctx.session, ctx.principal, document_id, now=ctx.now)

    return await mutate(
        info,
        MarkNoticeReadPayload,
        mark,
        [("documentId", "PolicyDocument", input.document_id)],
        done=lambda read_at: MarkNoticeReadPayload(read_at=read_at),
    )


@strawberry.type
class AgreementsMutation:
    accept_documents: AcceptDocumentsPayload = guarded_mutation(
        policies.SIGNED_IN,
        resolver=accept_documents,
        password_change_exempt=True,
        description="Accept documents: the licence terms for the school (its Super-Users), the user policies "
        "and the LRS agreement for yourself, or for a pupil under 13 as their parent or from the parent's "
        "paper form (LL 21, LL 3.1, LRS 1.1). Usable before anything else works.",
    )
    mark_notice_read: MarkNoticeReadPayload = guarded_mutation(
        policies.SIGNED_IN, resolver=mark_notice_read, password_change_exempt=True
    )

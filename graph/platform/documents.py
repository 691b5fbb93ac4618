"""Publishing the platform's documents (LL 21, LRS 3, LL 3.1, LL 6.2, LRS 1.1): operators only."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.limits import list_size
from graph.permissions import guarded, guarded_mutation
from graph.platform.context import AdminContext, operator_of
from graph.platform.refs import SchoolRef
from graph.school.agreements.types import DocumentKind, PolicyDocumentType
from subscriptions import documents


@strawberry.input
class PublishDocumentInput:
    kind: DocumentKind
    version: str = strawberry.field(description="Unique per kind, e.g. 2027-1.")
    title: str
    body: str = strawberry.field(description="The whole text, as users read and accept it.")
    summary_of_changes: str = strawberry.field(description="What changed since the previous version.")
    effective_on: datetime.date = strawberry.field(
        description="The platform's (UTC) date from whose start it binds: today or later, after the latest "
        "version of its kind. Users see it at once and may accept it early."
    )


@strawberry.type
class PublishDocumentPayload:
    document: PolicyDocumentType | None = None
    schools_told: int | None = strawberry.field(
        default=None, description="Schools whose Super-Users are e-mailed (through the outbox)."
    )
    schools_without_super_user: list[SchoolRef] = strawberry.field(
        default_factory=list,
        description="Schools with no Super-User: no one there was e-mailed. Nominate one (setSuperUsers); "
        "their users still see the document in their notices.",
        metadata=list_size(1000),
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def publish_document(info: Info, input: PublishDocumentInput) -> PublishDocumentPayload:
    ctx: AdminContext = info.context
    draft = documents.Draft(
        kind=input.kind.value,
        version=input.version.strip(),
        title=input.title,
        body=input.body,
        summary_of_changes=input.summary_of_changes,
        effective_on=input.effective_on,
    )

    def done(published: documents.Published) -> PublishDocumentPayload:
        return PublishDocumentPayload(
            document=PolicyDocumentType.of(published.document),
            schools_told=published.schools_told,
            schools_without_super_user=[SchoolRef.of(s) for s in published.schools_without_super_user],
        )

    return await mutate(
        info,
        PublishDocumentPayload,
        lambda: documents.publish(ctx.session, draft, by=operator_of(info).account_id, now=ctx.now),
        done=done,
    )


async def _documents(info: Info, kind: DocumentKind | None = None) -> list[PolicyDocumentType]:
    rows = await documents.published(info.context.session, None if kind is None else kind.value)
    return [PolicyDocumentType.of(r) for r in rows]


@strawberry.type
class DocumentsQuery:
    documents: list[PolicyDocumentType] | None = guarded(
        OPERATOR,
        resolver=_documents,
        description=f"Every published version, by kind, newest first (at most {documents.LISTED}).",
        metadata=list_size(documents.LISTED),
    )


@strawberry.type
class DocumentsMutation:
    publish_document: PublishDocumentPayload = guarded_mutation(
        OPERATOR,
        resolver=publish_document,
        description="Publish a version of the licence terms, privacy notice, acceptable use policy or LRS "
        "user agreement (LL 21, LRS 3, LL 3.1): Super-Users are e-mailed, every user sees it in their notices.",
    )

"""The platform's documents as a school's users see them (LL 21, LL 3.1, LL 6.2, LRS 1.1): the notices inbox,
acceptances, and the school admins' acceptance report."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from auth import policies
from graph.core.relay import Node, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, personal_data, public
from graph.school.people.types import Role
from models import Account
from models.agreements import DocumentAcceptance, PolicyDocument
from privacy.agreements import LISTED, AcceptanceReport, DocumentView, Outstanding


@strawberry.enum
class DocumentKind(Enum):
    LICENCE_TERMS = "LICENCE_TERMS"
    PRIVACY_NOTICE = "PRIVACY_NOTICE"
    ACCEPTABLE_USE = "ACCEPTABLE_USE"
    LRS_AGREEMENT = "LRS_AGREEMENT"


@strawberry.type(name="PolicyDocument", description="One published version of a document of the platform.")
class PolicyDocumentType(Node):
    """Published text: the same for every reader, who may read it is decided by the field that lists it."""

    kind: DocumentKind = public("the document's kind is part of published text")
    version: str = public("published text")
    title: str = public("published text")
    body: str = public("published text")
    summary_of_changes: str = public("published text")
    effective_from: datetime.datetime = public("published text")
    published_at: datetime.datetime = public("published text")

    @classmethod
    def of(cls, row: PolicyDocument) -> PolicyDocumentType:
        return cls(
            id=to_global_id("PolicyDocument", row.id),
            kind=DocumentKind(row.kind),
            version=row.version,
            title=row.title,
            body=row.body,
            summary_of_changes=row.summary_of_changes,
            effective_from=row.effective_from,
            published_at=row.published_at,
        )


@strawberry.type(name="Notice", description="A document in your inbox: read or not, accepted or not.")
class NoticeType:
    document: PolicyDocumentType = public("the caller's own inbox, built for them")
    in_force: bool = public(
        "the caller's own inbox", description="False: upcoming, binding from effectiveFrom."
    )
    accepted_at: datetime.datetime | None = public(
        "the caller's own inbox",
        description="When you accepted it (the licence terms: when the school did; a child's: their parent).",
    )
    read_at: datetime.datetime | None = public("the caller's own inbox")

    @classmethod
    def of(cls, view: DocumentView) -> NoticeType:
        return cls(
            document=PolicyDocumentType.of(view.document),
            in_force=view.current,
            accepted_at=view.accepted_at,
            read_at=view.read_at,
        )


@strawberry.type(name="Notices", description="Your inbox of the platform's documents (LL 6.2).")
class NoticesType:
    unread: int = public("a count of the caller's own inbox")
    items: list[NoticeType] = public(
        "the caller's own inbox",
        description="Current and upcoming versions, by kind.",
        metadata=list_size(20),
    )


@strawberry.type(name="Acceptance", description="An acceptance recorded for a document.")
class AcceptanceType:
    document_id: strawberry.ID = public("an opaque id")
    accepted_at: datetime.datetime = public("the time of the caller's own acceptance")
    on_behalf_of: strawberry.ID | None = public("the pupil the caller named")

    @classmethod
    def of(cls, row: DocumentAcceptance) -> AcceptanceType:
        child = row.on_behalf_of_pupil_id
        return cls(
            document_id=to_global_id("PolicyDocument", row.document_id),
            accepted_at=row.accepted_at,
            on_behalf_of=None if child is None else to_global_id("Pupil", child),
        )


@personal_data
@strawberry.type(name="AccountNotAccepted", description="An active account that has not accepted a document.")
class AccountNotAcceptedType:
    row: strawberry.Private[Account]
    username: str | None = guarded(policies.SCHOOL_ADMIN)
    role: Role | None = guarded(policies.SCHOOL_ADMIN)

    @classmethod
    def of(cls, row: Account) -> AccountNotAcceptedType:
        return cls(row=row, username=row.username, role=Role(row.role))


@strawberry.type(name="OutstandingAcceptance")
class OutstandingType:
    document: PolicyDocumentType = public("published text")
    count: int = public("a count inside a report only school admins reach")
    accounts: list[AccountNotAcceptedType] = public(
        "a list inside a report only school admins reach; each account's fields are guarded",
        description=f"At most {LISTED}, by role and username (a pupil under 13: their parent's to accept).",
        metadata=list_size(LISTED),
    )

    @classmethod
    def of(cls, row: Outstanding) -> OutstandingType:
        return cls(
            document=PolicyDocumentType.of(row.document),
            count=row.count,
            accounts=[AccountNotAcceptedType.of(a) for a in row.accounts],
        )


@strawberry.type(name="AcceptanceReport", description="Who has not accepted the documents in force.")
class AcceptanceReportType:
    licence_terms: PolicyDocumentType | None = public("published text")
    licence_accepted_at: datetime.datetime | None = public(
        "inside a report only school admins reach", description="None: the school has not accepted them."
    )
    outstanding: list[OutstandingType] = public(
        "a list inside a report only school admins reach", metadata=list_size(10)
    )

    @classmethod
    def of(cls, report: AcceptanceReport) -> AcceptanceReportType:
        licence = report.licence_terms
        return cls(
            licence_terms=None if licence is None else PolicyDocumentType.of(licence),
            licence_accepted_at=None
            if report.licence_accepted is None
            else report.licence_accepted.accepted_at,
            outstanding=[OutstandingType.of(o) for o in report.outstanding],
        )

"""Rights records as the school schema shows them: to school admins only."""

from __future__ import annotations

import datetime
import uuid

import strawberry

from auth import policies
from common.errors import DomainError
from graph.core.relay import Node, from_global_id, to_global_id
from graph.permissions import guarded, personal_data, row_field
from models.privacy import ErasureRecord, ProcessingRestriction, SubjectAccessRequest
from privacy.leavers import Leaver
from privacy.registry import Subject
from privacy.retention import Period
from privacy.subjects import GLOBAL_TYPES
from subscriptions.handover import Standing


def person_of(global_id: str, field: str = "personId") -> tuple[Subject, uuid.UUID]:
    """The kind and id of a pupil, member of staff or contact named by a global id; NOT_FOUND otherwise."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] not in GLOBAL_TYPES:
        raise DomainError.one(field, "NOT_FOUND", "Name a pupil, member of staff or contact of this school.")
    return GLOBAL_TYPES[decoded[0]], decoded[1]


@strawberry.type(name="RowCount")
class RowCount:
    table: str
    rows: int


def _reference(root: ErasureType) -> str:
    return str(root.row.reference)


def _row_counts(root: ErasureType) -> list[RowCount]:
    return [RowCount(table=t, rows=n) for t, n in sorted(root.row.row_counts.items())]


@personal_data
@strawberry.type(
    name="Erasure",
    description="A person erased (LL 5.1.6): under a pseudonymous reference, with no id, name or number of "
    "theirs.",
)
class ErasureType(Node):
    row: strawberry.Private[ErasureRecord]
    subject_type: str | None = row_field(policies.SCHOOL_ADMIN, "subject_type")
    reference: str | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_reference, description="What replaces the person in records kept."
    )
    reason: str | None = row_field(policies.SCHOOL_ADMIN, "reason")
    erased_at: datetime.datetime | None = row_field(policies.SCHOOL_ADMIN, "erased_at")
    total_rows: int | None = row_field(policies.SCHOOL_ADMIN, "total_rows")
    row_counts: list[RowCount] | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_row_counts, description="Rows deleted or changed, per table."
    )

    @classmethod
    def of(cls, row: ErasureRecord) -> ErasureType:
        return cls(id=to_global_id("Erasure", row.id), row=row)


def _subject_id(root: SubjectAccessRequestType) -> strawberry.ID:
    kind = {v: k for k, v in GLOBAL_TYPES.items()}[Subject(root.row.subject_type)]
    return to_global_id(kind, root.row.subject_id)


def _overdue(root: SubjectAccessRequestType) -> bool:
    return (
        root.overdue_on is not None
        and root.row.status in ("OPEN", "READY")
        and root.row.due_on < root.overdue_on
    )


@personal_data
@strawberry.type(
    name="SubjectAccessRequest",
    description="A subject access request (LL 5.1.1): due a calendar month after it was opened.",
)
class SubjectAccessRequestType(Node):
    row: strawberry.Private[SubjectAccessRequest]
    overdue_on: strawberry.Private[datetime.date | None]
    subject_type: str | None = row_field(policies.SCHOOL_ADMIN, "subject_type")
    subject_id: strawberry.ID | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_subject_id, description="The pupil, member of staff or contact."
    )
    channel: str | None = row_field(
        policies.SCHOOL_ADMIN, "channel", description="ADMIN, or SELF: asked from the person's own account."
    )
    status: str | None = row_field(
        policies.SCHOOL_ADMIN, "status", description="OPEN, READY, RELEASED, PURGED."
    )
    opened_at: datetime.datetime | None = row_field(policies.SCHOOL_ADMIN, "opened_at")
    due_on: datetime.date | None = row_field(policies.SCHOOL_ADMIN, "due_on")
    overdue: bool | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_overdue, description="Past due, not released."
    )
    built_at: datetime.datetime | None = row_field(policies.SCHOOL_ADMIN, "built_at")
    released_at: datetime.datetime | None = row_field(policies.SCHOOL_ADMIN, "released_at")
    expires_at: datetime.datetime | None = row_field(
        policies.SCHOOL_ADMIN, "expires_at", description="The archive is purged then."
    )
    archive_sha256: str | None = row_field(policies.SCHOOL_ADMIN, "archive_sha256")
    downloads: int | None = row_field(policies.SCHOOL_ADMIN, "downloads")

    @classmethod
    def of(cls, row: SubjectAccessRequest, today: datetime.date | None = None) -> SubjectAccessRequestType:
        return cls(id=to_global_id("SubjectAccessRequest", row.id), row=row, overdue_on=today)


def _restricted_person(root: RestrictionType) -> strawberry.ID:
    kind = {v: k for k, v in GLOBAL_TYPES.items()}[Subject(root.row.subject_type)]
    return to_global_id(kind, root.row.subject_id)


@personal_data
@strawberry.type(
    name="ProcessingRestriction",
    description="A restriction of a person's processing (LL-S2 (xiii)) or their objection to statistical use "
    "(LL-A 5.2): in force until lifted.",
)
class RestrictionType(Node):
    row: strawberry.Private[ProcessingRestriction]
    kind: str | None = row_field(policies.CONSENT_MANAGER, "kind", description="RESTRICTION or OBJECTION.")
    person_id: strawberry.ID | None = guarded(policies.CONSENT_MANAGER, resolver=_restricted_person)
    reason: str | None = row_field(policies.CONSENT_MANAGER, "reason")
    started_at: datetime.datetime | None = row_field(policies.CONSENT_MANAGER, "started_at")
    lifted_at: datetime.datetime | None = row_field(policies.CONSENT_MANAGER, "lifted_at")

    @classmethod
    def of(cls, row: ProcessingRestriction) -> RestrictionType:
        return cls(id=to_global_id("ProcessingRestriction", row.id), row=row)


@strawberry.type(
    name="TerminationHandover",
    description="A Super-User's standing choice for the school's data at termination (LL 5.1.3, LL-A 9.3).",
)
class TerminationHandoverType:
    choice: str = strawberry.field(description="RETURN or DELETE.")
    chosen_at: datetime.datetime
    credential_issued_at: datetime.datetime | None = strawberry.field(
        description="On RETURN: when the Super-User who chose was shown the handover credential (it is never "
        "shown again; choosing RETURN again issues a new one)."
    )
    credential_honoured: bool = strawberry.field(
        description="Whether a termination now would honour that credential: its holder is still a Super-User "
        "of the school with an active account. If not, a Super-User chooses RETURN again."
    )

    @classmethod
    def of(cls, standing: Standing) -> TerminationHandoverType:
        row = standing.row
        return cls(
            choice=row.choice,
            chosen_at=row.chosen_at,
            credential_issued_at=row.credential_issued_at,
            credential_honoured=standing.credential_honoured,
        )


@strawberry.type(
    name="RetentionDue", description="Rows due for purging under one retention rule (LL-S2 (v))."
)
class RetentionDueType:
    table: str
    rule: str
    rows: int


@strawberry.type(
    name="RetentionPeriod",
    description="A retention rule a school may tighten (LL-S2 (v)): the platform's default, the floor, and "
    "what the school set.",
)
class RetentionPeriodType:
    rule: str = strawberry.field(description="A table of the data registry, or leavers.")
    description: str
    default_days: int | None = strawberry.field(description="The platform's period; null: kept.")
    minimum_days: int = strawberry.field(description="The shortest period a school may set.")
    school_days: int | None = strawberry.field(description="The school's own period; null: the default.")
    days: int | None = strawberry.field(description="The period applied to this school; null: kept.")
    set_at: datetime.datetime | None = None

    @classmethod
    def of(cls, period: Period) -> RetentionPeriodType:
        return cls(
            rule=period.rule,
            description=period.description,
            default_days=period.default_days,
            minimum_days=period.minimum_days,
            school_days=period.school_days,
            days=period.days,
            set_at=period.set_at,
        )


def _leaver_id(root: LeaverType) -> strawberry.ID:
    return to_global_id("Pupil" if root.row.kind == "PUPIL" else "Staff", root.row.id)


def _leaver_name(root: LeaverType) -> str:
    return f"{root.row.forename} {root.row.surname}"


def _leaver_date(root: LeaverType) -> datetime.date:
    return root.row.date_of_leaving


@personal_data
@strawberry.type(name="OverdueLeaver", description="Still active 7 days past their leaving date (LL 11.1).")
class LeaverType:
    row: strawberry.Private[Leaver]
    person_id: strawberry.ID | None = guarded(policies.SCHOOL_ADMIN, resolver=_leaver_id)
    name: str | None = guarded(policies.SCHOOL_ADMIN, resolver=_leaver_name)
    date_of_leaving: datetime.date | None = guarded(policies.SCHOOL_ADMIN, resolver=_leaver_date)

"""Rights records as the school schema shows them: to school admins only."""

from __future__ import annotations

import datetime
import uuid

import strawberry

from auth import policies
from common.errors import DomainError
from graph.core.relay import Node, from_global_id, to_global_id
from graph.permissions import guarded, personal_data, row_field
from models.privacy import ErasureRecord
from privacy.registry import Subject
from privacy.subjects import GLOBAL_TYPES


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

"""Consent records as the school schema shows them (LL 6.3.2): to school admins and the pupil's parents."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from auth import policies
from graph.core.relay import Node, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, personal_data, row_field
from graph.school.people.types import PupilType
from models.privacy import PupilConsent
from privacy.consent_queries import ConsentRequest
from privacy.consent_report import LISTED, ConsentCounts, ConsentReport


@strawberry.enum
class ConsentGiver(Enum):
    PARENT = "PARENT"
    PUPIL = "PUPIL"


@strawberry.enum
class ConsentMethod(Enum):
    DIGITAL = "DIGITAL"
    PAPER = "PAPER"


def _contact_id(root: ConsentType) -> strawberry.ID | None:
    contact = root.row.contact_id
    return None if contact is None else to_global_id("Contact", contact)


def _recorded_by(root: ConsentType) -> strawberry.ID:
    return to_global_id("Account", root.row.account_id)


def _purposes(root: ConsentType) -> list[str]:
    return list(root.row.purposes)


@personal_data
@strawberry.type(name="Consent", description="One consent for a pupil, from its giving to its withdrawal.")
class ConsentType(Node):
    row: strawberry.Private[PupilConsent]
    given_by: ConsentGiver | None = row_field(policies.CONSENT_RECORD, "given_by")
    method: ConsentMethod | None = row_field(policies.CONSENT_RECORD, "method")
    contact_id: strawberry.ID | None = guarded(
        policies.CONSENT_RECORD, resolver=_contact_id, description="The parent or carer who consented."
    )
    recorded_by: strawberry.ID | None = guarded(
        policies.CONSENT_RECORD, resolver=_recorded_by, description="The account that recorded it."
    )
    evidence_reference: str | None = row_field(
        policies.PUPIL_ADMINISTRATION, "evidence_reference", description="The paper form (school admins)."
    )
    notice_version: str | None = row_field(
        policies.CONSENT_RECORD, "notice_version", description="The privacy notice consented to."
    )
    purposes: list[str] | None = guarded(policies.CONSENT_RECORD, resolver=_purposes, metadata=list_size(10))
    given_on: datetime.date | None = row_field(policies.CONSENT_RECORD, "given_on")
    recorded_at: datetime.datetime | None = row_field(policies.CONSENT_RECORD, "recorded_at")
    withdrawn_at: datetime.datetime | None = row_field(policies.CONSENT_RECORD, "withdrawn_at")
    withdrawal_reason: str | None = row_field(policies.CONSENT_RECORD, "withdrawal_reason")

    @classmethod
    def of(cls, row: PupilConsent) -> ConsentType:
        return cls(row=row, id=to_global_id("Consent", row.id))


def _pupil(root: ConsentRequestType) -> PupilType:
    return PupilType.of(root.row.pupil)


def _required(root: ConsentRequestType) -> bool:
    return root.row.required


def _current(root: ConsentRequestType) -> ConsentType | None:
    return None if root.row.current is None else ConsentType.of(root.row.current)


@personal_data
@strawberry.type(name="ConsentRequest", description="A parent's child, and the consent it needs.")
class ConsentRequestType:
    row: strawberry.Private[ConsentRequest]
    pupil: PupilType | None = guarded(policies.CONSENT_RECORD, resolver=_pupil)
    parental_consent_required: bool | None = guarded(
        policies.CONSENT_RECORD,
        resolver=_required,
        description="The child is under 13 today (or their date of birth is not recorded): without a current "
        "consent they cannot use schoolgraph (LL 6.3.2).",
    )
    current: ConsentType | None = guarded(
        policies.CONSENT_RECORD,
        resolver=_current,
        description="The parent's consent now in force, if any.",
    )


@strawberry.type(name="ConsentCounts", description="Exact counts of one school's active pupils; no names.")
class ConsentCountsType:
    without_consent: int = strawberry.field(
        description="Under 13 (or no date of birth recorded) without a current parent's consent."
    )
    turning_13: int = strawberry.field(description="Turning 13 in the next 30 days.")
    own_consent_missing: int = strawberry.field(description="13 or over without a consent of their own.")
    withdrawals: int = strawberry.field(description="Consents withdrawn in the last 30 days.")

    @classmethod
    def of(cls, row: ConsentCounts) -> ConsentCountsType:
        return cls(
            without_consent=row.without_consent,
            turning_13=row.turning_13,
            own_consent_missing=row.own_consent_missing,
            withdrawals=row.withdrawals,
        )


@strawberry.type(
    name="ConsentReport",
    description=f"A school's consent report (LL 6.3.2, LL 6.3.3): exact counts, and up to {LISTED} of each "
    "category by surname (withdrawals newest first). Pupils' fields keep their own policies.",
)
class ConsentReportType:
    counts: ConsentCountsType
    without_consent: list[PupilType] = strawberry.field(metadata=list_size(LISTED))
    turning_13: list[PupilType] = strawberry.field(metadata=list_size(LISTED))
    own_consent_missing: list[PupilType] = strawberry.field(metadata=list_size(LISTED))
    withdrawals: list[ConsentType] = strawberry.field(metadata=list_size(LISTED))

    @classmethod
    def of(cls, report: ConsentReport) -> ConsentReportType:
        return cls(
            counts=ConsentCountsType.of(report.counts),
            without_consent=[PupilType.of(p) for p in report.without_consent],
            turning_13=[PupilType.of(p) for p in report.turning_13],
            own_consent_missing=[PupilType.of(p) for p in report.own_consent_missing],
            withdrawals=[ConsentType.of(c) for c in report.withdrawals],
        )

"""Roster types: imports and their problems, the school's OneRoster org, the extended-data opt-in and
the data it holds, and activation codes. Every personal-data type declares a policy on each field.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.relay import Connection, Node, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.people.types import AccountType, PupilType
from models.roster import ExtendedDataOptIn, PupilExtendedData, RosterImport
from roster import activation
from roster.problems import RosterProblem


@strawberry.enum
class ImportMode(Enum):
    AUTO = "auto"
    BULK = "bulk"
    DELTA = "delta"


@strawberry.enum
class ImportOutcome(Enum):
    COMMITTED = "COMMITTED"
    DRY_RUN = "DRY_RUN"
    REFUSED = "REFUSED"


@strawberry.enum
class ProblemSeverity(Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@strawberry.type(description="What an import did (or, dry run, would do) to one kind of record.")
class RosterCounts:
    entity: str = strawberry.field(
        description="terms, groups, staff, pupils, contacts, memberships, teaching, contactLinks, groupTerms, "
        "extendedData or accounts."
    )
    create: int
    update: int
    deactivate: int = strawberry.field(description="Deactivated records; for links, links removed.")
    unchanged: int


@strawberry.type
class ProblemCount:
    code: str
    count: int


@personal_data
@strawberry.type(
    name="RosterProblem",
    description="One error or warning of an import, where it is: file, row (the header is row 1), column.",
)
class RosterProblemType:
    row: strawberry.Private[RosterProblem]
    severity: ProblemSeverity | None = guarded(policies.SCHOOL_ADMIN)
    code: str | None = guarded(policies.SCHOOL_ADMIN)
    message: str | None = guarded(policies.SCHOOL_ADMIN, description="May quote the row's values.")
    file: str | None = guarded(policies.SCHOOL_ADMIN)
    line: int | None = guarded(policies.SCHOOL_ADMIN, name="row")
    column: str | None = guarded(policies.SCHOOL_ADMIN)
    expected: str | None = guarded(
        policies.SCHOOL_ADMIN, description="For a misspelled header or file name: the expected name."
    )

    @classmethod
    def of(cls, problem: RosterProblem) -> RosterProblemType:
        return cls(
            row=problem,
            severity=ProblemSeverity(problem.severity),
            code=problem.code,
            message=problem.message,
            file=problem.file,
            line=problem.row,
            column=problem.column,
            expected=problem.expected,
        )


def _counts(data: dict[str, Any]) -> list[RosterCounts]:
    return [RosterCounts(entity=name, **values) for name, values in data.items()]


@personal_data
@strawberry.type(name="RosterImport", description="One import in the school's import history.")
class RosterImportType(Node):
    row: strawberry.Private[RosterImport]
    id: strawberry.ID = public("opaque identifier")
    started_at: datetime.datetime | None = guarded(policies.SCHOOL_ADMIN)
    finished_at: datetime.datetime | None = guarded(policies.SCHOOL_ADMIN)
    imported_by: str | None = guarded(
        policies.SCHOOL_ADMIN, description="The admin's username at the time, or 'command line'."
    )
    file_name: str | None = guarded(policies.SCHOOL_ADMIN)
    sha256: str | None = guarded(policies.SCHOOL_ADMIN)
    size_bytes: float | None = guarded(policies.SCHOOL_ADMIN)
    format: str | None = guarded(
        policies.SCHOOL_ADMIN, description="ONEROSTER_1_1, ONEROSTER_1_2, SCHOOLGRAPH_CSV or UNKNOWN."
    )
    mode: str | None = guarded(policies.SCHOOL_ADMIN, description="BULK, DELTA or MIXED (per file).")
    dry_run: bool | None = guarded(policies.SCHOOL_ADMIN)
    outcome: ImportOutcome | None = guarded(policies.SCHOOL_ADMIN)
    counts: list[RosterCounts] | None = guarded(policies.SCHOOL_ADMIN)
    changes: int | None = guarded(
        policies.SCHOOL_ADMIN, description="Records created, updated or deactivated, links made or removed."
    )
    error_count: int | None = guarded(policies.SCHOOL_ADMIN)
    warning_count: int | None = guarded(policies.SCHOOL_ADMIN)
    problem_codes: list[ProblemCount] | None = guarded(policies.SCHOOL_ADMIN)

    @classmethod
    def of(cls, row: RosterImport) -> RosterImportType:
        return cls(
            row=row,
            id=to_global_id("RosterImport", row.id),
            started_at=row.started_at,
            finished_at=row.finished_at,
            imported_by=row.actor,
            file_name=row.file_name,
            sha256=row.sha256,
            size_bytes=float(row.size_bytes),
            format=row.format,
            mode=row.mode,
            dry_run=row.dry_run,
            outcome=ImportOutcome(row.outcome),
            counts=_counts(row.counts),
            changes=sum(int(v) for c in row.counts.values() for k, v in c.items() if k != "unchanged"),
            error_count=row.error_count,
            warning_count=row.warning_count,
            problem_codes=[ProblemCount(code=k, count=int(v)) for k, v in row.problem_codes.items()],
        )


RosterImportConnection = Connection[RosterImportType]


@strawberry.type(name="RosterSource", description="Which OneRoster org (by sourcedId) is this school.")
class RosterSourceType:
    org_sourced_id: str
    set_at: datetime.datetime


@personal_data
@strawberry.type(name="ExtendedDataSetting", description="The extended-data opt-in (LL-A 3.2).")
class ExtendedDataSettingType:
    row: strawberry.Private[ExtendedDataOptIn]
    enabled: bool | None = guarded(policies.SCHOOL_ADMIN)
    approved_by: str | None = guarded(policies.SCHOOL_ADMIN, description="The name of who approved.")
    approved_at: datetime.datetime | None = guarded(policies.SCHOOL_ADMIN)
    revoked_by: str | None = guarded(policies.SCHOOL_ADMIN, description="The name of who last revoked.")
    revoked_at: datetime.datetime | None = guarded(policies.SCHOOL_ADMIN)

    @classmethod
    def of(cls, row: ExtendedDataOptIn) -> ExtendedDataSettingType:
        return cls(
            row=row,
            enabled=row.enabled,
            approved_by=row.approved_by_name,
            approved_at=row.approved_at,
            revoked_by=row.revoked_by_name,
            revoked_at=row.revoked_at,
        )


async def _extended_pupil(root: ExtendedPupilDataType, info: Info) -> PupilType | None:
    from people import queries

    rows = await queries.pupils_by_ids(info.context.session, info.context.principal, [root.row.pupil_id])
    row = rows.get(root.row.pupil_id)
    return None if row is None else PupilType.of(row)


@personal_data
@strawberry.type(
    name="ExtendedPupilData",
    description="LL-S1 optional pupil data, kept only while the school has opted in (LL-A 3.2).",
)
class ExtendedPupilDataType:
    row: strawberry.Private[PupilExtendedData]
    pupil: PupilType | None = guarded(policies.SCHOOL_ADMIN, resolver=_extended_pupil)
    lea_care: bool | None = guarded(policies.SCHOOL_ADMIN, description="Looked after by the local authority.")
    sen_status: str | None = guarded(
        policies.SCHOOL_ADMIN,
        description="DfE SEN provision: N none, K SEN support, E EHC plan, S statement.",
    )
    pupil_premium: bool | None = guarded(policies.SCHOOL_ADMIN)
    eal: bool | None = guarded(policies.SCHOOL_ADMIN, description="English as an additional language.")

    @classmethod
    def of(cls, row: PupilExtendedData) -> ExtendedPupilDataType:
        return cls(
            row=row,
            lea_care=row.lea_care,
            sen_status=row.sen_status,
            pupil_premium=row.pupil_premium,
            eal=row.eal,
        )


ExtendedPupilDataConnection = Connection[ExtendedPupilDataType]


@personal_data
@strawberry.type(name="ActivationCode", description="A one-time activation code, shown once.")
class ActivationCodeType:
    row: strawberry.Private[activation.IssuedActivation]
    account: AccountType | None = guarded(policies.SCHOOL_ADMIN)
    code: str | None = guarded(policies.SCHOOL_ADMIN, description="Give it to the person; never shown again.")
    expires_at: datetime.datetime | None = guarded(policies.SCHOOL_ADMIN)

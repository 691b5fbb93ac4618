"""Rights mutations (LL-S2 (xii)): erasure by a school admin, with a reason and the person's name typed back."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from enum import Enum

import strawberry
from strawberry.types import Info

from auth import policies
from common.clock import school_today
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.privacy.types import (
    ErasureType,
    RestrictionType,
    RetentionPeriodType,
    SubjectAccessRequestType,
    person_of,
)
from models.privacy import ErasureRecord, ProcessingRestriction, SubjectAccessRequest
from partners import changes
from people.processing import RESTRICTION
from privacy import erasure, retention, subject_access
from privacy import restriction as restrictions
from privacy.exporter import export_keys_of
from subscriptions import handover
from subscriptions.handover import DOWNLOAD_PATH, RELEASE_PATH


@strawberry.input
class ErasePersonInput:
    person_id: strawberry.ID = strawberry.field(description="A pupil, member of staff or contact.")
    reason: str = strawberry.field(description="Why (kept on the erasure record).")
    confirm_name: str = strawberry.field(description="The person's full name, typed back to confirm.")


@strawberry.type
class ErasePersonPayload:
    erasure: ErasureType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def erase_person(info: Info, input: ErasePersonInput) -> ErasePersonPayload:
    ctx = info.context

    async def call() -> ErasureRecord:
        kind, person_id = person_of(input.person_id)
        request = erasure.Erasure(kind, person_id, input.reason, input.confirm_name)
        return await erasure.erase(ctx.session, ctx.principal, request, now=ctx.now)

    return await mutate(
        info, ErasePersonPayload, call, done=lambda row: ErasePersonPayload(erasure=ErasureType.of(row))
    )


@strawberry.input
class OpenSubjectAccessRequestInput:
    person_id: strawberry.ID = strawberry.field(description="A pupil, member of staff or contact.")


@strawberry.input
class ReleaseSubjectAccessExportInput:
    request_id: strawberry.ID


@strawberry.type
class SubjectAccessRequestPayload:
    request: SubjectAccessRequestType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReleaseSubjectAccessExportPayload:
    request: SubjectAccessRequestType | None = None
    password: str | None = strawberry.field(
        default=None, description="The archive's password: shown this once, never stored (LRS 6.8)."
    )
    download_path: str | None = strawberry.field(
        default=None, description="GET it with a school admin's bearer token, until the request's expiresAt."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


def _request_done(info: Info) -> Callable[[SubjectAccessRequest], SubjectAccessRequestPayload]:
    today = school_today(info.context.now)
    return lambda row: SubjectAccessRequestPayload(request=SubjectAccessRequestType.of(row, today))


async def open_subject_access_request(
    info: Info, input: OpenSubjectAccessRequestInput
) -> SubjectAccessRequestPayload:
    ctx = info.context

    async def call() -> SubjectAccessRequest:
        kind, person_id = person_of(input.person_id)
        return await subject_access.open_request(ctx.session, ctx.principal, kind, person_id, now=ctx.now)

    return await mutate(info, SubjectAccessRequestPayload, call, done=_request_done(info))


@strawberry.type
class RequestMyDataPayload:
    due_on: datetime.date | None = strawberry.field(
        default=None, description="The school answers by this date (a calendar month)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def request_my_data(info: Info) -> RequestMyDataPayload:
    ctx = info.context
    return await mutate(
        info,
        RequestMyDataPayload,
        lambda: subject_access.open_own(ctx.session, ctx.principal, now=ctx.now),
        done=lambda row: RequestMyDataPayload(due_on=row.due_on),
    )


async def release_subject_access_export(
    info: Info, input: ReleaseSubjectAccessExportInput
) -> ReleaseSubjectAccessExportPayload:
    ctx = info.context
    today = school_today(ctx.now)
    return await mutate(
        info,
        ReleaseSubjectAccessExportPayload,
        lambda request_id: subject_access.release(
            ctx.session, ctx.principal, request_id, keys=export_keys_of(ctx.auth.settings), now=ctx.now
        ),
        [("requestId", "SubjectAccessRequest", input.request_id)],
        done=lambda released: ReleaseSubjectAccessExportPayload(
            request=SubjectAccessRequestType.of(released.request, today),
            password=released.password,
            download_path=f"/schools/{ctx.tenant.slug}/subject-access/{released.request.id}",
        ),
    )


@strawberry.enum
class RestrictionKind(Enum):
    RESTRICTION = "RESTRICTION"
    OBJECTION = "OBJECTION"


@strawberry.input
class RestrictProcessingInput:
    person_id: strawberry.ID = strawberry.field(description="A pupil, member of staff or contact.")
    kind: RestrictionKind = strawberry.field(
        description="RESTRICTION: read-only, admins only, out of statistics. OBJECTION: out of statistics."
    )
    reason: str


@strawberry.input
class LiftRestrictionInput:
    person_id: strawberry.ID
    kind: RestrictionKind


@strawberry.input
class ObjectForChildInput:
    pupil_id: strawberry.ID
    reason: str


@strawberry.type
class RestrictionPayload:
    restriction: RestrictionType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _restriction_done(row: ProcessingRestriction) -> RestrictionPayload:
    return RestrictionPayload(restriction=RestrictionType.of(row))


async def restrict_processing(info: Info, input: RestrictProcessingInput) -> RestrictionPayload:
    ctx = info.context

    async def call() -> ProcessingRestriction:
        kind, person_id = person_of(input.person_id)
        return await restrictions.start(
            ctx.session,
            ctx.principal,
            kind,
            person_id,
            what=input.kind.value,
            reason=input.reason,
            now=ctx.now,
        )

    return await mutate(info, RestrictionPayload, call, done=_restriction_done)


async def lift_restriction(info: Info, input: LiftRestrictionInput) -> RestrictionPayload:
    ctx = info.context

    async def call() -> ProcessingRestriction:
        kind, person_id = person_of(input.person_id)
        row = await restrictions.lift(
            ctx.session, ctx.principal, kind, person_id, what=input.kind.value, now=ctx.now
        )
        if row.kind == RESTRICTION:
            # The partners' change feed left the person's rows out while the restriction was in force:
            # restamped in the same transaction, they are served again after what a partner has read.
            await changes.restamp_person(ctx.session, ctx.principal.school_id, person_id)
        return row

    return await mutate(info, RestrictionPayload, call, done=_restriction_done)


async def object_for_child(info: Info, input: ObjectForChildInput) -> RestrictionPayload:
    ctx = info.context
    return await mutate(
        info,
        RestrictionPayload,
        lambda pupil_id: restrictions.object_for_child(
            ctx.session, ctx.principal, pupil_id, reason=input.reason, now=ctx.now
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=_restriction_done,
    )


@strawberry.enum
class HandoverChoice(Enum):
    RETURN = "RETURN"
    DELETE = "DELETE"


@strawberry.input
class SetTerminationHandoverInput:
    choice: HandoverChoice


@strawberry.type
class SetTerminationHandoverPayload:
    choice: str | None = None
    handover_credential: str | None = strawberry.field(
        default=None,
        description="On RETURN: the handover credential, shown this once and stored only as its hash (any "
        "earlier one stops working). After the school's termination and destruction, its holder releases the "
        "export (POST releasePath) and downloads it (GET downloadPath) with it as the bearer token, until the "
        "return window closes; nobody of the school can sign in by then. Keep it outside the school's systems.",
    )
    release_path: str | None = None
    download_path: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_termination_handover(
    info: Info, input: SetTerminationHandoverInput
) -> SetTerminationHandoverPayload:
    ctx = info.context
    return await mutate(
        info,
        SetTerminationHandoverPayload,
        lambda: handover.prefer(ctx.session, ctx.principal, input.choice.value, now=ctx.now),
        done=lambda preferred: SetTerminationHandoverPayload(
            choice=preferred.row.choice,
            handover_credential=preferred.credential,
            release_path=None
            if preferred.credential is None
            else f"/schools/{ctx.tenant.slug}{RELEASE_PATH}",
            download_path=None
            if preferred.credential is None
            else f"/schools/{ctx.tenant.slug}{DOWNLOAD_PATH}",
        ),
    )


@strawberry.input
class SetRetentionPeriodInput:
    rule: str = strawberry.field(description="A rule of retentionPeriods (a registry table, or leavers).")
    days: int | None = strawberry.field(
        default=None, description="The school's shorter period in days; null: back to the platform's default."
    )


@strawberry.type
class SetRetentionPeriodPayload:
    period: RetentionPeriodType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def set_retention_period(info: Info, input: SetRetentionPeriodInput) -> SetRetentionPeriodPayload:
    ctx = info.context
    return await mutate(
        info,
        SetRetentionPeriodPayload,
        lambda: retention.set_period(
            ctx.session,
            ctx.principal,
            input.rule,
            input.days,
            leaver_days=ctx.auth.settings.leaver_retention_days,
            now=ctx.now,
        ),
        done=lambda period: SetRetentionPeriodPayload(period=RetentionPeriodType.of(period)),
    )


@strawberry.type
class PrivacyMutation:
    erase_person: ErasePersonPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=erase_person,
        description="Erase a pupil, member of staff or contact (LL 5.1.6): in one transaction every row of "
        "theirs is deleted or anonymised per the data registry, their accounts and sessions end, and the audit "
        "log's personal columns are blanked; their stored files go after the commit. Irreversible.",
    )
    open_subject_access_request: SubjectAccessRequestPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=open_subject_access_request,
        description="Open a subject access request for a person (LL 5.1.1): due in a calendar month; the export "
        "is built in the background.",
    )
    request_my_data: RequestMyDataPayload = guarded_mutation(
        policies.OWN_DATA,
        resolver=request_my_data,
        description="A parent, or a pupil of 13 or over, asks for a copy of their own data (LL-S2 (xii)): the "
        "request goes to the school admins' queue.",
    )
    release_subject_access_export: ReleaseSubjectAccessExportPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=release_subject_access_export,
        description="Release a built export as an AES-256 encrypted zip marked PROTECT (LRS 6.6, LRS 6.8), "
        "downloadable for 7 days; its password is in this payload only.",
    )
    restrict_processing: RestrictionPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=restrict_processing,
        description="Restrict a person's processing (LL-S2 (xiii)): their data becomes read-only (RESTRICTED), "
        "visible to school admins only and left out of statistics and partner feeds; or record their objection "
        "to statistical use (LL-A 5.2): left out of every aggregate.",
    )
    lift_restriction: RestrictionPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=lift_restriction,
        description="End a restriction or objection in force.",
    )
    object_for_child: RestrictionPayload = guarded_mutation(
        policies.PARENT,
        resolver=object_for_child,
        description="A parent objects to the statistical use of their child's data (a child under 13; LL-A 5.2).",
    )
    set_retention_period: SetRetentionPeriodPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=set_retention_period,
        description="Shorten a retention period for this school (LL-S2 (v)), within the platform's limits: "
        "never below the rule's floor nor above the platform's default; null days: back to the default. The "
        "retention jobs step applies it.",
    )
    set_termination_handover: SetTerminationHandoverPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=set_termination_handover,
        description="A Super-User's standing choice for the school's data at termination (LL 5.1.3): RETURN (an "
        "encrypted export for this Super-User, with the handover credential shown once here, and for the "
        "trust's admins, to download) or DELETE (every copy purged with the data).",
    )

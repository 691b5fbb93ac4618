"""Suspending a school on a breach (LL-A 9.1), lifting it, and terminating a school (LL 5.1.3, LL-A 9.3).

What an operator does to a school is recorded in that school's own audit chain.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.platform.context import AdminContext, operator_of
from graph.platform.refs import SchoolRef
from graph.platform.types import DestructionRecordType, SuspensionReason, SuspensionType
from models import School
from models.licensing import DestructionRecord, Suspension
from subscriptions import suspension, termination


@strawberry.input
class SuspendSchoolInput:
    school_id: strawberry.ID
    reason: SuspensionReason
    days: int = strawberry.field(default=30, description="Up to 30 (LL-A 9.1) unless agreedLonger.")
    agreed_longer: bool = False
    agreement: str | None = strawberry.field(
        default=None, description="With agreedLonger: what was agreed, with whom."
    )
    note: str | None = None


@strawberry.type
class SuspensionPayload:
    suspension: SuspensionType | None = None
    school: SchoolRef | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def suspend_school(info: Info, input: SuspendSchoolInput) -> SuspensionPayload:
    ctx: AdminContext = info.context

    async def suspend(school_id: uuid.UUID) -> tuple[Suspension, School]:
        row = await suspension.suspend(
            ctx.session,
            school_id,
            reason=input.reason.value,
            days=input.days,
            agreed_longer=input.agreed_longer,
            agreement=input.agreement,
            note=input.note,
            by=operator_of(info).account_id,
            now=ctx.now,
        )
        return row, await _school(info, school_id)

    def done(suspended: tuple[Suspension, School]) -> SuspensionPayload:
        row, school = suspended
        return SuspensionPayload(suspension=SuspensionType.of(row), school=SchoolRef.of(school))

    return await mutate(
        info, SuspensionPayload, suspend, [("schoolId", "School", input.school_id)], done=done
    )


@strawberry.input
class LiftSuspensionInput:
    school_id: strawberry.ID


async def lift_suspension(info: Info, input: LiftSuspensionInput) -> SuspensionPayload:
    ctx: AdminContext = info.context

    async def lift(school_id: uuid.UUID) -> tuple[Suspension, School]:
        row = await suspension.open_suspension(ctx.session, school_id)
        await suspension.lift(ctx.session, row, by=operator_of(info).account_id, reason="MANUAL", now=ctx.now)
        school = await _school(info, school_id)
        await ctx.session.refresh(school)
        return row, school

    def done(lifted: tuple[Suspension, School]) -> SuspensionPayload:
        row, school = lifted
        return SuspensionPayload(suspension=SuspensionType.of(row), school=SchoolRef.of(school))

    return await mutate(info, SuspensionPayload, lift, [("schoolId", "School", input.school_id)], done=done)


@strawberry.enum
class TerminationReason(Enum):
    END_OF_LICENCE = "END_OF_LICENCE"
    NON_PAYMENT = "NON_PAYMENT"
    AT_LICENSEE_REQUEST = "AT_LICENSEE_REQUEST"
    BREACH = "BREACH"


@strawberry.input
class TerminateSchoolInput:
    school_id: strawberry.ID
    reason: TerminationReason
    confirm_slug: str = strawberry.field(description="The school's slug, typed again: this cannot be undone.")
    destroy_on: datetime.date | None = strawberry.field(
        default=None,
        description="When `schoolgraph jobs run` exports and destroys its data (default today).",
    )


@strawberry.type
class TerminateSchoolPayload:
    school: SchoolRef | None = None
    destruction: DestructionRecordType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def terminate_school(info: Info, input: TerminateSchoolInput) -> TerminateSchoolPayload:
    ctx: AdminContext = info.context

    async def terminate(school_id: uuid.UUID) -> tuple[School, DestructionRecord]:
        record = await termination.terminate(
            ctx.session,
            school_id,
            reason=input.reason.value,
            confirm_slug=input.confirm_slug,
            destroy_on=input.destroy_on or ctx.today,
            by=operator_of(info).account_id,
            today=ctx.today,
            now=ctx.now,
        )
        return await _school(info, school_id), record

    def done(terminated: tuple[School, DestructionRecord]) -> TerminateSchoolPayload:
        school, record = terminated
        return TerminateSchoolPayload(
            school=SchoolRef.of(school), destruction=DestructionRecordType.of(record)
        )

    return await mutate(
        info, TerminateSchoolPayload, terminate, [("schoolId", "School", input.school_id)], done=done
    )


async def _school(info: Info, school_id: uuid.UUID) -> School:
    """The school a mutation just changed (it exists: the service found it)."""
    session: AsyncSession = info.context.session
    school = await session.get(School, school_id)
    assert school is not None
    return school


@strawberry.type
class SuspensionMutation:
    suspend_school: SuspensionPayload = guarded_mutation(
        OPERATOR, resolver=suspend_school, description="LL-A 9.1: every session of the school is revoked."
    )
    lift_suspension: SuspensionPayload = guarded_mutation(OPERATOR, resolver=lift_suspension)
    terminate_school: TerminateSchoolPayload = guarded_mutation(
        OPERATOR,
        resolver=terminate_school,
        description="LL 5.1.3, LL-A 9.3: access ends now; the jobs runner exports then destroys the data.",
    )

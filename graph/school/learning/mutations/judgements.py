"""Judging pupils on rungs: one pupil, or a whole group in one call (all or nothing)."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning.types.progress import JudgementType
from graph.school.learning.types.scale import JudgementLevel
from learning import judgements


@strawberry.input
class RecordJudgementInput:
    pupil_id: strawberry.ID
    rung_id: strawberry.ID
    level: JudgementLevel
    assessed_on: datetime.date | None = strawberry.field(default=None, description="Today when not given.")
    note: str | None = None


@strawberry.type
class JudgementPayload:
    judgement: JudgementType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class GroupJudgementInput:
    pupil_id: strawberry.ID
    level: JudgementLevel
    note: str | None = None


@strawberry.input
class AssessGroupInput:
    group_id: strawberry.ID
    rung_id: strawberry.ID
    entries: list[GroupJudgementInput] = strawberry.field(description="One per pupil; all or nothing.")
    assessed_on: datetime.date | None = strawberry.field(default=None, description="Today when not given.")


@strawberry.type
class AssessGroupPayload:
    judgements: list[JudgementType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def record_judgement(info: Info, input: RecordJudgementInput) -> JudgementPayload:
    ctx = info.context

    def judgement(pupil_id: uuid.UUID, rung_id: uuid.UUID) -> judgements.NewJudgement:
        return judgements.NewJudgement(
            pupil_id=pupil_id,
            rung_id=rung_id,
            level=input.level.value,
            assessed_on=input.assessed_on,
            note=input.note,
        )

    return await mutate(
        info,
        JudgementPayload,
        lambda *ids: judgements.record_judgement(ctx.session, ctx.principal, judgement(*ids), now=ctx.now),
        [("pupilId", "Pupil", input.pupil_id), ("rungId", "Rung", input.rung_id)],
        done=lambda row: JudgementPayload(judgement=JudgementType.of(row)),
    )


async def assess_group(info: Info, input: AssessGroupInput) -> AssessGroupPayload:
    ctx = info.context

    def assessment(
        group_id: uuid.UUID, rung_id: uuid.UUID, *pupil_ids: uuid.UUID
    ) -> judgements.GroupAssessment:
        return judgements.GroupAssessment(
            group_id=group_id,
            rung_id=rung_id,
            assessed_on=input.assessed_on,
            entries=tuple(
                judgements.GroupEntry(pupil_id, e.level.value, e.note)
                for pupil_id, e in zip(pupil_ids, input.entries)
            ),
        )

    return await mutate(
        info,
        AssessGroupPayload,
        lambda *ids: judgements.assess_group(ctx.session, ctx.principal, assessment(*ids), now=ctx.now),
        [
            ("groupId", "Group", input.group_id),
            ("rungId", "Rung", input.rung_id),
            *((f"entries.{i}.pupilId", "Pupil", e.pupil_id) for i, e in enumerate(input.entries)),
        ],
        done=lambda rows: AssessGroupPayload(judgements=[JudgementType.of(r) for r in rows]),
    )


@strawberry.type
class JudgementMutation:
    record_judgement: JudgementPayload = guarded_mutation(
        policies.STAFF,
        resolver=record_judgement,
        description="Judge a pupil you teach on a rung. History is kept; the latest counts.",
    )
    assess_group: AssessGroupPayload = guarded_mutation(
        policies.STAFF,
        resolver=assess_group,
        description="Judge pupils of a group you teach on one rung, all in one call (all or nothing).",
    )

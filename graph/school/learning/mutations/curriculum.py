"""Mutations on the school's ladders and the names of the levels of the scale."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning.types.curriculum import LadderType, LevelLabelType
from graph.school.learning.types.scale import LEVEL_BY_NAME, JudgementLevel
from learning import ladders, scale


@strawberry.input
class RungInput:
    code: str
    statement: str


@strawberry.input
class CreateLadderInput:
    code: str = strawberry.field(description="Unique at the school, e.g. Y4-SCIENCE.")
    subject: str
    title: str
    rungs: list[RungInput] = strawberry.field(description="In teaching order.")
    year_group: int | None = None


@strawberry.input
class ArchiveLadderInput:
    ladder_id: strawberry.ID


@strawberry.type
class LadderPayload:
    ladder: LadderType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class LevelLabelInput:
    level: JudgementLevel
    label: str | None = strawberry.field(default=None, description="Null or blank restores the default.")


@strawberry.input
class SetLevelLabelsInput:
    labels: list[LevelLabelInput]


@strawberry.type
class LevelLabelsPayload:
    level_scale: list[LevelLabelType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _ladder_payload(ladder: ladders.Ladder) -> LadderPayload:
    return LadderPayload(ladder=LadderType.full(ladder))


async def create_ladder(info: Info, input: CreateLadderInput) -> LadderPayload:
    ctx = info.context
    data = ladders.NewLadder(
        code=input.code,
        subject=input.subject,
        title=input.title,
        year_group=input.year_group,
        rungs=tuple(ladders.NewRung(r.code, r.statement) for r in input.rungs),
    )
    return await mutate(
        info,
        LadderPayload,
        lambda: ladders.create_ladder(ctx.session, ctx.principal, data, now=ctx.now),
        done=_ladder_payload,
    )


async def archive_ladder(info: Info, input: ArchiveLadderInput) -> LadderPayload:
    ctx = info.context
    return await mutate(
        info,
        LadderPayload,
        lambda ladder_id: ladders.archive_ladder(ctx.session, ctx.principal, ladder_id, now=ctx.now),
        [("ladderId", "Ladder", input.ladder_id)],
        done=_ladder_payload,
    )


async def set_level_labels(info: Info, input: SetLevelLabelsInput) -> LevelLabelsPayload:
    ctx = info.context
    wanted = [(item.level.value, item.label) for item in input.labels]
    return await mutate(
        info,
        LevelLabelsPayload,
        lambda: scale.set_level_labels(ctx.session, ctx.principal, wanted, now=ctx.now),
        done=lambda labels: LevelLabelsPayload(
            level_scale=[LevelLabelType(level=LEVEL_BY_NAME[k], label=v) for k, v in labels.items()]
        ),
    )


@strawberry.type
class CurriculumMutation:
    create_ladder: LadderPayload = guarded_mutation(
        policies.STAFF,
        resolver=create_ladder,
        description="A school ladder with its rungs (school admins, staff).",
    )
    archive_ladder: LadderPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=archive_ladder,
        description="Hide a school ladder from lists; its judgements are kept.",
    )
    set_level_labels: LevelLabelsPayload = guarded_mutation(
        policies.SCHOOL_ADMIN, resolver=set_level_labels, description="Rename the levels of the scale."
    )

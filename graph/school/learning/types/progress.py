"""Judgements and progress: a pupil's judgements, their progress on a ladder, a class view, a summary.

Every field of a personal-data type declares its policy (``learning/policies.py``, ``auth/policies.py``).
Cells reached only through a guarded list (a pupil's latest judgements, a class's distribution per rung)
are plain: the list field's policy admits the caller before any cell is built, and strawberry skips its
per-field machinery on plain fields, which keeps a class of 30 pupils x 15 rungs cheap.
"""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from graph.core.relay import Connection, Node, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.learning.types.curriculum import LadderType, RungType
from graph.school.learning.types.scale import LEVEL_BY_NAME, JudgementLevel
from graph.school.people.types import GroupType, PupilType, StaffType
from learning import policies as rules
from learning import progress
from models import Pupil
from models.curriculum import Judgement


async def pupil_of_row(root: Any, info: Info) -> PupilType | None:
    row = await info.context.loaders.learning.pupil.load(root.row.pupil_id)
    return None if row is None else PupilType.of(row)


async def _judgement_rung(root: JudgementType, info: Info) -> RungType | None:
    found = await info.context.loaders.learning.rung.load(root.row.rung_id)
    return None if found is None else RungType.of(found[0])


async def _judgement_assessor(root: JudgementType, info: Info) -> StaffType | None:
    if root.row.assessed_by_staff is None:
        return None
    row = await info.context.loaders.learning.staff.load(root.row.assessed_by_staff)
    return None if row is None else StaffType.of(row)


@personal_data
@strawberry.type(
    name="Judgement", description="One recorded judgement of a pupil on a rung (history is kept)."
)
class JudgementType(Node):
    row: strawberry.Private[Judgement]
    id: strawberry.ID = public("opaque identifier")
    level: JudgementLevel | None = guarded(rules.PROGRESS_RECORD)
    assessed_on: datetime.date | None = guarded(rules.PROGRESS_RECORD)
    note: str | None = guarded(rules.LEARNING_RECORD)
    recorded_at: datetime.datetime | None = guarded(rules.PROGRESS_RECORD)
    pupil: PupilType | None = guarded(rules.PROGRESS_RECORD, resolver=pupil_of_row)
    rung: RungType | None = guarded(rules.PROGRESS_RECORD, resolver=_judgement_rung)
    assessed_by: StaffType | None = guarded(
        rules.LEARNING_RECORD, resolver=_judgement_assessor, description="The member of staff who assessed."
    )

    @classmethod
    def of(cls, row: Judgement) -> JudgementType:
        return cls(
            row=row,
            id=to_global_id("Judgement", row.id),
            level=LEVEL_BY_NAME[row.level],
            assessed_on=row.assessed_on,
            note=row.note,
            recorded_at=row.recorded_at,
        )


JudgementConnection = Connection[JudgementType]


@strawberry.type(
    name="LatestJudgement",
    description="The judgement that counts on one rung (the latest). Reached only through PupilProgress.latest.",
)
class LatestJudgementType:
    rung_id: strawberry.ID
    level: JudgementLevel
    assessed_on: datetime.date


def _latest(root: PupilProgressType) -> list[LatestJudgementType]:
    latest = root.row.latest
    return [
        LatestJudgementType(
            rung_id=to_global_id("Rung", rung.id), level=LEVEL_BY_NAME[j.level], assessed_on=j.assessed_on
        )
        for rung in root.row.ladder.rungs
        if (j := latest.get(rung.id)) is not None
    ]


def _levels(root: PupilProgressType) -> list[Any]:
    # The level names as stored: the enum serialises them as they are (no member lookup per cell).
    return root.row.levels


def _secure_share(root: PupilProgressType) -> float:
    return root.row.secure_share


def _secure_count(root: PupilProgressType) -> int:
    return root.row.secure_count


def _current_rung(root: PupilProgressType) -> RungType | None:
    rung = root.row.current_rung
    return None if rung is None else RungType.of(rung)


def _progress_ladder(root: PupilProgressType) -> LadderType:
    return LadderType.full(root.row.ladder)


def _progress_pupil(root: PupilProgressType) -> PupilType:
    return PupilType.of(root.pupil_row)


@personal_data
@strawberry.type(
    name="PupilProgress", description="A pupil's progress on one ladder, from the latest judgements."
)
class PupilProgressType:
    row: strawberry.Private[progress.PupilProgress]
    pupil_row: strawberry.Private[Pupil]
    pupil: PupilType | None = guarded(rules.PROGRESS_RECORD, resolver=_progress_pupil)
    ladder: LadderType | None = guarded(rules.PROGRESS_RECORD, resolver=_progress_ladder)
    levels: list[JudgementLevel | None] | None = guarded(
        rules.PROGRESS_RECORD,
        resolver=_levels,
        description="The latest level on each rung, in ladder order (null: not assessed yet).",
    )
    latest: list[LatestJudgementType] | None = guarded(
        rules.PROGRESS_RECORD, resolver=_latest, description="The latest judgement on each assessed rung."
    )
    secure_count: int | None = guarded(rules.PROGRESS_RECORD, resolver=_secure_count)
    secure_share: float | None = guarded(
        rules.PROGRESS_RECORD,
        resolver=_secure_share,
        description="Share of the ladder's rungs whose latest judgement is SECURE or GREATER_DEPTH (0..1).",
    )
    current_rung: RungType | None = guarded(
        rules.PROGRESS_RECORD,
        resolver=_current_rung,
        description="The first rung not yet secure: the next step (null when every rung is secure).",
    )

    @classmethod
    def of(cls, row: progress.PupilProgress, pupil: Pupil) -> PupilProgressType:
        return cls(row=row, pupil_row=pupil)


@strawberry.type(name="RungDistribution", description="How a class stands on one rung (latest judgements).")
class RungDistributionType:
    rung: RungType
    not_yet: int
    working_towards: int
    secure: int
    greater_depth: int
    not_assessed: int

    @classmethod
    def of(cls, row: progress.RungDistribution) -> RungDistributionType:
        c = row.counts
        return cls(
            rung=RungType.of(row.rung),
            not_yet=c["NOT_YET"],
            working_towards=c["WORKING_TOWARDS"],
            secure=c["SECURE"],
            greater_depth=c["GREATER_DEPTH"],
            not_assessed=c["NOT_ASSESSED"],
        )


def _class_group(root: ClassProgressType) -> GroupType:
    return GroupType.of(root.row.group)


def _class_ladder(root: ClassProgressType) -> LadderType:
    return LadderType.full(root.row.ladder)


def _class_pupils(root: ClassProgressType) -> list[PupilProgressType]:
    return [PupilProgressType.of(p, pupil) for p, pupil in zip(root.row.progress, root.row.pupils)]


def _class_distribution(root: ClassProgressType) -> list[RungDistributionType]:
    return [RungDistributionType.of(d) for d in root.row.distribution]


@personal_data
@strawberry.type(
    name="ClassProgress",
    description="The teacher's class view: a group, its pupils and each one's latest judgement on every rung.",
)
class ClassProgressType:
    row: strawberry.Private[progress.ClassView]
    group: GroupType | None = guarded(rules.GROUP_PROGRESS, resolver=_class_group)
    ladder: LadderType | None = guarded(rules.GROUP_PROGRESS, resolver=_class_ladder)
    pupils: list[PupilProgressType] | None = guarded(
        rules.GROUP_PROGRESS, resolver=_class_pupils, description="In name order."
    )
    distribution: list[RungDistributionType] | None = guarded(
        rules.GROUP_PROGRESS, resolver=_class_distribution, description="One entry per rung, in ladder order."
    )


@strawberry.type(description="Latest judgements of a year group on every rung of a ladder, counted by level.")
class LevelCounts:
    not_yet: int
    working_towards: int
    secure: int
    greater_depth: int
    not_assessed: int


@strawberry.type(name="LadderSummary", description="A year group's standing on one ladder (school summary).")
class LadderSummaryType:
    ladder: LadderType
    cohort: int = strawberry.field(description="Active pupils in the year group's active groups.")
    assessed_pupils: int
    secure_share: float = strawberry.field(
        description="Secure-or-better (pupil, rung) pairs over cohort x rungs (0..1)."
    )
    level_counts: LevelCounts

    @classmethod
    def of(cls, row: progress.LadderSummary) -> LadderSummaryType:
        c = row.level_counts
        return cls(
            ladder=LadderType.full(row.ladder),
            cohort=row.cohort,
            assessed_pupils=row.assessed_pupils,
            secure_share=row.secure_share,
            level_counts=LevelCounts(
                not_yet=c["NOT_YET"],
                working_towards=c["WORKING_TOWARDS"],
                secure=c["SECURE"],
                greater_depth=c["GREATER_DEPTH"],
                not_assessed=c["NOT_ASSESSED"],
            ),
        )

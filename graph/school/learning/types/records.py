"""Records of achievement and learning goals, and a pupil's learner record that gathers them."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.relay import Node, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.learning.types.curriculum import RungType
from graph.school.learning.types.scale import AchievementKind, GoalStatus
from graph.school.people.types import PupilType
from learning import policies as rules
from models import Pupil
from models.learning import Achievement, LearningGoal


@personal_data
@strawberry.type(name="Achievement", description="Participation or an achievement (award or qualification).")
class AchievementType(Node):
    row: strawberry.Private[Achievement]
    id: strawberry.ID = public("opaque identifier")
    kind: AchievementKind | None = guarded(rules.ACHIEVEMENT_RECORD)
    title: str | None = guarded(rules.ACHIEVEMENT_RECORD)
    awarding_body: str | None = guarded(rules.ACHIEVEMENT_RECORD)
    achieved_on: datetime.date | None = guarded(rules.ACHIEVEMENT_RECORD)
    grade: str | None = guarded(rules.ACHIEVEMENT_RECORD, description="Grade or result, if any.")

    @classmethod
    def of(cls, row: Achievement) -> AchievementType:
        return cls(
            row=row,
            id=to_global_id("Achievement", row.id),
            kind=AchievementKind(row.kind),
            title=row.title,
            awarding_body=row.awarding_body,
            achieved_on=row.achieved_on,
            grade=row.grade,
        )


async def _goal_rung(root: LearningGoalType, info: Info) -> RungType | None:
    if root.row.rung_id is None:
        return None
    found = await info.context.loaders.learning.rung.load(root.row.rung_id)
    return None if found is None else RungType.of(found[0])


@personal_data
@strawberry.type(name="LearningGoal")
class LearningGoalType(Node):
    row: strawberry.Private[LearningGoal]
    id: strawberry.ID = public("opaque identifier")
    statement: str | None = guarded(rules.LEARNING_RECORD)
    target_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    status: GoalStatus | None = guarded(rules.LEARNING_RECORD)
    created_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    closed_on: datetime.date | None = guarded(rules.LEARNING_RECORD)
    rung: RungType | None = guarded(rules.LEARNING_RECORD, resolver=_goal_rung)

    @classmethod
    def of(cls, row: LearningGoal) -> LearningGoalType:
        return cls(
            row=row,
            id=to_global_id("LearningGoal", row.id),
            statement=row.statement,
            target_on=row.target_on,
            status=GoalStatus(row.status),
            created_at=row.created_at,
            closed_on=row.closed_on,
        )


def _record_pupil(root: LearnerRecordType) -> PupilType:
    return PupilType.of(root.row)


async def _record_achievements(root: LearnerRecordType, info: Info) -> list[AchievementType]:
    return [AchievementType.of(a) for a in await info.context.loaders.learning.achievements.load(root.row.id)]


async def _record_goals(root: LearnerRecordType, info: Info) -> list[LearningGoalType]:
    return [LearningGoalType.of(g) for g in await info.context.loaders.learning.goals.load(root.row.id)]


@personal_data
@strawberry.type(
    name="LearnerRecord",
    description="A pupil's personal learning record: achievements and goals, with the ULN when present.",
)
class LearnerRecordType:
    row: strawberry.Private[Pupil]
    pupil: PupilType | None = guarded(policies.PUPIL_RECORD, resolver=_record_pupil)
    uln: str | None = guarded(policies.PUPIL_LEARNER_NUMBER, description="Unique Learner Number, if known.")
    achievements: list[AchievementType] | None = guarded(
        policies.PUPIL_RECORD_ACHIEVEMENTS, resolver=_record_achievements
    )
    goals: list[LearningGoalType] | None = guarded(policies.PUPIL_RECORD, resolver=_record_goals)

    @classmethod
    def of(cls, row: Pupil) -> LearnerRecordType:
        return cls(row=row, uln=row.uln)

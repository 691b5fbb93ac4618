"""Records of achievement and learning goals of pupils the caller teaches."""

from __future__ import annotations

import datetime
import uuid

import strawberry
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning.types.records import AchievementType, LearningGoalType
from graph.school.learning.types.scale import AchievementKind, GoalStatus
from learning import achievements
from models.learning import LearningGoal


@strawberry.input
class RecordAchievementInput:
    pupil_id: strawberry.ID
    kind: AchievementKind
    title: str
    achieved_on: datetime.date
    awarding_body: str | None = strawberry.field(default=None, description="Required for a qualification.")
    grade: str | None = strawberry.field(default=None, description="Grade or result.")


@strawberry.type
class AchievementPayload:
    achievement: AchievementType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetLearningGoalInput:
    pupil_id: strawberry.ID
    statement: str
    rung_id: strawberry.ID | None = None
    target_on: datetime.date | None = None


@strawberry.input
class CloseLearningGoalInput:
    goal_id: strawberry.ID
    status: GoalStatus


@strawberry.type
class LearningGoalPayload:
    goal: LearningGoalType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _goal_payload(row: LearningGoal) -> LearningGoalPayload:
    return LearningGoalPayload(goal=LearningGoalType.of(row))


async def record_achievement(info: Info, input: RecordAchievementInput) -> AchievementPayload:
    ctx = info.context

    def achievement(pupil_id: uuid.UUID) -> achievements.NewAchievement:
        return achievements.NewAchievement(
            pupil_id=pupil_id,
            kind=input.kind.value,
            title=input.title,
            achieved_on=input.achieved_on,
            awarding_body=input.awarding_body,
            grade=input.grade,
        )

    return await mutate(
        info,
        AchievementPayload,
        lambda pupil_id: achievements.record_achievement(
            ctx.session, ctx.principal, achievement(pupil_id), now=ctx.now
        ),
        [("pupilId", "Pupil", input.pupil_id)],
        done=lambda row: AchievementPayload(achievement=AchievementType.of(row)),
    )


async def set_learning_goal(info: Info, input: SetLearningGoalInput) -> LearningGoalPayload:
    ctx = info.context

    def goal(pupil_id: uuid.UUID, rung_id: uuid.UUID | None = None) -> achievements.NewGoal:
        return achievements.NewGoal(
            pupil_id=pupil_id, statement=input.statement, rung_id=rung_id, target_on=input.target_on
        )

    wanted = [("pupilId", "Pupil", input.pupil_id)]
    if input.rung_id is not None:
        wanted.append(("rungId", "Rung", input.rung_id))
    return await mutate(
        info,
        LearningGoalPayload,
        lambda *ids: achievements.set_goal(ctx.session, ctx.principal, goal(*ids), now=ctx.now),
        wanted,
        done=_goal_payload,
    )


async def close_learning_goal(info: Info, input: CloseLearningGoalInput) -> LearningGoalPayload:
    ctx = info.context
    return await mutate(
        info,
        LearningGoalPayload,
        lambda goal_id: achievements.close_goal(
            ctx.session, ctx.principal, goal_id, input.status.value, now=ctx.now
        ),
        [("goalId", "LearningGoal", input.goal_id)],
        done=_goal_payload,
    )


@strawberry.type
class RecordMutation:
    record_achievement: AchievementPayload = guarded_mutation(
        policies.STAFF,
        resolver=record_achievement,
        description="Add to the learning record of a pupil you teach.",
    )
    set_learning_goal: LearningGoalPayload = guarded_mutation(
        policies.STAFF, resolver=set_learning_goal, description="A learning goal for a pupil you teach."
    )
    close_learning_goal: LearningGoalPayload = guarded_mutation(
        policies.STAFF,
        resolver=close_learning_goal,
        description="Mark a goal achieved or dropped (or reopen it).",
    )

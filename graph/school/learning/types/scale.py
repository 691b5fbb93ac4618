"""The enums of the learning types: the judgement scale, sources, kinds and statuses."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(
    description="The judgement scale, lowest first. A school may rename the labels (setLevelLabels); levelScale reads them."
)
class JudgementLevel(Enum):
    NOT_YET = "NOT_YET"
    WORKING_TOWARDS = "WORKING_TOWARDS"
    SECURE = "SECURE"
    GREATER_DEPTH = "GREATER_DEPTH"


LEVEL_BY_NAME = {level.value: level for level in JudgementLevel}


@strawberry.enum(description="PLATFORM: pre-loaded, read by every school. SCHOOL: this school's own.")
class Source(Enum):
    PLATFORM = "PLATFORM"
    SCHOOL = "SCHOOL"


@strawberry.enum
class AssignmentKind(Enum):
    HOMEWORK = "HOMEWORK"
    REVISION = "REVISION"


@strawberry.enum(description="A pupil's side of an assignment.")
class WorkStatus(Enum):
    NOT_SUBMITTED = "NOT_SUBMITTED"
    OVERDUE = "OVERDUE"
    SUBMITTED = "SUBMITTED"
    SUBMITTED_LATE = "SUBMITTED_LATE"
    FEEDBACK_GIVEN = "FEEDBACK_GIVEN"


@strawberry.enum
class AchievementKind(Enum):
    AWARD = "AWARD"
    QUALIFICATION = "QUALIFICATION"
    PARTICIPATION = "PARTICIPATION"


@strawberry.enum
class GoalStatus(Enum):
    OPEN = "OPEN"
    ACHIEVED = "ACHIEVED"
    DROPPED = "DROPPED"


@strawberry.enum
class ReportStatus(Enum):
    OPEN = "OPEN"
    TAKEN_DOWN = "TAKEN_DOWN"
    DISMISSED = "DISMISSED"

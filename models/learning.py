"""Pupils' work and records: assignments and submissions, records of achievement and learning goals.

Tenant data: ``school_id`` leads every key, and row-level security applies. The curriculum and judgements
are in :mod:`models.curriculum`, content and files in :mod:`models.content`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import change_version, created_at, day, id_field, school_key, tenant_fk, timestamp, uuid_ref
from models.content import content_refs

ASSIGNMENT_KINDS = ("HOMEWORK", "REVISION")
ACHIEVEMENT_KINDS = ("AWARD", "QUALIFICATION", "PARTICIPATION")
GOAL_STATUSES = ("OPEN", "ACHIEVED", "DROPPED")


# --- tenant: assignments and work ------------------------------------------------------------------------


class Assignment(SQLModel, table=True):
    """Homework or a revision resource set to a group, with a due date; content or free text or both."""

    __tablename__ = "assignments"
    __table_args__ = (
        *content_refs(),
        tenant_fk(["group_id"], "groups", ondelete="CASCADE"),
        CheckConstraint(f"kind IN {ASSIGNMENT_KINDS}", name="kind"),
        CheckConstraint(
            "NOT (platform_content_id IS NOT NULL AND school_content_id IS NOT NULL)", name="content"
        ),
        Index("ix_assignments_school_id_group_id_due_on", "school_id", "group_id", "due_on"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    group_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    title: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    instructions: str | None = Field(default=None, sa_type=Text)
    platform_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    school_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    due_on: date = day(nullable=False)
    set_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    set_by_staff: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()


class Submission(SQLModel, table=True):
    """A pupil's work for an assignment (text, a file, or both) and the feedback on it. Resubmitting
    replaces the work; one row per pupil and assignment."""

    __tablename__ = "submissions"
    __table_args__ = (
        tenant_fk(["assignment_id"], "assignments", ondelete="CASCADE"),
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        tenant_fk(["file_id"], "stored_files"),
        UniqueConstraint("school_id", "assignment_id", "pupil_id"),
        Index("ix_submissions_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    assignment_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    text: str | None = Field(default=None, sa_type=Text)
    file_id: uuid.UUID | None = uuid_ref(nullable=True)
    submitted_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    submitted_at: datetime = timestamp(nullable=False)
    feedback: str | None = Field(default=None, sa_type=Text)
    feedback_by: uuid.UUID | None = uuid_ref(nullable=True)
    feedback_by_staff: uuid.UUID | None = uuid_ref(nullable=True)
    feedback_at: datetime | None = timestamp()


# --- tenant: records of achievement and learning goals ---------------------------------------------------


class Achievement(SQLModel, table=True):
    """Participation or achievement in a pupil's learning record (LRS Personal Learning Record)."""

    __tablename__ = "achievements"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(f"kind IN {ACHIEVEMENT_KINDS}", name="kind"),
        Index("ix_achievements_school_id_pupil_id", "school_id", "pupil_id"),
        Index("ix_achievements_school_id_changed_version", "school_id", "changed_version"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    kind: str = Field(max_length=16)
    title: str = Field(max_length=200)
    awarding_body: str | None = Field(default=None, max_length=200)
    achieved_on: date = day(nullable=False)
    grade: str | None = Field(default=None, max_length=60)
    recorded_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    created_at: datetime = created_at()
    changed_version: int | None = change_version()


class LearningGoal(SQLModel, table=True):
    __tablename__ = "learning_goals"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(f"status IN {GOAL_STATUSES}", name="status"),
        Index("ix_learning_goals_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    statement: str = Field(sa_type=Text)
    rung_id: uuid.UUID | None = uuid_ref(nullable=True)
    target_on: date | None = day()
    status: str = Field(default="OPEN", max_length=16)
    set_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    created_at: datetime = created_at()
    closed_on: date | None = day()


__all__ = [
    "ACHIEVEMENT_KINDS",
    "ASSIGNMENT_KINDS",
    "GOAL_STATUSES",
    "Achievement",
    "Assignment",
    "LearningGoal",
    "Submission",
]

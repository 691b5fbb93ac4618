"""Learning: curriculum ladders and rungs, judgements, assignments and submissions, content and its use,
records of achievement and learning goals.

Global (reference) tables, read by every school: ``curriculum_ladders``, ``curriculum_rungs`` (the
platform's pre-loaded ladders, LL 4.4) and ``platform_content`` (pre-loaded content). Everything else is
tenant data: ``school_id`` leads every key, and row-level security applies.

A judgement names its rung and ladder by id only. Rung ids are UUIDs unique across the platform's and the
schools' rungs, so one column serves both kinds of ladder; the service resolves and checks the rung when
the judgement is written, and rungs are never deleted once a ladder is in use (ladders are archived).
Content references from tenant rows are two nullable columns, exactly one set (``platform_content_id`` to
the reference table, ``school_content_id`` to the school's own), so both keep a foreign key.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import created_at, day, id_field, school_key, tenant_fk, timestamp, uuid_ref

LEVELS = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")
"""The judgement scale, lowest first. A school may rename the labels (``level_labels``), not the levels."""
SECURE_OR_BETTER = ("SECURE", "GREATER_DEPTH")
ASSIGNMENT_KINDS = ("HOMEWORK", "REVISION")
ACHIEVEMENT_KINDS = ("AWARD", "QUALIFICATION", "PARTICIPATION")
GOAL_STATUSES = ("OPEN", "ACHIEVED", "DROPPED")
REPORT_STATUSES = ("OPEN", "TAKEN_DOWN", "DISMISSED")
YEAR_GROUP_CHECK = "year_group IS NULL OR year_group BETWEEN -2 AND 14"
ONE_CONTENT = "(platform_content_id IS NULL) <> (school_content_id IS NULL)"


def _content_refs() -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    return (
        ForeignKeyConstraint(["platform_content_id"], ["platform_content.id"]),
        tenant_fk(["school_content_id"], "school_content"),
    )


# --- global: the platform's curriculum and content -------------------------------------------------------


class CurriculumLadder(SQLModel, table=True):
    """A pre-loaded ladder: a subject and year group with ordered rungs, read by every school (LL 4.4)."""

    __tablename__ = "curriculum_ladders"
    __table_args__ = (CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),)

    id: uuid.UUID = id_field()
    code: str = Field(unique=True, max_length=40)
    subject: str = Field(max_length=60)
    year_group: int | None = None
    title: str = Field(max_length=200)
    created_at: datetime = created_at()


class CurriculumRung(SQLModel, table=True):
    """One objective of a pre-loaded ladder: a code and a statement, at a position (1 = first)."""

    __tablename__ = "curriculum_rungs"
    __table_args__ = (
        UniqueConstraint("ladder_id", "position"),
        CheckConstraint("position > 0", name="position"),
    )

    id: uuid.UUID = id_field()
    ladder_id: uuid.UUID = Field(foreign_key="curriculum_ladders.id", sa_type=UUID(as_uuid=True))
    position: int
    code: str = Field(unique=True, max_length=40)
    statement: str = Field(sa_type=Text)


class PlatformContent(SQLModel, table=True):
    """Pre-loaded content (LL 4.4). A ladder's workbook is rendered from the ladder (``ladder_id``); other
    items are files in the platform's storage (``storage_key``). A takedown hides it in every school."""

    __tablename__ = "platform_content"
    __table_args__ = (
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
        CheckConstraint("(ladder_id IS NULL) <> (storage_key IS NULL)", name="one_source"),
    )

    id: uuid.UUID = id_field()
    code: str = Field(unique=True, max_length=60)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=Text)
    subject: str | None = Field(default=None, max_length=60)
    year_group: int | None = None
    is_workbook: bool = False
    ladder_id: uuid.UUID | None = Field(
        default=None, foreign_key="curriculum_ladders.id", sa_type=UUID(as_uuid=True)
    )
    storage_key: str | None = Field(default=None, max_length=200)
    file_name: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    created_at: datetime = created_at()
    taken_down_at: datetime | None = timestamp()
    takedown_reason: str | None = Field(default=None, sa_type=Text)


# --- tenant: a school's own ladders and scale ------------------------------------------------------------


class SchoolLadder(SQLModel, table=True):
    __tablename__ = "school_ladders"
    __table_args__ = (
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
        UniqueConstraint("school_id", "code"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    code: str = Field(max_length=40)
    subject: str = Field(max_length=60)
    year_group: int | None = None
    title: str = Field(max_length=200)
    created_by: uuid.UUID | None = uuid_ref(nullable=True)
    created_at: datetime = created_at()
    archived_at: datetime | None = timestamp()


class SchoolRung(SQLModel, table=True):
    __tablename__ = "school_rungs"
    __table_args__ = (
        tenant_fk(["ladder_id"], "school_ladders", ondelete="CASCADE"),
        UniqueConstraint("school_id", "ladder_id", "position"),
        UniqueConstraint("school_id", "code"),
        CheckConstraint("position > 0", name="position"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    ladder_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    position: int
    code: str = Field(max_length=40)
    statement: str = Field(sa_type=Text)


class LevelLabel(SQLModel, table=True):
    """A school's own name for a level of the scale (``Secure`` -> ``Got it``, say)."""

    __tablename__ = "level_labels"
    __table_args__ = (CheckConstraint(f"level IN {LEVELS}", name="level"),)

    school_id: uuid.UUID = school_key()
    level: str = Field(primary_key=True, max_length=20)
    label: str = Field(max_length=40)
    updated_at: datetime = created_at()


# --- tenant: judgements ----------------------------------------------------------------------------------


class Judgement(SQLModel, table=True):
    """One judgement of a pupil on a rung. History is kept: the latest (by ``assessed_on``, then
    ``recorded_at``) counts; the index serves exactly that ``DISTINCT ON``."""

    __tablename__ = "judgements"
    __table_args__ = (
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        Index(
            "ix_judgements_school_id_pupil_id_ladder_id_rung_id_latest",
            "school_id",
            "pupil_id",
            "ladder_id",
            "rung_id",
            "assessed_on",
            "recorded_at",
        ),
        # The class view: one pupil, one ladder, the newest judgement per rung (an index-only scan).
        Index(
            "ix_judgements_school_id_ladder_id_pupil_id_latest",
            "school_id",
            "ladder_id",
            "pupil_id",
            "rung_id",
            "assessed_on",
            "recorded_at",
            postgresql_include=["level"],
        ),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    ladder_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    rung_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    level: str = Field(max_length=20)
    assessed_on: date = day(nullable=False)
    note: str | None = Field(default=None, sa_type=Text)
    assessed_by_staff: uuid.UUID | None = uuid_ref(nullable=True)
    recorded_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    """The account that recorded it."""
    recorded_at: datetime = created_at()


# --- tenant: files, content, downloads, prints, reports ----------------------------------------------------


class StoredFile(SQLModel, table=True):
    """A file a user uploaded (content or submitted work), held by the file store under ``storage_key``."""

    __tablename__ = "stored_files"

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    storage_key: str = Field(max_length=200)
    file_name: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    byte_size: int
    sha256: str = Field(max_length=64)
    uploaded_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    created_at: datetime = created_at()


class SchoolContent(SQLModel, table=True):
    """Content a school uploaded (LL 6.4.4). A takedown (LL 8.4, LL 13.3) hides it everywhere."""

    __tablename__ = "school_content"
    __table_args__ = (
        tenant_fk(["file_id"], "stored_files"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=Text)
    subject: str | None = Field(default=None, max_length=60)
    year_group: int | None = None
    is_workbook: bool = False
    file_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    uploaded_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    created_at: datetime = created_at()
    taken_down_at: datetime | None = timestamp()
    taken_down_by: uuid.UUID | None = uuid_ref(nullable=True)
    takedown_reason: str | None = Field(default=None, sa_type=Text)


class Download(SQLModel, table=True):
    """Who downloaded what, when (LL 7.1.4.2): one row per download, never changed."""

    __tablename__ = "downloads"
    __table_args__ = (
        *_content_refs(),
        CheckConstraint(ONE_CONTENT, name="one_content"),
        Index("ix_downloads_school_id_downloaded_at", "school_id", "downloaded_at"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    platform_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    school_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    title: str = Field(max_length=200)
    """The title at the time (a later rename or takedown does not rewrite the record)."""
    downloaded_at: datetime = created_at()


class PrintRequest(SQLModel, table=True):
    """A printed copy of a workbook for one pupil (LL 6.4.2). ``copy_number`` counts from 1; a copy beyond the
    first needs a grant, and the unique key makes two concurrent requests for one copy collide."""

    __tablename__ = "print_requests"
    __table_args__ = (
        *_content_refs(),
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(ONE_CONTENT, name="one_content"),
        CheckConstraint("copy_number > 0", name="copy_number"),
        UniqueConstraint(
            "school_id",
            "pupil_id",
            "platform_content_id",
            "school_content_id",
            "copy_number",
            name="uq_print_requests_copy",
            postgresql_nulls_not_distinct=True,
        ),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    platform_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    school_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    copy_number: int
    requested_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    requested_at: datetime = created_at()


class PrintGrant(SQLModel, table=True):
    """A school admin's permission for one more printed copy of a workbook for one pupil (LL 6.4.2)."""

    __tablename__ = "print_grants"
    __table_args__ = (
        *_content_refs(),
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        CheckConstraint(ONE_CONTENT, name="one_content"),
        Index("ix_print_grants_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    pupil_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    platform_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    school_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    reason: str = Field(sa_type=Text)
    granted_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    granted_at: datetime = created_at()


class ContentReport(SQLModel, table=True):
    """A complaint about content (LL 13.3) and its review: by a school admin (the school's own uploads)
    or by the operator (any content). The decision and its reason are kept (LL 8.4)."""

    __tablename__ = "content_reports"
    __table_args__ = (
        *_content_refs(),
        CheckConstraint(ONE_CONTENT, name="one_content"),
        CheckConstraint(f"status IN {REPORT_STATUSES}", name="status"),
        Index("ix_content_reports_school_id_status_reported_at", "school_id", "status", "reported_at"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    platform_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    school_content_id: uuid.UUID | None = uuid_ref(nullable=True)
    reason: str = Field(sa_type=Text)
    reported_by: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    reported_at: datetime = created_at()
    status: str = Field(default="OPEN", max_length=16)
    reviewed_by: uuid.UUID | None = uuid_ref(nullable=True)
    """The reviewing school admin's account; null when the operator reviewed (``reviewed_by_operator``)."""
    reviewed_by_operator: str | None = Field(default=None, max_length=100)
    decision_note: str | None = Field(default=None, sa_type=Text)
    reviewed_at: datetime | None = timestamp()
    uploader_suspended: bool = False


# --- tenant: assignments and work ------------------------------------------------------------------------


class Assignment(SQLModel, table=True):
    """Homework or a revision resource set to a group, with a due date; content or free text or both."""

    __tablename__ = "assignments"
    __table_args__ = (
        *_content_refs(),
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
    "LEVELS",
    "REPORT_STATUSES",
    "SECURE_OR_BETTER",
    "Achievement",
    "Assignment",
    "ContentReport",
    "CurriculumLadder",
    "CurriculumRung",
    "Download",
    "Judgement",
    "LearningGoal",
    "LevelLabel",
    "PlatformContent",
    "PrintGrant",
    "PrintRequest",
    "SchoolContent",
    "SchoolLadder",
    "SchoolRung",
    "StoredFile",
    "Submission",
]

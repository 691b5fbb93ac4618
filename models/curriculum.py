"""Curriculum: the platform's ladders and rungs, a school's own ladders and scale labels, and judgements.

Global (reference) tables, read by every school: ``curriculum_ladders`` and ``curriculum_rungs`` (the
platform's pre-loaded ladders, LL 4.4). The rest is tenant data: ``school_id`` leads every key, and
row-level security applies.

A judgement names its rung and ladder by id only. Rung ids are UUIDs unique across the platform's and the
schools' rungs, so one column serves both kinds of ladder; the service resolves and checks the rung when
the judgement is written, and rungs are never deleted once a ladder is in use (ladders are archived).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import change_version, created_at, day, id_field, school_key, tenant_fk, timestamp, uuid_ref

LEVELS = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")
"""The judgement scale, lowest first. A school may rename the labels (``level_labels``), not the levels."""
SECURE_OR_BETTER = ("SECURE", "GREATER_DEPTH")
YEAR_GROUP_CHECK = "year_group IS NULL OR year_group BETWEEN -2 AND 14"


# --- global: the platform's curriculum --------------------------------------------------------------------


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
        Index("ix_judgements_school_id_changed_version", "school_id", "changed_version"),
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
    changed_version: int | None = change_version()


__all__ = [
    "LEVELS",
    "SECURE_OR_BETTER",
    "YEAR_GROUP_CHECK",
    "CurriculumLadder",
    "CurriculumRung",
    "Judgement",
    "LevelLabel",
    "SchoolLadder",
    "SchoolRung",
]

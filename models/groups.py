"""Teaching and pastoral groups of one school, their pupil members and their staff teachers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import change_version, created_at, id_field, school_key, tenant_fk, timestamp

GROUP_TYPES = ("REGISTRATION", "YEAR", "CLASS", "SUBJECT", "CUSTOM")


class Group(SQLModel, table=True):
    __tablename__ = "groups"
    __table_args__ = (
        Index("ix_groups_school_id_changed_version", "school_id", "changed_version"),
        UniqueConstraint("school_id", "external_id"),
        CheckConstraint(f"type IN {GROUP_TYPES}", name="type"),
        CheckConstraint("year_group IS NULL OR year_group BETWEEN -2 AND 14", name="year_group"),
    )

    school_id: uuid.UUID = school_key()
    id: uuid.UUID = id_field()
    name: str = Field(max_length=100)
    type: str = Field(max_length=16)
    external_id: str | None = Field(default=None, max_length=255)
    year_group: int | None = None
    """National Curriculum year: -2 nursery, -1 reception ... 14; None for mixed-age groups."""
    subject: str | None = Field(default=None, max_length=100)
    active: bool = True
    created_at: datetime = created_at()
    updated_at: datetime | None = timestamp()
    changed_version: int | None = change_version()


class GroupPupil(SQLModel, table=True):
    __tablename__ = "group_pupils"
    __table_args__ = (
        tenant_fk(["group_id"], "groups", ondelete="CASCADE"),
        tenant_fk(["pupil_id"], "pupils", ondelete="CASCADE"),
        Index("ix_group_pupils_school_id_pupil_id", "school_id", "pupil_id"),
    )

    school_id: uuid.UUID = school_key()
    group_id: uuid.UUID = Field(primary_key=True)
    pupil_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = created_at()


class GroupTeacher(SQLModel, table=True):
    __tablename__ = "group_teachers"
    __table_args__ = (
        tenant_fk(["group_id"], "groups", ondelete="CASCADE"),
        tenant_fk(["staff_id"], "staff", ondelete="CASCADE"),
        Index("ix_group_teachers_school_id_staff_id", "school_id", "staff_id"),
    )

    school_id: uuid.UUID = school_key()
    group_id: uuid.UUID = Field(primary_key=True)
    staff_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = created_at()

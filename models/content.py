"""Content: the platform's pre-loaded content, a school's uploads and stored files, downloads, printed
workbooks and their grants, and reports about content.

``platform_content`` is a global (reference) table; the rest is tenant data. A reference to content from a
tenant row is two nullable columns, exactly one set (``platform_content_id`` to the reference table,
``school_content_id`` to the school's own), so both keep a foreign key.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import created_at, id_field, school_key, tenant_fk, timestamp, uuid_ref
from models.curriculum import YEAR_GROUP_CHECK

REPORT_STATUSES = ("OPEN", "TAKEN_DOWN", "DISMISSED")
ONE_CONTENT = "(platform_content_id IS NULL) <> (school_content_id IS NULL)"


def content_refs() -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    """The two foreign keys of a row that names one item of content (see :data:`ONE_CONTENT`)."""
    return (
        ForeignKeyConstraint(["platform_content_id"], ["platform_content.id"]),
        tenant_fk(["school_content_id"], "school_content"),
    )


# --- global: the platform's content -----------------------------------------------------------------------


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
        *content_refs(),
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
        *content_refs(),
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
        *content_refs(),
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
        *content_refs(),
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


__all__ = [
    "ONE_CONTENT",
    "REPORT_STATUSES",
    "ContentReport",
    "Download",
    "PlatformContent",
    "PrintGrant",
    "PrintRequest",
    "SchoolContent",
    "StoredFile",
    "content_refs",
]

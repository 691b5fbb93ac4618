"""Shared pieces of every table: the naming convention, column helpers and the tenant-table registry.

Two kinds of table exist. *Global* tables (trusts, schools, ...) are reference data. *Tenant* tables hold one
school's data: ``school_id`` is their first column and leads the primary key and every unique constraint,
foreign key and index, so that the schema can be distributed by ``school_id`` (Citus) without change, and
row-level security (``migrations/rls.py``) applies to each of them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKeyConstraint, MetaData, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from common.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def id_field() -> Any:
    """The row's own id: second column of a tenant key, sole column of a global key."""
    return Field(default_factory=new_id, primary_key=True, sa_type=UUID(as_uuid=True))


def school_key() -> Any:
    """``school_id``: the first column of every tenant table's primary key."""
    return Field(primary_key=True, sa_type=UUID(as_uuid=True), foreign_key="schools.id")


def uuid_ref(*, nullable: bool = False) -> Any:
    return Field(default=None, nullable=nullable, sa_type=UUID(as_uuid=True))


def created_at() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": text("now()")},
        nullable=False,
    )


def timestamp(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable)


def change_version() -> Any:
    """``changed_version``: the change version of the row's last write (set by the database's
    ``stamp_change_version`` trigger on every insert and update from the writer's transaction id,
    whatever the application sends, migration 0015; on the roster rows, judgements, achievements and
    the feed's tombstones, migration 0017; 0 for rows last written before the change feed existed). Read
    by the partners' change feed (``partners/changes.py``)."""
    return Field(
        default=None,
        sa_type=BigInteger,
        nullable=False,
        sa_column_kwargs={"server_default": text("0")},
    )


def day(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=Date, nullable=nullable)


def tenant_fk(columns: list[str], table: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """A foreign key inside one school: ``(school_id, <columns>) -> table (school_id, id)``."""
    return ForeignKeyConstraint(
        ["school_id", *columns],
        [f"{table}.school_id", f"{table}.id"],
        ondelete=ondelete,
    )


__all__ = [
    "NAMING_CONVENTION",
    "date",
    "datetime",
    "metadata",
    "new_id",
    "utcnow",
]

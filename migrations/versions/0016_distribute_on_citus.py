"""distribute on Citus: every tenant table by school_id (colocated), every global table a reference table
(issue 19, ADR 0019)

Revision ID: 0016
Revises: 0015

A no-op on plain PostgreSQL. Where the ``citus`` extension is created in the database, it discovers the
tables from the catalog (``migrations/citus.py``), so the tables of every migration before it are covered:
it must stay the last migration of the chain that creates tables without the recipe of ADR 0019. It also
sets the runtime role's Citus settings (the binding reaches the workers, asyncpg's introspection sees the
catalog unfiltered, multi-shard commands use one connection per worker).
"""

from collections.abc import Sequence

from migrations import citus

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    citus.distribute()


def downgrade() -> None:
    citus.undistribute()

"""school retention periods: a school's admin may shorten a retention rule within the platform's limits
(LL-S2 (v)); the retention jobs step applies the shorter period.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_periods",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.UUID(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("days > 0", name=op.f("ck_retention_periods_days")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_retention_periods_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "rule", name=op.f("pk_retention_periods")),
    )
    # DELETE: back to the platform's default; UPDATE (set_by): erasure empties the link.
    rls.grant("retention_periods", "SELECT, INSERT, UPDATE, DELETE")
    rls.enable_tenant_rls("retention_periods")


def downgrade() -> None:
    op.drop_table("retention_periods")

"""school retention periods and sealed export passwords: a school's admin may shorten a retention rule within
the platform's limits (LL-S2 (v)); an export is encrypted when it is built, its password sealed under the
server's export key on its row until it is released (LRS 6.8).

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
    rls.enable_tenant_rls("retention_periods", predicate=rls.TENANT_PREDICATE_V2)
    for table in ("subject_access_requests", "destruction_records"):
        op.add_column(table, sa.Column("sealed_password", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table in ("subject_access_requests", "destruction_records"):
        op.drop_column(table, "sealed_password")
    op.drop_table("retention_periods")

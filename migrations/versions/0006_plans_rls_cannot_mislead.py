"""plans that row-level security cannot mislead: the tenant policy as an opaque boolean to the planner,
and the class view's latest-judgement read served by one index (school, ladder, pupil, rung, date).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

from migrations import rls

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rls.set_tenant_predicate(rls.TENANT_PREDICATE_V2)
    # (school, ladder) alone served no query better than this one, whose prefix it is; the class view's
    # read (one pupil, one ladder, newest per rung) is an index-only range scan of it.
    op.drop_index("ix_judgements_school_id_ladder_id", table_name="judgements")
    op.create_index(
        "ix_judgements_school_id_ladder_id_pupil_id_latest",
        "judgements",
        ["school_id", "ladder_id", "pupil_id", "rung_id", "assessed_on", "recorded_at"],
        postgresql_include=["level"],
    )


def downgrade() -> None:
    op.drop_index("ix_judgements_school_id_ladder_id_pupil_id_latest", table_name="judgements")
    op.create_index("ix_judgements_school_id_ladder_id", "judgements", ["school_id", "ladder_id"])
    rls.set_tenant_predicate(rls.TENANT_PREDICATE_V1)

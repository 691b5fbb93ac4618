"""termination handover credentials: a school's Super-User who chooses RETURN in advance is given a handover
credential (shown once, kept only as its SHA-256 on the preference, copied onto the destruction record at
termination) with which they release and download the school's termination export after its accounts are
gone (LL 5.1.3, LL-A 9.3); the platform log names its holder HANDOVER.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR_TYPES = "'OPERATOR', 'TRUST_ADMIN', 'ANONYMOUS', 'SYSTEM', 'PARTNER'"


def upgrade() -> None:
    op.add_column("termination_preferences", sa.Column("credential_hash", sa.LargeBinary(), nullable=True))
    op.add_column(
        "termination_preferences",
        sa.Column("credential_issued_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("destruction_records", sa.Column("credential_hash", sa.LargeBinary(), nullable=True))
    op.add_column("destruction_records", sa.Column("credential_holder", sa.UUID(), nullable=True))
    op.drop_constraint(op.f("ck_platform_audit_actor_type"), "platform_audit", type_="check")
    op.create_check_constraint(
        op.f("ck_platform_audit_actor_type"), "platform_audit", f"actor_type IN ({ACTOR_TYPES}, 'HANDOVER')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM platform_audit WHERE actor_type = 'HANDOVER'")
    op.drop_constraint(op.f("ck_platform_audit_actor_type"), "platform_audit", type_="check")
    op.create_check_constraint(
        op.f("ck_platform_audit_actor_type"), "platform_audit", f"actor_type IN ({ACTOR_TYPES})"
    )
    op.drop_column("destruction_records", "credential_holder")
    op.drop_column("destruction_records", "credential_hash")
    op.drop_column("termination_preferences", "credential_issued_at")
    op.drop_column("termination_preferences", "credential_hash")

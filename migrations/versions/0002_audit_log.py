"""audit log: hash-chained, append-only, per school

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:51:31.199056
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_audit_heads_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_log",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("actor_username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.CheckConstraint(
            "actor_type IN ('ACCOUNT', 'PARTNER', 'OPERATOR', 'ANONYMOUS', 'SYSTEM')",
            name=op.f("ck_audit_log_actor_type"),
        ),
        sa.CheckConstraint(
            "outcome IN ('SUCCESS', 'REJECTED', 'DENIED', 'FAILED')", name=op.f("ck_audit_log_outcome")
        ),
        sa.CheckConstraint("seq > 0", name=op.f("ck_audit_log_seq_positive")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_audit_log_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_school_id_actor_id", "audit_log", ["school_id", "actor_id"], unique=False)
    op.create_index(
        "ix_audit_log_school_id_occurred_at", "audit_log", ["school_id", "occurred_at"], unique=False
    )
    op.create_index("ix_audit_log_school_id_target_id", "audit_log", ["school_id", "target_id"], unique=False)

    # Append-only (LRS 5.1): the runtime role may read and insert, never delete or truncate; the trigger
    # refuses DELETE for everyone and every UPDATE except blanking the two personal values outside the
    # hash (the username at the time and the client address), which an erasure may do.
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND (NEW.actor_username IS NULL OR NEW.actor_username IS NOT DISTINCT FROM OLD.actor_username)
               AND (NEW.client_address IS NULL OR NEW.client_address IS NOT DISTINCT FROM OLD.client_address)
               AND (NEW.school_id, NEW.seq, NEW.occurred_at, NEW.actor_type, NEW.actor_id, NEW.role, NEW.action,
                    NEW.target_type, NEW.target_id, NEW.outcome, NEW.detail, NEW.request_id, NEW.prev_hash, NEW.hash)
                   IS NOT DISTINCT FROM
                   (OLD.school_id, OLD.seq, OLD.occurred_at, OLD.actor_type, OLD.actor_id, OLD.role, OLD.action,
                    OLD.target_type, OLD.target_id, OLD.outcome, OLD.detail, OLD.request_id, OLD.prev_hash, OLD.hash)
            THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END
        $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )
    rls.grant("audit_log", "SELECT, INSERT")
    op.execute(f'GRANT UPDATE (actor_username, client_address) ON audit_log TO "{rls.runtime_role()}"')
    rls.grant("audit_heads", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("audit_log", predicate=rls.TENANT_PREDICATE_V1)
    rls.enable_tenant_rls("audit_heads", predicate=rls.TENANT_PREDICATE_V1)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.drop_index("ix_audit_log_school_id_target_id", table_name="audit_log")
    op.drop_index("ix_audit_log_school_id_occurred_at", table_name="audit_log")
    op.drop_index("ix_audit_log_school_id_actor_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("audit_heads")

"""data subjects' rights: erasure records, subject access requests, restrictions and objections (LL-S2 (xii)),
and the privileges erasure and retention need.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_records",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reference", sa.UUID(), nullable=False),
        sa.Column("subject_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("erased_by", sa.UUID(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("files_pending", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("files_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "subject_type IN ('PUPIL', 'STAFF', 'CONTACT')", name=op.f("ck_erasure_records_subject_type")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_erasure_records_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_erasure_records")),
    )
    op.create_index(
        "uq_erasure_records_school_id_subject_digest",
        "erasure_records",
        ["school_id", "subject_digest"],
        unique=True,
    )
    op.create_table(
        "processing_restrictions",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("started_by", sa.UUID(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.UUID(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('RESTRICTION', 'OBJECTION')", name=op.f("ck_processing_restrictions_kind")
        ),
        sa.CheckConstraint(
            "subject_type IN ('PUPIL', 'STAFF', 'CONTACT')",
            name=op.f("ck_processing_restrictions_subject_type"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_processing_restrictions_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_processing_restrictions")),
    )
    op.create_index(
        "uq_processing_restrictions_current",
        "processing_restrictions",
        ["school_id", "subject_id", "kind"],
        unique=True,
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_table(
        "subject_access_requests",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("staged_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("released_by", sa.UUID(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archive_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("archive_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("archive_bytes", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('ADMIN', 'SELF')", name=op.f("ck_subject_access_requests_channel")),
        sa.CheckConstraint(
            "status IN ('OPEN', 'READY', 'RELEASED', 'PURGED')",
            name=op.f("ck_subject_access_requests_status"),
        ),
        sa.CheckConstraint(
            "subject_type IN ('PUPIL', 'STAFF', 'CONTACT')",
            name=op.f("ck_subject_access_requests_subject_type"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_subject_access_requests_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_subject_access_requests")),
    )
    op.create_index(
        "ix_subject_access_requests_school_id_status",
        "subject_access_requests",
        ["school_id", "status"],
        unique=False,
    )
    # An erasure record is written once and its files stamped when removed; requests and restrictions
    # change status.
    op.create_table(
        "termination_preferences",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("chosen_by", sa.UUID(), nullable=True),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("choice IN ('RETURN', 'DELETE')", name=op.f("ck_termination_preferences_choice")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_termination_preferences_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_termination_preferences")),
    )
    rls.grant("termination_preferences", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("termination_preferences", predicate=rls.TENANT_PREDICATE_V2)
    # The termination handover (LL 5.1.3, LL-A 9.3) on the destruction record.
    op.add_column("destruction_records", sa.Column("trust_id", sa.UUID(), nullable=True))
    op.add_column(
        "destruction_records",
        sa.Column("handover", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    )
    op.add_column("destruction_records", sa.Column("handover_by", sa.UUID(), nullable=True))
    op.add_column("destruction_records", sa.Column("handover_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("destruction_records", sa.Column("return_until", sa.Date(), nullable=True))
    op.add_column(
        "destruction_records",
        sa.Column("archive_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column("destruction_records", sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "destruction_records", sa.Column("copies_purged_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_destruction_records_trust_id_trusts"), "destruction_records", "trusts", ["trust_id"], ["id"]
    )
    op.create_check_constraint(
        op.f("ck_destruction_records_handover"),
        "destruction_records",
        "handover IS NULL OR handover IN ('RETURN', 'DELETE')",
    )
    rls.grant("erasure_records", "SELECT, INSERT, UPDATE")
    rls.grant("processing_restrictions")  # an erasure deletes the person's, with the rest of their rows
    rls.grant("subject_access_requests")
    for table in ("erasure_records", "processing_restrictions", "subject_access_requests"):
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V2)
    # Erasure deletes a person's rows per privacy/registry.py, and the retention step purges expired rows:
    # the tables whose history the runtime role could only append to until now.
    for table in ("pupil_consents", "own_consent_due", "downloads", "print_requests", "admin_sessions",
                  "admin_refresh_tokens", "job_runs", "outbox"):  # fmt: skip
        rls.grant(table, "DELETE")
    op.execute(f'GRANT UPDATE (account_id, actor) ON roster_imports TO "{rls.runtime_role()}"')
    op.execute(f'GRANT UPDATE (requested_by) ON print_requests TO "{rls.runtime_role()}"')


def downgrade() -> None:
    role = rls.runtime_role()
    op.drop_table("termination_preferences")
    op.drop_constraint(op.f("ck_destruction_records_handover"), "destruction_records", type_="check")
    op.drop_constraint(
        op.f("fk_destruction_records_trust_id_trusts"), "destruction_records", type_="foreignkey"
    )
    for column in ("copies_purged_at", "released_at", "archive_sha256", "return_until", "handover_at",
                   "handover_by", "handover", "trust_id"):  # fmt: skip
        op.drop_column("destruction_records", column)
    op.execute(f'REVOKE UPDATE (account_id, actor) ON roster_imports FROM "{role}"')
    op.execute(f'REVOKE UPDATE (requested_by) ON print_requests FROM "{role}"')
    for table in ("pupil_consents", "own_consent_due", "downloads", "print_requests", "admin_sessions",
                  "admin_refresh_tokens", "job_runs", "outbox"):  # fmt: skip
        op.execute(f'REVOKE DELETE ON "{table}" FROM "{role}"')
    op.drop_index("ix_subject_access_requests_school_id_status", table_name="subject_access_requests")
    op.drop_table("subject_access_requests")
    op.drop_index(
        "uq_processing_restrictions_current",
        table_name="processing_restrictions",
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.drop_table("processing_restrictions")
    op.drop_index("uq_erasure_records_school_id_subject_digest", table_name="erasure_records")
    op.drop_table("erasure_records")

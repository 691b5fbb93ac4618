"""roster import: history, org mapping, terms, extended pupil data and its opt-in, activation codes

Also relaxes three NOT NULLs an MIS import cannot always fill (models/people.py says why): pupils'
``upn`` and ``date_of_birth`` and staff's ``work_email``. The admin mutations still require them.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> what the runtime role may do. The import history is append-only for the application.
GRANTS = {
    "roster_imports": "SELECT, INSERT",
    "roster_sources": "SELECT, INSERT, UPDATE, DELETE",
    "terms": "SELECT, INSERT, UPDATE, DELETE",
    "group_terms": "SELECT, INSERT, UPDATE, DELETE",
    "pupil_extended_data": "SELECT, INSERT, UPDATE, DELETE",
    "extended_data_opt_ins": "SELECT, INSERT, UPDATE",
    "activation_codes": "SELECT, INSERT, UPDATE, DELETE",
}


def _school_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f(f"fk_{table}_school_id_schools"))


def upgrade() -> None:
    op.create_table(
        "roster_imports",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("problem_codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "format IN ('ONEROSTER_1_1', 'ONEROSTER_1_2', 'SCHOOLGRAPH_CSV', 'UNKNOWN')",
            name=op.f("ck_roster_imports_format"),
        ),
        sa.CheckConstraint("mode IN ('BULK', 'DELTA', 'MIXED')", name=op.f("ck_roster_imports_mode")),
        sa.CheckConstraint(
            "outcome IN ('COMMITTED', 'DRY_RUN', 'REFUSED')", name=op.f("ck_roster_imports_outcome")
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_roster_imports_sha256_format")),
        _school_fk("roster_imports"),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_roster_imports")),
    )
    op.create_index(
        "ix_roster_imports_school_id_started_at", "roster_imports", ["school_id", "started_at"], unique=False
    )
    op.create_table(
        "roster_sources",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("org_sourced_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("set_by", sa.UUID(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        _school_fk("roster_sources"),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_roster_sources")),
    )
    op.create_table(
        "terms",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("parent_source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("school_year", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "type IN ('SCHOOL_YEAR', 'SEMESTER', 'TERM', 'GRADING_PERIOD')", name=op.f("ck_terms_type")
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_terms_dates")),
        _school_fk("terms"),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_terms")),
        sa.UniqueConstraint("school_id", "source_id", name=op.f("uq_terms_school_id_source_id")),
    )
    op.create_table(
        "group_terms",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("term_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id", "group_id"],
            ["groups.school_id", "groups.id"],
            name=op.f("fk_group_terms_school_id_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "term_id"],
            ["terms.school_id", "terms.id"],
            name=op.f("fk_group_terms_school_id_term_id_terms"),
            ondelete="CASCADE",
        ),
        _school_fk("group_terms"),
        sa.PrimaryKeyConstraint("school_id", "group_id", "term_id", name=op.f("pk_group_terms")),
    )
    op.create_index("ix_group_terms_school_id_term_id", "group_terms", ["school_id", "term_id"], unique=False)
    op.create_table(
        "pupil_extended_data",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.Uuid(), nullable=False),
        sa.Column("lea_care", sa.Boolean(), nullable=True),
        sa.Column("sen_status", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("pupil_premium", sa.Boolean(), nullable=True),
        sa.Column("eal", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sen_status IS NULL OR sen_status IN ('N', 'K', 'E', 'S')",
            name=op.f("ck_pupil_extended_data_sen_status"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_pupil_extended_data_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        _school_fk("pupil_extended_data"),
        sa.PrimaryKeyConstraint("school_id", "pupil_id", name=op.f("pk_pupil_extended_data")),
    )
    op.create_table(
        "extended_data_opt_ins",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_by_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.UUID(), nullable=True),
        sa.Column("revoked_by_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _school_fk("extended_data_opt_ins"),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_extended_data_opt_ins")),
    )
    op.create_table(
        "activation_codes",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued_by", sa.UUID(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_activation_codes_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        _school_fk("activation_codes"),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_activation_codes")),
        sa.UniqueConstraint("school_id", "code_hash", name=op.f("uq_activation_codes_school_id_code_hash")),
    )
    op.create_index(
        "ix_activation_codes_school_id_account_id",
        "activation_codes",
        ["school_id", "account_id"],
        unique=False,
    )
    op.alter_column("pupils", "date_of_birth", existing_type=sa.DATE(), nullable=True)
    op.alter_column("pupils", "upn", existing_type=sa.VARCHAR(length=13), nullable=True)
    op.alter_column("staff", "work_email", existing_type=sa.VARCHAR(length=254), nullable=True)

    for table, privileges in GRANTS.items():
        rls.grant(table, privileges)
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V1)


def downgrade() -> None:
    # Rows an import left without these values would block the downgrade; that is deliberate.
    op.alter_column("staff", "work_email", existing_type=sa.VARCHAR(length=254), nullable=False)
    op.alter_column("pupils", "upn", existing_type=sa.VARCHAR(length=13), nullable=False)
    op.alter_column("pupils", "date_of_birth", existing_type=sa.DATE(), nullable=False)
    op.drop_index("ix_activation_codes_school_id_account_id", table_name="activation_codes")
    op.drop_table("activation_codes")
    op.drop_table("extended_data_opt_ins")
    op.drop_table("pupil_extended_data")
    op.drop_index("ix_group_terms_school_id_term_id", table_name="group_terms")
    op.drop_table("group_terms")
    op.drop_table("terms")
    op.drop_table("roster_sources")
    op.drop_index("ix_roster_imports_school_id_started_at", table_name="roster_imports")
    op.drop_table("roster_imports")

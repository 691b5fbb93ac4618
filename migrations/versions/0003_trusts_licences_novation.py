"""trusts, licences and novation: operator and trust-admin accounts, licences, invoices, novations,
suspensions, destruction records, the outbox, the platform audit log, job runs; school-admin activation
codes and Super-Users (tenant tables)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Global tables the runtime role reads and writes (platform operations); it never deletes from them.
GLOBAL_TABLES = (
    "operator_accounts",
    "trust_admin_accounts",
    "admin_sessions",
    "admin_refresh_tokens",
    "job_runs",
    "outbox",
    "licences",
    "licence_schools",
    "invoices",
    "novations",
    "suspensions",
    "destruction_records",
)
TENANT_TABLES = ("account_activations", "super_users")
CREATED = (
    "operator_accounts",
    "trust_admin_accounts",
    "admin_sessions",
    "admin_refresh_tokens",
    "platform_audit",
    "job_runs",
    "outbox",
    "account_activations",
    "super_users",
    "licences",
    "licence_schools",
    "invoices",
    "novations",
    "suspensions",
    "destruction_records",
)


def upgrade() -> None:
    op.create_table(
        "operator_accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'ACTIVE', 'DISABLED')", name=op.f("ck_operator_accounts_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_accounts")),
    )
    op.create_index(
        "uq_operator_accounts_lower_username",
        "operator_accounts",
        [sa.literal_column("lower(username)")],
        unique=True,
    )
    op.create_table(
        "trust_admin_accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("trust_id", sa.Uuid(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("activation_hash", sa.LargeBinary(), nullable=True),
        sa.Column("activation_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'ACTIVE', 'DISABLED')", name=op.f("ck_trust_admin_accounts_status")
        ),
        sa.ForeignKeyConstraint(
            ["trust_id"], ["trusts.id"], name=op.f("fk_trust_admin_accounts_trust_id_trusts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_admin_accounts")),
        sa.UniqueConstraint("activation_hash", name=op.f("uq_trust_admin_accounts_activation_hash")),
    )
    op.create_index(
        "uq_trust_admin_accounts_trust_id_lower_username",
        "trust_admin_accounts",
        ["trust_id", sa.literal_column("lower(username)")],
        unique=True,
    )
    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("trust_admin_id", sa.Uuid(), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.CheckConstraint(
            "(operator_id IS NULL) <> (trust_admin_id IS NULL)", name=op.f("ck_admin_sessions_one_holder")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operator_accounts.id"],
            name=op.f("fk_admin_sessions_operator_id_operator_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trust_admin_id"],
            ["trust_admin_accounts.id"],
            name=op.f("fk_admin_sessions_trust_admin_id_trust_admin_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sessions")),
    )
    op.create_index("ix_admin_sessions_operator_id", "admin_sessions", ["operator_id"], unique=False)
    op.create_index("ix_admin_sessions_trust_admin_id", "admin_sessions", ["trust_admin_id"], unique=False)
    op.create_table(
        "admin_refresh_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["admin_sessions.id"],
            name=op.f("fk_admin_refresh_tokens_session_id_admin_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_admin_refresh_tokens_token_hash")),
    )
    op.create_index(
        "ix_admin_refresh_tokens_session_id", "admin_refresh_tokens", ["session_id"], unique=False
    )
    op.create_table(
        "platform_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("trust_id", sa.UUID(), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.CheckConstraint(
            "actor_type IN ('OPERATOR', 'TRUST_ADMIN', 'ANONYMOUS', 'SYSTEM')",
            name=op.f("ck_platform_audit_actor_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_audit")),
    )
    op.create_index("ix_platform_audit_occurred_at", "platform_audit", ["occurred_at"], unique=False)
    op.create_index("ix_platform_audit_tenant_id", "platform_audit", ["tenant_id"], unique=False)
    op.create_index("ix_platform_audit_trust_id", "platform_audit", ["trust_id"], unique=False)
    op.create_table(
        "job_runs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("runner", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_started_at", "job_runs", ["started_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("trust_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.CheckConstraint(
            "(audience = 'SUPER_USERS' AND tenant_id IS NOT NULL) OR (audience = 'TRUST_ADMINS' AND trust_id IS NOT NULL)",
            name=op.f("ck_outbox_addressed"),
        ),
        sa.CheckConstraint("audience IN ('SUPER_USERS', 'TRUST_ADMINS')", name=op.f("ck_outbox_audience")),
        sa.ForeignKeyConstraint(["tenant_id"], ["schools.id"], name=op.f("fk_outbox_tenant_id_schools")),
        sa.ForeignKeyConstraint(["trust_id"], ["trusts.id"], name=op.f("fk_outbox_trust_id_trusts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index("ix_outbox_tenant_id", "outbox", ["tenant_id"], unique=False)
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "account_activations",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued_by_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("issued_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "issued_by_type IN ('OPERATOR', 'TRUST_ADMIN')",
            name=op.f("ck_account_activations_issued_by_type"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_account_activations_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_account_activations_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_account_activations")),
        sa.UniqueConstraint(
            "school_id", "code_hash", name=op.f("uq_account_activations_school_id_code_hash")
        ),
    )
    op.create_index(
        "ix_account_activations_school_id_account_id",
        "account_activations",
        ["school_id", "account_id"],
        unique=False,
    )
    op.create_table(
        "super_users",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("nominated_by_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("nominated_by", sa.UUID(), nullable=True),
        sa.Column(
            "nominated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "nominated_by_type IN ('OPERATOR', 'TRUST_ADMIN')", name=op.f("ck_super_users_nominated_by_type")
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_super_users_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_super_users_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "account_id", name=op.f("pk_super_users")),
    )
    op.create_table(
        "licences",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("licensee_trust_id", sa.Uuid(), nullable=True),
        sa.Column("licensee_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("licensee_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("terms_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("annual_fee_pence", sa.BigInteger(), nullable=False),
        sa.Column("next_fee_pence", sa.BigInteger(), nullable=True),
        sa.Column("next_fee_notified_on", sa.Date(), nullable=True),
        sa.Column("cancellation_received_on", sa.Date(), nullable=True),
        sa.Column("renewal_notice_for", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("novated_from_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'ENDED', 'NOVATED', 'TERMINATED')", name=op.f("ck_licences_status")
        ),
        sa.CheckConstraint(
            "(licensee_trust_id IS NULL) <> (licensee_tenant_id IS NULL)",
            name=op.f("ck_licences_one_licensee"),
        ),
        sa.CheckConstraint(
            "annual_fee_pence >= 0 AND (next_fee_pence IS NULL OR next_fee_pence >= 0)",
            name=op.f("ck_licences_fees"),
        ),
        sa.CheckConstraint("term_end > term_start", name=op.f("ck_licences_term")),
        sa.ForeignKeyConstraint(
            ["licensee_tenant_id"], ["schools.id"], name=op.f("fk_licences_licensee_tenant_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["licensee_trust_id"], ["trusts.id"], name=op.f("fk_licences_licensee_trust_id_trusts")
        ),
        sa.ForeignKeyConstraint(
            ["novated_from_id"], ["licences.id"], name=op.f("fk_licences_novated_from_id_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("reference", name=op.f("uq_licences_reference")),
    )
    op.create_index("ix_licences_licensee_trust_id", "licences", ["licensee_trust_id"], unique=False)
    op.create_index(
        "ix_licences_term_end_active",
        "licences",
        ["term_end"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_table(
        "licence_schools",
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("covered_from", sa.Date(), nullable=False),
        sa.Column("covered_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "covered_to IS NULL OR covered_to > covered_from", name=op.f("ck_licence_schools_dates")
        ),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licences.id"], name=op.f("fk_licence_schools_licence_id_licences")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["schools.id"], name=op.f("fk_licence_schools_tenant_id_schools")
        ),
        sa.PrimaryKeyConstraint("licence_id", "tenant_id", name=op.f("pk_licence_schools")),
    )
    op.create_index("ix_licence_schools_tenant_id", "licence_schools", ["tenant_id"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("payment_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_pence >= 0", name=op.f("ck_invoices_amount")),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_invoices_period")),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licences.id"], name=op.f("fk_invoices_licence_id_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index("ix_invoices_licence_id", "invoices", ["licence_id"], unique=False)
    op.create_index(
        "ix_invoices_unpaid_due_on",
        "invoices",
        ["due_on"],
        unique=False,
        postgresql_where=sa.text("paid_on IS NULL"),
    )
    op.create_table(
        "novations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("from_trust_id", sa.Uuid(), nullable=True),
        sa.Column("to_trust_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("proposed_by_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("proposed_by", sa.UUID(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.UUID(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_terms_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("closed_by_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("closed_by", sa.UUID(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("old_licence_id", sa.Uuid(), nullable=True),
        sa.Column("new_licence_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "proposed_by_type IN ('OPERATOR', 'TRUST_ADMIN', 'SYSTEM')",
            name=op.f("ck_novations_proposed_by_type"),
        ),
        sa.CheckConstraint(
            "reason IN ('CONVERSION_TO_ACADEMY', 'TRUST_TRANSFER')", name=op.f("ck_novations_reason")
        ),
        sa.CheckConstraint(
            "status IN ('PROPOSED', 'ACCEPTED', 'APPLIED', 'WITHDRAWN', 'REJECTED')",
            name=op.f("ck_novations_status"),
        ),
        sa.CheckConstraint("from_trust_id IS DISTINCT FROM to_trust_id", name=op.f("ck_novations_moves")),
        sa.ForeignKeyConstraint(
            ["from_trust_id"], ["trusts.id"], name=op.f("fk_novations_from_trust_id_trusts")
        ),
        sa.ForeignKeyConstraint(
            ["new_licence_id"], ["licences.id"], name=op.f("fk_novations_new_licence_id_licences")
        ),
        sa.ForeignKeyConstraint(
            ["old_licence_id"], ["licences.id"], name=op.f("fk_novations_old_licence_id_licences")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["schools.id"], name=op.f("fk_novations_tenant_id_schools")),
        sa.ForeignKeyConstraint(["to_trust_id"], ["trusts.id"], name=op.f("fk_novations_to_trust_id_trusts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_novations")),
    )
    op.create_index(
        "ix_novations_due",
        "novations",
        ["effective_date"],
        unique=False,
        postgresql_where=sa.text("status = 'ACCEPTED'"),
    )
    op.create_index("ix_novations_from_trust_id", "novations", ["from_trust_id"], unique=False)
    op.create_index("ix_novations_to_trust_id", "novations", ["to_trust_id"], unique=False)
    op.create_index(
        "uq_novations_open_tenant_id",
        "novations",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('PROPOSED', 'ACCEPTED')"),
    )
    op.create_table(
        "suspensions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agreed_longer", sa.Boolean(), nullable=False),
        sa.Column("agreement", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("sessions_revoked", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.UUID(), nullable=True),
        sa.Column("lift_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.CheckConstraint(
            "agreed_longer OR ends_at <= starts_at + interval '30 days'",
            name=op.f("ck_suspensions_thirty_days_unless_agreed"),
        ),
        sa.CheckConstraint(
            "reason IN ('SECURITY_BREACH', 'DATA_BREACH')", name=op.f("ck_suspensions_reason")
        ),
        sa.CheckConstraint(
            "NOT agreed_longer OR agreement IS NOT NULL", name=op.f("ck_suspensions_agreement_recorded")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_suspensions_period")),
        sa.ForeignKeyConstraint(["tenant_id"], ["schools.id"], name=op.f("fk_suspensions_tenant_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspensions")),
    )
    op.create_index(
        "ix_suspensions_due",
        "suspensions",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_index(
        "uq_suspensions_open_tenant_id",
        "suspensions",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.create_table(
        "destruction_records",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("school_slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("school_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroy_on", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("export_path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("export_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("export_bytes", sa.BigInteger(), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_rows", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('PENDING', 'DESTROYED')", name=op.f("ck_destruction_records_status")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["schools.id"], name=op.f("fk_destruction_records_tenant_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_records")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_destruction_records_tenant_id")),
    )
    op.create_index(
        "ix_destruction_records_due",
        "destruction_records",
        ["destroy_on"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING'"),
    )

    for table in GLOBAL_TABLES:
        rls.grant(table, "SELECT, INSERT, UPDATE")
    # The platform audit log is append-only for the application.
    rls.grant("platform_audit", "SELECT, INSERT")
    for table in TENANT_TABLES:
        rls.grant(table)
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V1)


def downgrade() -> None:
    for table in reversed(CREATED):
        op.drop_table(table)

"""integration partners (issue 14): partners and their credentials, per-school approvals and issued tokens.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGE_FED = ("staff", "pupils", "contacts", "groups")
"""The roster tables whose rows carry ``changed_version`` for the partners' change feed."""


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("privacy_notice_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("allowed_scopes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('ACTIVE', 'DISABLED')", name=op.f("ck_partners_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("client_id", name=op.f("uq_partners_client_id")),
    )
    op.create_table(
        "partner_approvals",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "revoked_at IS NULL OR revoked_at >= approved_at", name=op.f("ck_partner_approvals_revoked_after")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_approvals_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_partner_approvals_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_partner_approvals")),
    )
    op.create_index(
        "uq_partner_approvals_current",
        "partner_approvals",
        ["school_id", "partner_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "partner_assertions",
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_assertions_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "jti", name=op.f("pk_partner_assertions")),
    )
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_keys_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_keys")),
    )
    op.create_index("uq_partner_keys_partner_id_kid", "partner_keys", ["partner_id", "kid"], unique=True)
    op.create_table(
        "partner_rate_windows",
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_rate_windows_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_rate_windows")),
    )
    op.create_table(
        "partner_secrets",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_secrets_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_secrets")),
    )
    op.create_index("ix_partner_secrets_partner_id", "partner_secrets", ["partner_id"], unique=False)
    op.create_table(
        "partner_tokens",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("approval_id", sa.UUID(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "approval_id"],
            ["partner_approvals.school_id", "partner_approvals.id"],
            name=op.f("fk_partner_tokens_school_id_approval_id_partner_approvals"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_partner_tokens_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_partner_tokens")),
    )
    op.create_index(
        "ix_partner_tokens_school_id_partner_id", "partner_tokens", ["school_id", "partner_id"], unique=False
    )
    # The registry is the operator's; the runtime role reads partners at every partner request, and the
    # operator's requests (also the runtime role) register, rotate and disable them. Nothing is deleted here.
    rls.grant("partners", "SELECT, INSERT, UPDATE")
    rls.grant("partner_secrets", "SELECT, INSERT, UPDATE")
    rls.grant("partner_keys", "SELECT, INSERT, UPDATE")
    # Used assertion ids are pruned once expired; the rate window is one row per partner, updated in place.
    rls.grant("partner_assertions", "SELECT, INSERT, DELETE")
    rls.grant("partner_rate_windows", "SELECT, INSERT, UPDATE")
    # A school's approvals and tokens: approved, revoked (an UPDATE); approvals are never deleted (the
    # history stays), tokens are purged by the retention step 30 days after they expire (privacy/registry.py).
    rls.grant("partner_approvals", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("partner_approvals", predicate=rls.TENANT_PREDICATE_V2)
    rls.grant("partner_tokens", "SELECT, INSERT, UPDATE, DELETE")
    rls.enable_tenant_rls("partner_tokens", predicate=rls.TENANT_PREDICATE_V2)
    # The change feed (partners/changes.py): every write of a roster row takes the school's next change
    # version from its sequencer row, whatever the application sends; rows written before stay 0 ("before
    # the feed"). The sequencer row stays locked until the writer's transaction ends, so versions are
    # handed out in commit order.
    op.create_table(
        "roster_change_heads",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_roster_change_heads_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_roster_change_heads")),
    )
    rls.grant("roster_change_heads", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("roster_change_heads", predicate=rls.TENANT_PREDICATE_V2)
    op.execute(
        """
        CREATE FUNCTION stamp_change_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO roster_change_heads AS head (school_id, version) VALUES (NEW.school_id, 1)
            ON CONFLICT (school_id) DO UPDATE SET version = head.version + 1
            RETURNING head.version INTO NEW.changed_version;
            RETURN NEW;
        END
        $$"""
    )
    for table in CHANGE_FED:
        op.add_column(
            table, sa.Column("changed_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        op.create_index(f"ix_{table}_school_id_changed_version", table, ["school_id", "changed_version"])
        op.execute(
            f'CREATE TRIGGER stamp_change_version BEFORE INSERT OR UPDATE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION stamp_change_version()"
        )
    # The OAuth endpoints record partners in the platform log (client authentication, token revocation).
    op.drop_constraint(op.f("ck_platform_audit_actor_type"), "platform_audit", type_="check")
    op.create_check_constraint(
        op.f("ck_platform_audit_actor_type"),
        "platform_audit",
        "actor_type IN ('OPERATOR', 'TRUST_ADMIN', 'ANONYMOUS', 'SYSTEM', 'PARTNER')",
    )


def downgrade() -> None:
    for table in CHANGE_FED:
        op.execute(f'DROP TRIGGER stamp_change_version ON "{table}"')
        op.drop_index(f"ix_{table}_school_id_changed_version", table_name=table)
        op.drop_column(table, "changed_version")
    op.execute("DROP FUNCTION stamp_change_version()")
    op.drop_table("roster_change_heads")
    op.execute("DELETE FROM platform_audit WHERE actor_type = 'PARTNER'")
    op.drop_constraint(op.f("ck_platform_audit_actor_type"), "platform_audit", type_="check")
    op.create_check_constraint(
        op.f("ck_platform_audit_actor_type"),
        "platform_audit",
        "actor_type IN ('OPERATOR', 'TRUST_ADMIN', 'ANONYMOUS', 'SYSTEM')",
    )
    op.drop_index("ix_partner_tokens_school_id_partner_id", table_name="partner_tokens")
    op.drop_table("partner_tokens")
    op.drop_index("ix_partner_secrets_partner_id", table_name="partner_secrets")
    op.drop_table("partner_secrets")
    op.drop_table("partner_rate_windows")
    op.drop_index("uq_partner_keys_partner_id_kid", table_name="partner_keys")
    op.drop_table("partner_keys")
    op.drop_table("partner_assertions")
    op.drop_index(
        "uq_partner_approvals_current",
        table_name="partner_approvals",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.drop_table("partner_approvals")
    op.drop_table("partners")

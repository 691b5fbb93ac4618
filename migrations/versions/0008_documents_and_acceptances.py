"""documents and acceptances: versioned licence terms, user policies and the LRS agreement (LL 21, LRS 3,
LL 3.1, LRS 1.1), every acceptance, and the notices inbox's read marks (LL 6.2).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_documents",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("summary_of_changes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('LICENCE_TERMS', 'PRIVACY_NOTICE', 'ACCEPTABLE_USE', 'LRS_AGREEMENT')",
            name=op.f("ck_policy_documents_kind"),
        ),
        sa.CheckConstraint(
            "effective_from >= published_at - interval '1 day'",
            name=op.f("ck_policy_documents_effective_after_publishing"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_documents")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_policy_documents_kind_version")),
    )
    op.create_index("ix_policy_documents_kind_effective", "policy_documents", ["kind", "effective_from"])
    # Published once, never changed: the runtime role reads them and the operator's request inserts them.
    rls.grant("policy_documents", "SELECT, INSERT")

    op.create_table(
        "document_acceptances",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("on_behalf_of_pupil_id", sa.UUID(), nullable=True),
        sa.Column("evidence_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "evidence_reference IS NULL OR on_behalf_of_pupil_id IS NOT NULL",
            name=op.f("ck_document_acceptances_evidence_is_for_a_pupil"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["policy_documents.id"],
            name=op.f("fk_document_acceptances_document_id_policy_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_document_acceptances_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "on_behalf_of_pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_document_acceptances_school_id_on_behalf_of_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_document_acceptances_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_document_acceptances")),
    )
    op.create_index(
        "uq_document_acceptances_own",
        "document_acceptances",
        ["school_id", "account_id", "document_id"],
        unique=True,
        postgresql_where=sa.text("on_behalf_of_pupil_id IS NULL"),
    )
    op.create_index(
        "uq_document_acceptances_on_behalf",
        "document_acceptances",
        ["school_id", "on_behalf_of_pupil_id", "document_id"],
        unique=True,
        postgresql_where=sa.text("on_behalf_of_pupil_id IS NOT NULL"),
    )
    # The history: recorded and never changed; deleted only by an erasure (LL 5.1.6, privacy/registry.py).
    rls.grant("document_acceptances", "SELECT, INSERT, DELETE")
    rls.enable_tenant_rls("document_acceptances", predicate=rls.TENANT_PREDICATE_V2)

    op.create_table(
        "notice_reads",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["policy_documents.id"],
            name=op.f("fk_notice_reads_document_id_policy_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_notice_reads_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_notice_reads_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "account_id", "document_id", name=op.f("pk_notice_reads")),
    )
    rls.grant("notice_reads", "SELECT, INSERT, DELETE")  # DELETE: an erasure
    rls.enable_tenant_rls("notice_reads", predicate=rls.TENANT_PREDICATE_V2)


def downgrade() -> None:
    op.drop_table("notice_reads")
    op.drop_index("uq_document_acceptances_on_behalf", table_name="document_acceptances")
    op.drop_index("uq_document_acceptances_own", table_name="document_acceptances")
    op.drop_table("document_acceptances")
    op.drop_index("ix_policy_documents_kind_effective", table_name="policy_documents")
    op.drop_table("policy_documents")

"""consent and agreements: the consent record of every pupil (LL 6.3.2) and who owes their own (LL 6.3.3).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pupil_consents",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("given_by", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("contact_id", sa.UUID(), nullable=True),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("evidence_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("notice_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("purposes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.UUID(), nullable=True),
        sa.Column("withdrawal_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.CheckConstraint("given_by IN ('PARENT', 'PUPIL')", name=op.f("ck_pupil_consents_given_by")),
        sa.CheckConstraint("method IN ('DIGITAL', 'PAPER')", name=op.f("ck_pupil_consents_method")),
        sa.CheckConstraint(
            "(given_by = 'PARENT') = (contact_id IS NOT NULL)",
            name=op.f("ck_pupil_consents_parent_names_contact"),
        ),
        sa.CheckConstraint(
            "(method = 'PAPER') = (evidence_reference IS NOT NULL)",
            name=op.f("ck_pupil_consents_paper_has_evidence"),
        ),
        sa.CheckConstraint(
            "withdrawn_at IS NULL OR withdrawn_at >= recorded_at",
            name=op.f("ck_pupil_consents_withdrawn_after"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "contact_id"],
            ["contacts.school_id", "contacts.id"],
            name=op.f("fk_pupil_consents_school_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_pupil_consents_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_pupil_consents_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_pupil_consents")),
    )
    op.create_index(
        "ix_pupil_consents_school_id_pupil_id", "pupil_consents", ["school_id", "pupil_id"], unique=False
    )
    op.create_index(
        "uq_pupil_consents_current",
        "pupil_consents",
        ["school_id", "pupil_id", "given_by"],
        unique=True,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    # The history is kept: the runtime role records consents and withdrawals (an UPDATE of withdrawn_*),
    # and never deletes one.
    rls.grant("pupil_consents", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("pupil_consents", predicate=rls.TENANT_PREDICATE_V2)
    op.create_table(
        "own_consent_due",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parent_responsible_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("parent_responsible_by", sa.UUID(), nullable=True),
        sa.Column("parent_responsible_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_own_consent_due_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_own_consent_due_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "pupil_id", name=op.f("pk_own_consent_due")),
    )
    # The job flags, an admin records a parent's continuing responsibility; a flag is never removed here.
    rls.grant("own_consent_due", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("own_consent_due", predicate=rls.TENANT_PREDICATE_V2)


def downgrade() -> None:
    op.drop_table("own_consent_due")
    op.drop_index("uq_pupil_consents_current", table_name="pupil_consents")
    op.drop_index("ix_pupil_consents_school_id_pupil_id", table_name="pupil_consents")
    op.drop_table("pupil_consents")

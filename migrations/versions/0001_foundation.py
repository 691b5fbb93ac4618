"""foundation: trusts, schools, people, groups, accounts

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:39:33.653767
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reference tables: the runtime role may create and edit them (platform operations), never delete.
GLOBAL_TABLES = ("trusts", "schools")
TENANT_TABLES = (
    "staff",
    "pupils",
    "contacts",
    "pupil_contacts",
    "groups",
    "group_pupils",
    "group_teachers",
    "accounts",
    "auth_sessions",
    "refresh_tokens",
    "parent_codes",
)


def upgrade() -> None:
    op.create_table(
        "address_throttles",
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_address_throttles")),
    )
    op.create_table(
        "schools",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("urn", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "phase IN ('NURSERY', 'PRIMARY', 'MIDDLE', 'SECONDARY', 'ALL_THROUGH', 'SPECIAL', 'ALTERNATIVE_PROVISION')",
            name=op.f("ck_schools_phase"),
        ),
        sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_schools_slug_format")),
        sa.CheckConstraint("status IN ('ACTIVE', 'SUSPENDED', 'TERMINATED')", name=op.f("ck_schools_status")),
        sa.CheckConstraint("urn IS NULL OR urn ~ '^[0-9]{6,7}$'", name=op.f("ck_schools_urn_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
        sa.UniqueConstraint("slug", name=op.f("uq_schools_slug")),
        sa.UniqueConstraint("urn", name=op.f("uq_schools_urn")),
    )
    op.create_table(
        "trusts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('MULTI_ACADEMY_TRUST', 'SINGLE_ACADEMY_TRUST', 'LOCAL_AUTHORITY')",
            name=op.f("ck_trusts_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusts")),
        sa.UniqueConstraint("slug", name=op.f("uq_trusts_slug")),
    )
    op.create_table(
        "contacts",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("forename", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("surname", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_contacts_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("school_id", "source_id", name=op.f("uq_contacts_school_id_source_id")),
    )
    op.create_table(
        "groups",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("year_group", sa.Integer(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "type IN ('REGISTRATION', 'YEAR', 'CLASS', 'SUBJECT', 'CUSTOM')", name=op.f("ck_groups_type")
        ),
        sa.CheckConstraint(
            "year_group IS NULL OR year_group BETWEEN -2 AND 14", name=op.f("ck_groups_year_group")
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_groups_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_groups")),
        sa.UniqueConstraint("school_id", "external_id", name=op.f("uq_groups_school_id_external_id")),
    )
    op.create_table(
        "pupils",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("forename", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("surname", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("gender", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("upn", sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
        sa.Column("uln", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("date_of_leaving", sa.Date(), nullable=True),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "gender IN ('FEMALE', 'MALE', 'OTHER', 'NOT_KNOWN')", name=op.f("ck_pupils_gender")
        ),
        sa.CheckConstraint("uln IS NULL OR uln ~ '^[1-9][0-9]{9}$'", name=op.f("ck_pupils_uln_format")),
        sa.CheckConstraint("upn ~ '^[A-Z][0-9]{11}[0-9A-Z]$'", name=op.f("ck_pupils_upn_format")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_pupils_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_pupils")),
        sa.UniqueConstraint("school_id", "source_id", name=op.f("uq_pupils_school_id_source_id")),
        sa.UniqueConstraint("school_id", "upn", name=op.f("uq_pupils_school_id_upn")),
    )
    op.create_index(
        "ix_pupils_school_id_surname_forename", "pupils", ["school_id", "surname", "forename"], unique=False
    )
    op.create_table(
        "school_trust_memberships",
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("trust_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from",
            name=op.f("ck_school_trust_memberships_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_trust_memberships_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["trust_id"], ["trusts.id"], name=op.f("fk_school_trust_memberships_trust_id_trusts")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_school_trust_memberships")),
    )
    op.create_index(
        "uq_school_trust_memberships_open",
        "school_trust_memberships",
        ["school_id"],
        unique=True,
        postgresql_where=sa.text("effective_to IS NULL"),
    )
    op.create_table(
        "staff",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("forename", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("surname", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("work_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("secondary_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("teaching", sa.Boolean(), nullable=False),
        sa.Column("role_text", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("staff_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("date_of_leaving", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pupil_access", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("pupil_access_reason", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("pupil_access_granted_by", sa.UUID(), nullable=True),
        sa.Column("pupil_access_granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("pupil_access IN ('TAUGHT', 'SCHOOL')", name=op.f("ck_staff_pupil_access")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_staff_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_staff")),
        sa.UniqueConstraint("school_id", "source_id", name=op.f("uq_staff_school_id_source_id")),
        sa.UniqueConstraint("school_id", "staff_code", name=op.f("uq_staff_school_id_staff_code")),
    )
    op.create_table(
        "accounts",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("staff_id", sa.UUID(), nullable=True),
        sa.Column("pupil_id", sa.UUID(), nullable=True),
        sa.Column("contact_id", sa.UUID(), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(role = 'SCHOOL_ADMIN' AND pupil_id IS NULL AND contact_id IS NULL) OR (role = 'STAFF' AND staff_id IS NOT NULL AND pupil_id IS NULL AND contact_id IS NULL) OR (role = 'PUPIL' AND pupil_id IS NOT NULL AND staff_id IS NULL AND contact_id IS NULL) OR (role = 'PARENT' AND contact_id IS NOT NULL AND staff_id IS NULL AND pupil_id IS NULL)",
            name=op.f("ck_accounts_role_person"),
        ),
        sa.CheckConstraint(
            "role IN ('SCHOOL_ADMIN', 'STAFF', 'PUPIL', 'PARENT')", name=op.f("ck_accounts_role")
        ),
        sa.CheckConstraint("status IN ('PENDING', 'ACTIVE', 'DISABLED')", name=op.f("ck_accounts_status")),
        sa.ForeignKeyConstraint(
            ["school_id", "contact_id"],
            ["contacts.school_id", "contacts.id"],
            name=op.f("fk_accounts_school_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_accounts_school_id_pupil_id_pupils"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "staff_id"],
            ["staff.school_id", "staff.id"],
            name=op.f("fk_accounts_school_id_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_accounts_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("school_id", "contact_id", name=op.f("uq_accounts_school_id_contact_id")),
        sa.UniqueConstraint("school_id", "pupil_id", name=op.f("uq_accounts_school_id_pupil_id")),
        sa.UniqueConstraint("school_id", "staff_id", name=op.f("uq_accounts_school_id_staff_id")),
    )
    op.create_index(
        "uq_accounts_school_id_lower_username",
        "accounts",
        ["school_id", sa.literal_column("lower(username)")],
        unique=True,
    )
    op.create_table(
        "group_pupils",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("pupil_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id", "group_id"],
            ["groups.school_id", "groups.id"],
            name=op.f("fk_group_pupils_school_id_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_group_pupils_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_group_pupils_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "group_id", "pupil_id", name=op.f("pk_group_pupils")),
    )
    op.create_index(
        "ix_group_pupils_school_id_pupil_id", "group_pupils", ["school_id", "pupil_id"], unique=False
    )
    op.create_table(
        "group_teachers",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id", "group_id"],
            ["groups.school_id", "groups.id"],
            name=op.f("fk_group_teachers_school_id_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "staff_id"],
            ["staff.school_id", "staff.id"],
            name=op.f("fk_group_teachers_school_id_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_group_teachers_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "group_id", "staff_id", name=op.f("pk_group_teachers")),
    )
    op.create_index(
        "ix_group_teachers_school_id_staff_id", "group_teachers", ["school_id", "staff_id"], unique=False
    )
    op.create_table(
        "pupil_contacts",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("relationship", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "relationship IN ('PARENT', 'GUARDIAN', 'CARER', 'RELATIVE', 'OTHER')",
            name=op.f("ck_pupil_contacts_relationship"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "contact_id"],
            ["contacts.school_id", "contacts.id"],
            name=op.f("fk_pupil_contacts_school_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_pupil_contacts_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_pupil_contacts_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "pupil_id", "contact_id", name=op.f("pk_pupil_contacts")),
    )
    op.create_index(
        "ix_pupil_contacts_school_id_contact_id", "pupil_contacts", ["school_id", "contact_id"], unique=False
    )
    op.create_table(
        "auth_sessions",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "account_id"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_auth_sessions_school_id_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_auth_sessions_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(
        "ix_auth_sessions_school_id_account_id", "auth_sessions", ["school_id", "account_id"], unique=False
    )
    op.create_table(
        "parent_codes",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("relationship", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("issued_by", sa.UUID(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "issued_by"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_parent_codes_school_id_issued_by_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_parent_codes_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "used_by"],
            ["accounts.school_id", "accounts.id"],
            name=op.f("fk_parent_codes_school_id_used_by_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_parent_codes_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_parent_codes")),
        sa.UniqueConstraint("school_id", "code_hash", name=op.f("uq_parent_codes_school_id_code_hash")),
    )
    op.create_index(
        "ix_parent_codes_school_id_pupil_id", "parent_codes", ["school_id", "pupil_id"], unique=False
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "session_id"],
            ["auth_sessions.school_id", "auth_sessions.id"],
            name=op.f("fk_refresh_tokens_school_id_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_refresh_tokens_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("school_id", "token_hash", name=op.f("uq_refresh_tokens_school_id_token_hash")),
    )
    op.create_index(
        "ix_refresh_tokens_school_id_session_id", "refresh_tokens", ["school_id", "session_id"], unique=False
    )

    rls.ensure_runtime_role()
    for table in GLOBAL_TABLES:
        rls.grant(table, "SELECT, INSERT, UPDATE")
    rls.grant("address_throttles")
    for table in TENANT_TABLES:
        rls.grant(table)
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V1)
    # A trust's context reads the memberships of its own schools (set per transaction, like the schools).
    rls.grant("school_trust_memberships", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls(
        "school_trust_memberships",
        predicate=rls.TENANT_PREDICATE_V1,
        extra_using="trust_id = ANY (string_to_array(NULLIF(current_setting('app.trust_ids', true), ''), ',')::uuid[])",
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_school_id_session_id", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("ix_parent_codes_school_id_pupil_id", table_name="parent_codes")
    op.drop_table("parent_codes")
    op.drop_index("ix_auth_sessions_school_id_account_id", table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_index("ix_pupil_contacts_school_id_contact_id", table_name="pupil_contacts")
    op.drop_table("pupil_contacts")
    op.drop_index("ix_group_teachers_school_id_staff_id", table_name="group_teachers")
    op.drop_table("group_teachers")
    op.drop_index("ix_group_pupils_school_id_pupil_id", table_name="group_pupils")
    op.drop_table("group_pupils")
    op.drop_index("uq_accounts_school_id_lower_username", table_name="accounts")
    op.drop_table("accounts")
    op.drop_table("staff")
    op.drop_index(
        "uq_school_trust_memberships_open",
        table_name="school_trust_memberships",
        postgresql_where=sa.text("effective_to IS NULL"),
    )
    op.drop_table("school_trust_memberships")
    op.drop_index("ix_pupils_school_id_surname_forename", table_name="pupils")
    op.drop_table("pupils")
    op.drop_table("groups")
    op.drop_table("contacts")
    op.drop_table("trusts")
    op.drop_table("schools")
    op.drop_table("address_throttles")

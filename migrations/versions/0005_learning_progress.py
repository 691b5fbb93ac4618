"""learning_progress: ladders and rungs, judgements, assignments and work, content and its use,
records of achievement and learning goals; the starter curriculum as global reference data.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from learning.curriculum import sync_starter
from migrations import rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reference tables: every school reads them. The runtime role may also mark pre-loaded content taken
# down (the operator's takedown, LL 8.4); the curriculum itself changes only through migrations.
GLOBAL_READ = ("curriculum_ladders", "curriculum_rungs")
TENANT_TABLES = (
    "school_ladders",
    "school_rungs",
    "level_labels",
    "judgements",
    "stored_files",
    "school_content",
    "assignments",
    "submissions",
    "achievements",
    "learning_goals",
    "print_grants",
    "content_reports",
)
# Records that are kept as written (LL 7.1.4: the download log; LL 6.4.2: the print record).
APPEND_ONLY = ("downloads", "print_requests")


def upgrade() -> None:
    op.create_table(
        "curriculum_ladders",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("year_group", sa.Integer(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "year_group IS NULL OR year_group BETWEEN -2 AND 14",
            name=op.f("ck_curriculum_ladders_year_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_ladders")),
        sa.UniqueConstraint("code", name=op.f("uq_curriculum_ladders_code")),
    )
    op.create_table(
        "curriculum_rungs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("ladder_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.CheckConstraint("position > 0", name=op.f("ck_curriculum_rungs_position")),
        sa.ForeignKeyConstraint(
            ["ladder_id"],
            ["curriculum_ladders.id"],
            name=op.f("fk_curriculum_rungs_ladder_id_curriculum_ladders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curriculum_rungs")),
        sa.UniqueConstraint("code", name=op.f("uq_curriculum_rungs_code")),
        sa.UniqueConstraint("ladder_id", "position", name=op.f("uq_curriculum_rungs_ladder_id_position")),
    )
    op.create_table(
        "level_labels",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "level IN ('NOT_YET', 'WORKING_TOWARDS', 'SECURE', 'GREATER_DEPTH')",
            name=op.f("ck_level_labels_level"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_level_labels_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "level", name=op.f("pk_level_labels")),
    )
    op.create_table(
        "platform_content",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("year_group", sa.Integer(), nullable=True),
        sa.Column("is_workbook", sa.Boolean(), nullable=False),
        sa.Column("ladder_id", sa.UUID(), nullable=True),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("taken_down_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("takedown_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(ladder_id IS NULL) <> (storage_key IS NULL)", name=op.f("ck_platform_content_one_source")
        ),
        sa.CheckConstraint(
            "year_group IS NULL OR year_group BETWEEN -2 AND 14", name=op.f("ck_platform_content_year_group")
        ),
        sa.ForeignKeyConstraint(
            ["ladder_id"],
            ["curriculum_ladders.id"],
            name=op.f("fk_platform_content_ladder_id_curriculum_ladders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_content")),
        sa.UniqueConstraint("code", name=op.f("uq_platform_content_code")),
    )
    op.create_table(
        "school_ladders",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("year_group", sa.Integer(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "year_group IS NULL OR year_group BETWEEN -2 AND 14", name=op.f("ck_school_ladders_year_group")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_ladders_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_school_ladders")),
        sa.UniqueConstraint("school_id", "code", name=op.f("uq_school_ladders_school_id_code")),
    )
    op.create_table(
        "stored_files",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uploaded_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_stored_files_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "achievements",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("awarding_body", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("achieved_on", sa.Date(), nullable=False),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("recorded_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('AWARD', 'QUALIFICATION', 'PARTICIPATION')", name=op.f("ck_achievements_kind")
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_achievements_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_achievements_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_achievements")),
    )
    op.create_index(
        "ix_achievements_school_id_pupil_id", "achievements", ["school_id", "pupil_id"], unique=False
    )
    op.create_table(
        "judgements",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("ladder_id", sa.UUID(), nullable=False),
        sa.Column("rung_id", sa.UUID(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("assessed_by_staff", sa.UUID(), nullable=True),
        sa.Column("recorded_by", sa.UUID(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "level IN ('NOT_YET', 'WORKING_TOWARDS', 'SECURE', 'GREATER_DEPTH')",
            name=op.f("ck_judgements_level"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_judgements_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_judgements_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_judgements")),
    )
    op.create_index(
        "ix_judgements_school_id_ladder_id", "judgements", ["school_id", "ladder_id"], unique=False
    )
    op.create_index(
        "ix_judgements_school_id_pupil_id_ladder_id_rung_id_latest",
        "judgements",
        ["school_id", "pupil_id", "ladder_id", "rung_id", "assessed_on", "recorded_at"],
        unique=False,
    )
    op.create_table(
        "learning_goals",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("rung_id", sa.UUID(), nullable=True),
        sa.Column("target_on", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("set_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status IN ('OPEN', 'ACHIEVED', 'DROPPED')", name=op.f("ck_learning_goals_status")
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_learning_goals_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_learning_goals_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_learning_goals")),
    )
    op.create_index(
        "ix_learning_goals_school_id_pupil_id", "learning_goals", ["school_id", "pupil_id"], unique=False
    )
    op.create_table(
        "school_content",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("year_group", sa.Integer(), nullable=True),
        sa.Column("is_workbook", sa.Boolean(), nullable=False),
        sa.Column("file_id", sa.UUID(), nullable=False),
        sa.Column("uploaded_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("taken_down_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_down_by", sa.UUID(), nullable=True),
        sa.Column("takedown_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "year_group IS NULL OR year_group BETWEEN -2 AND 14", name=op.f("ck_school_content_year_group")
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "file_id"],
            ["stored_files.school_id", "stored_files.id"],
            name=op.f("fk_school_content_school_id_file_id_stored_files"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_content_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_school_content")),
    )
    op.create_table(
        "school_rungs",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("ladder_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.CheckConstraint("position > 0", name=op.f("ck_school_rungs_position")),
        sa.ForeignKeyConstraint(
            ["school_id", "ladder_id"],
            ["school_ladders.school_id", "school_ladders.id"],
            name=op.f("fk_school_rungs_school_id_ladder_id_school_ladders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_rungs_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_school_rungs")),
        sa.UniqueConstraint("school_id", "code", name=op.f("uq_school_rungs_school_id_code")),
        sa.UniqueConstraint(
            "school_id", "ladder_id", "position", name=op.f("uq_school_rungs_school_id_ladder_id_position")
        ),
    )
    op.create_table(
        "assignments",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("platform_content_id", sa.UUID(), nullable=True),
        sa.Column("school_content_id", sa.UUID(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("set_by", sa.UUID(), nullable=False),
        sa.Column("set_by_staff", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('HOMEWORK', 'REVISION')", name=op.f("ck_assignments_kind")),
        sa.CheckConstraint(
            "NOT (platform_content_id IS NOT NULL AND school_content_id IS NOT NULL)",
            name=op.f("ck_assignments_content"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_content_id"],
            ["platform_content.id"],
            name=op.f("fk_assignments_platform_content_id_platform_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "group_id"],
            ["groups.school_id", "groups.id"],
            name=op.f("fk_assignments_school_id_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "school_content_id"],
            ["school_content.school_id", "school_content.id"],
            name=op.f("fk_assignments_school_id_school_content_id_school_content"),
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_assignments_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_assignments")),
    )
    op.create_index(
        "ix_assignments_school_id_group_id_due_on",
        "assignments",
        ["school_id", "group_id", "due_on"],
        unique=False,
    )
    op.create_table(
        "content_reports",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("platform_content_id", sa.UUID(), nullable=True),
        sa.Column("school_content_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.UUID(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reviewed_by", sa.UUID(), nullable=True),
        sa.Column("reviewed_by_operator", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploader_suspended", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('OPEN', 'TAKEN_DOWN', 'DISMISSED')", name=op.f("ck_content_reports_status")
        ),
        sa.CheckConstraint(
            "(platform_content_id IS NULL) <> (school_content_id IS NULL)",
            name=op.f("ck_content_reports_one_content"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_content_id"],
            ["platform_content.id"],
            name=op.f("fk_content_reports_platform_content_id_platform_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "school_content_id"],
            ["school_content.school_id", "school_content.id"],
            name=op.f("fk_content_reports_school_id_school_content_id_school_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_content_reports_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_content_reports")),
    )
    op.create_index(
        "ix_content_reports_school_id_status_reported_at",
        "content_reports",
        ["school_id", "status", "reported_at"],
        unique=False,
    )
    op.create_table(
        "downloads",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("platform_content_id", sa.UUID(), nullable=True),
        sa.Column("school_content_id", sa.UUID(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "downloaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "(platform_content_id IS NULL) <> (school_content_id IS NULL)",
            name=op.f("ck_downloads_one_content"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_content_id"],
            ["platform_content.id"],
            name=op.f("fk_downloads_platform_content_id_platform_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "school_content_id"],
            ["school_content.school_id", "school_content.id"],
            name=op.f("fk_downloads_school_id_school_content_id_school_content"),
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_downloads_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_downloads")),
    )
    op.create_index(
        "ix_downloads_school_id_downloaded_at", "downloads", ["school_id", "downloaded_at"], unique=False
    )
    op.create_table(
        "print_grants",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("platform_content_id", sa.UUID(), nullable=True),
        sa.Column("school_content_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.UUID(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(platform_content_id IS NULL) <> (school_content_id IS NULL)",
            name=op.f("ck_print_grants_one_content"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_content_id"],
            ["platform_content.id"],
            name=op.f("fk_print_grants_platform_content_id_platform_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_print_grants_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "school_content_id"],
            ["school_content.school_id", "school_content.id"],
            name=op.f("fk_print_grants_school_id_school_content_id_school_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_print_grants_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_print_grants")),
    )
    op.create_index(
        "ix_print_grants_school_id_pupil_id", "print_grants", ["school_id", "pupil_id"], unique=False
    )
    op.create_table(
        "print_requests",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("platform_content_id", sa.UUID(), nullable=True),
        sa.Column("school_content_id", sa.UUID(), nullable=True),
        sa.Column("copy_number", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "(platform_content_id IS NULL) <> (school_content_id IS NULL)",
            name=op.f("ck_print_requests_one_content"),
        ),
        sa.CheckConstraint("copy_number > 0", name=op.f("ck_print_requests_copy_number")),
        sa.ForeignKeyConstraint(
            ["platform_content_id"],
            ["platform_content.id"],
            name=op.f("fk_print_requests_platform_content_id_platform_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_print_requests_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "school_content_id"],
            ["school_content.school_id", "school_content.id"],
            name=op.f("fk_print_requests_school_id_school_content_id_school_content"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_print_requests_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_print_requests")),
        sa.UniqueConstraint(
            "school_id",
            "pupil_id",
            "platform_content_id",
            "school_content_id",
            "copy_number",
            name="uq_print_requests_copy",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "submissions",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("assignment_id", sa.UUID(), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("file_id", sa.UUID(), nullable=True),
        sa.Column("submitted_by", sa.UUID(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("feedback_by", sa.UUID(), nullable=True),
        sa.Column("feedback_by_staff", sa.UUID(), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id", "assignment_id"],
            ["assignments.school_id", "assignments.id"],
            name=op.f("fk_submissions_school_id_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "file_id"],
            ["stored_files.school_id", "stored_files.id"],
            name=op.f("fk_submissions_school_id_file_id_stored_files"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id", "pupil_id"],
            ["pupils.school_id", "pupils.id"],
            name=op.f("fk_submissions_school_id_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_submissions_school_id_schools")),
        sa.PrimaryKeyConstraint("school_id", "id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "school_id",
            "assignment_id",
            "pupil_id",
            name=op.f("uq_submissions_school_id_assignment_id_pupil_id"),
        ),
    )
    op.create_index(
        "ix_submissions_school_id_pupil_id", "submissions", ["school_id", "pupil_id"], unique=False
    )

    for table in GLOBAL_READ:
        rls.grant(table, "SELECT")
    rls.grant("platform_content", "SELECT")
    op.execute(f'GRANT UPDATE (taken_down_at, takedown_reason) ON platform_content TO "{rls.runtime_role()}"')
    for table in TENANT_TABLES:
        rls.grant(table)
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V1)
    for table in APPEND_ONLY:
        rls.grant(table, "SELECT, INSERT")
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V1)
    # The starter curriculum (reading, writing, maths, Years 1-6) and its workbooks: global reference data.
    sync_starter(op.get_bind())


def downgrade() -> None:
    for table in (
        "submissions",
        "print_requests",
        "print_grants",
        "downloads",
        "content_reports",
        "assignments",
        "school_rungs",
        "school_content",
        "learning_goals",
        "judgements",
        "achievements",
        "stored_files",
        "school_ladders",
        "platform_content",
        "level_labels",
        "curriculum_rungs",
        "curriculum_ladders",
    ):
        op.drop_table(table)

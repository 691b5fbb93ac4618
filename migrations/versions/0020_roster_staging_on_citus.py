"""the roster import on Citus: staging tables distributed with the schools' rows; the operator's takedown of
pre-loaded content (issue 19, ADR 0019)

Revision ID: 0020
Revises: 0018

On plain PostgreSQL an import stages what it read in ``TEMPORARY`` tables of its own transaction
(``roster/staging.py``). On Citus those are local tables of the coordinator, which Citus cannot join to the
school's shards in the import's statements (correlated subqueries, writes). So the same tables exist here as
tenant tables (``school_id`` first, row-level security), distributed by ``school_id`` with every other
tenant table: on Citus an import stages into them, and each of its statements, filtered on the school, runs
on the one worker that holds the school's shards. Their rows live only inside the importing transaction (it
deletes them before it commits; a refused import or a dry run rolls them back), so no other transaction
ever sees one. On plain PostgreSQL they stay empty: the import's temporary tables, of the same names, come
first on the search path. UNLOGGED: nothing in them outlives a transaction, so nothing needs the WAL.

tests/test_roster_staging.py checks that these columns are those of ``roster/staging.py`` (plus
``school_id``).

Content takedown on Citus: updating ``platform_content`` (a reference table with a foreign key to
``curriculum_ladders``) makes Citus lock the referenced table's shards, which it allows only to a role with
UPDATE, DELETE or TRUNCATE on it. TRUNCATE is the one the runtime role can never use there: PostgreSQL
refuses to truncate a table other tables' foreign keys reference (``curriculum_rungs``,
``platform_content``, the schools' ladders) unless they are truncated with it, and the runtime role may
truncate none of them. Granted on Citus only.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations import citus, rls

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T, N, B, D, U = sa.Text, sa.Integer, sa.Boolean, sa.Date, sa.UUID


def TEXTS() -> ARRAY:
    return ARRAY(sa.Text)


STAGING: dict[str, tuple[tuple[str, Any], ...]] = {
    "roster_stage_people": (
        ("row_no", N), ("file", T), ("sourced_id", T), ("status", T), ("kind", T), ("role", T),
        ("username", T), ("title", T), ("forename", T), ("surname", T), ("email", T),
        ("secondary_email", T), ("phone", T), ("teaching", B), ("role_text", T), ("staff_code", T),
        ("date_of_leaving", D), ("upn", T), ("upn_column", T), ("uln", T), ("dob", D), ("gender", T),
        ("dob_file", T), ("dob_row", N), ("agent_ids", TEXTS), ("in_school", B),
        ("preferred_forename", T),
    ),
    "roster_stage_demographics": (
        ("row_no", N), ("sourced_id", T), ("status", T), ("dob", D), ("gender", T),
    ),
    "roster_stage_roles": (
        ("row_no", N), ("sourced_id", T), ("status", T), ("user_id", T), ("role_type", T), ("role", T),
        ("org_id", T),
    ),
    "roster_stage_groups": (
        ("row_no", N), ("file", T), ("sourced_id", T), ("status", T), ("name", T), ("type", T),
        ("year_group", N), ("subject", T), ("term_ids", TEXTS),
    ),
    "roster_stage_terms": (
        ("row_no", N), ("sourced_id", T), ("status", T), ("title", T), ("type", T), ("start_date", D),
        ("end_date", D), ("parent_id", T), ("school_year", N),
    ),
    "roster_stage_enrollments": (
        ("row_no", N), ("file", T), ("sourced_id", T), ("status", T), ("group_sid", T),
        ("person_sid", T), ("role", T),
    ),
    "roster_stage_extended": (
        ("row_no", N), ("pupil_sid", T), ("lea_care", B), ("sen_status", T), ("pupil_premium", B),
        ("eal", B),
    ),
    "roster_match_people": (
        ("kind", T), ("sourced_id", T), ("id", U), ("adopt", B), ("created", B), ("staged", B),
        ("active_row", B),
    ),
    "roster_match_groups": (("sourced_id", T), ("id", U), ("created", B), ("staged", B), ("active_row", B)),
    "roster_match_terms": (("sourced_id", T), ("id", U), ("created", B), ("staged", B), ("active_row", B)),
    "roster_known_people": (("sourced_id", T), ("kind", T)),
    "roster_flagged_enrollments": (
        ("file", T), ("row_no", N), ("group_sid", T), ("person_sid", T), ("role", T), ("kind", T),
        ("unknown_class", B), ("unknown_user", B), ("mismatch", B), ("ignored", B),
    ),
    "roster_pairs": (("a", U), ("b", U), ("ended", B), ("relationship", T)),
    "roster_left": (("kind", T), ("id", U)),
}  # fmt: skip
STAGE_KEY = "stage_key"
PRIMARY_KEYS = {
    "roster_match_people": ("kind", "sourced_id"),
    "roster_match_groups": ("sourced_id",),
    "roster_match_terms": ("sourced_id",),
}
NOT_NULL = {
    "roster_match_people": {"kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"},
    "roster_match_groups": {"sourced_id", "id", "created", "staged", "active_row"},
    "roster_match_terms": {"sourced_id", "id", "created", "staged", "active_row"},
    "roster_known_people": {"sourced_id", "kind"},
    "roster_pairs": {"a", "b", "ended"},
    "roster_left": {"kind", "id"},
}


def upgrade() -> None:
    for table, columns in STAGING.items():
        required = NOT_NULL.get(table, set())
        key = PRIMARY_KEYS.get(table)
        # A table whose rows have no key of their own gets one (every tenant table has a primary key
        # leading with school_id); a default, so the import's statements never name it.
        surrogate = [] if key else [sa.Column(STAGE_KEY, sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)]  # fmt: skip
        op.create_table(
            table,
            sa.Column("school_id", sa.UUID(), nullable=False),
            *(sa.Column(name, kind(), nullable=name not in required) for name, kind in columns),
            *surrogate,
            sa.PrimaryKeyConstraint("school_id", *(key or (STAGE_KEY,)), name=op.f(f"pk_{table}")),
            prefixes=["UNLOGGED"],
        )
        rls.grant(table)
        rls.enable_tenant_rls(table, predicate=rls.TENANT_PREDICATE_V2)
    op.create_index(
        "ix_roster_known_people_school_id_sourced_id", "roster_known_people", ["school_id", "sourced_id"]
    )
    citus.distribute()
    if citus.installed():
        rls.grant("curriculum_ladders", "TRUNCATE")


def downgrade() -> None:
    if citus.installed():
        op.execute(f'REVOKE TRUNCATE ON curriculum_ladders FROM "{rls.runtime_role()}"')
    for table in reversed(STAGING):
        op.drop_table(table)

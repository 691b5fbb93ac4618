"""roster roles, preferred names and ANALYZE: a staff member's OneRoster role (so that an aide is exported as
``aide``), a preferred given name kept apart from the legal one, and ``roster_analyze``, through which the
runtime role has the tables an import wrote analysed (it cannot ANALYZE tables it does not own).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAFF_ROLES = (
    "teacher",
    "aide",
    "administrator",
    "principal",
    "siteAdministrator",
    "districtAdministrator",
    "systemAdministrator",
    "counselor",
    "proctor",
)
ROSTER_TABLES = (
    "terms",
    "groups",
    "staff",
    "pupils",
    "contacts",
    "group_terms",
    "group_pupils",
    "group_teachers",
    "pupil_contacts",
    "pupil_extended_data",
    "accounts",
)


def upgrade() -> None:
    op.add_column(
        "staff", sa.Column("staff_role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_staff_staff_role"),
        "staff",
        "staff_role IS NULL OR staff_role IN (" + ", ".join(f"'{r}'" for r in STAFF_ROLES) + ")",
    )
    for table in ("pupils", "staff", "contacts"):
        op.add_column(
            table,
            sa.Column("preferred_forename", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        )
    # Owned by the migrating role, executable by the runtime role only: it analyses nothing but the fixed
    # list of roster tables (whatever it is given), schema-qualified, with a search_path that no caller can
    # put a function or table of its own into (pg_temp last).
    tables = ", ".join(f"'{t}'" for t in ROSTER_TABLES)
    op.execute(
        f"""
        CREATE FUNCTION roster_analyze(requested text[]) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            target text;
            analysed integer := 0;
        BEGIN
            FOREACH target IN ARRAY ARRAY[{tables}]::text[] LOOP
                IF target = ANY (requested) THEN
                    EXECUTE format('ANALYZE public.%I', target);
                    analysed := analysed + 1;
                END IF;
            END LOOP;
            RETURN analysed;
        END
        $$"""
    )
    op.execute("REVOKE ALL ON FUNCTION roster_analyze(text[]) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION roster_analyze(text[]) TO "{rls.runtime_role()}"')


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS roster_analyze(text[])")
    for table in ("contacts", "staff", "pupils"):
        op.drop_column(table, "preferred_forename")
    op.drop_constraint("ck_staff_staff_role", "staff", type_="check")
    op.drop_column("staff", "staff_role")

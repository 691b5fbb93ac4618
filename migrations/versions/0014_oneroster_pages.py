"""OneRoster pages by index: each person table's ``(school_id, sourcedId) WHERE active`` index, so the
provider reads a page of users in sourcedId order without the rows before it; and the school's roster
version (``roster_change_heads``) bumped also when a person or group row is deleted and whenever the
restriction of a person's processing is recorded, changed or removed, so that a version names one set of
served persons (the provider's remembered page positions are stamped with it).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONS = ("staff", "pupils", "contacts")
REMOVED = ("staff", "pupils", "contacts", "groups")
"""The tables whose inserts and updates the ``stamp_change_version`` trigger (0011) already versions."""


def upgrade() -> None:
    for table in PERSONS:
        op.execute(
            f'CREATE INDEX "ix_{table}_school_id_sourced_id" ON "{table}" '
            "(school_id, (coalesce(source_id, id::text))) WHERE active"
        )
    op.execute(
        """
        CREATE FUNCTION bump_roster_version() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            school uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.school_id ELSE NEW.school_id END;
        BEGIN
            INSERT INTO roster_change_heads AS head (school_id, version) VALUES (school, 1)
            ON CONFLICT (school_id) DO UPDATE SET version = head.version + 1;
            RETURN NULL;
        END
        $$"""
    )
    for table in REMOVED:
        op.execute(
            f'CREATE TRIGGER bump_roster_version AFTER DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION bump_roster_version()"
        )
    op.execute(
        "CREATE TRIGGER bump_roster_version AFTER INSERT OR UPDATE OR DELETE ON processing_restrictions "
        "FOR EACH ROW EXECUTE FUNCTION bump_roster_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER bump_roster_version ON processing_restrictions")
    for table in REMOVED:
        op.execute(f'DROP TRIGGER bump_roster_version ON "{table}"')
    op.execute("DROP FUNCTION bump_roster_version()")
    for table in PERSONS:
        op.execute(f'DROP INDEX "ix_{table}_school_id_sourced_id"')

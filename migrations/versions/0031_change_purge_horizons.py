"""change_purge_horizons: the newest version of a tombstone purged, per school and collection, so that the
change feed can tell a consumer that it may have missed a deletion (issue 14).

A deleted object's tombstone is kept 30 days (the retention step purges it then). A partner that last read
the feed before a deletion and comes back after its tombstone was purged was served nothing of it and kept
its copy: of an erased pupil, against GDPR Art. 17(2) and 19. The feed now refuses such a ``since``,
telling the partner to read the collection again from the start (Ed-Fi's oldest available change version,
Microsoft Graph's and Google's "full sync required"). For that it needs, per school and collection, the
newest version of a tombstone purged (a version only: the purged sourcedIds are gone, as erasure and
retention require): this table, written by a trigger on every deletion of a tombstone (whoever deletes it:
the retention step today), and never lowered. A row trigger, not a statement trigger with a transition
table, so that it runs on Citus too (ADR 19: Citus cannot plan a transition table in a query of a
distributed table); the retention step deletes a school's due tombstones in one statement, a day's worth
at most. School destruction disables every DELETE trigger (ADR 9) and deletes this table's
rows with the school's other rows.

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import citus, rls

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLLECTIONS = ("users", "classes", "judgements", "achievements")
"""As ``change_tombstones`` (migration 0017)."""


def upgrade() -> None:
    citus.allow_triggers()
    op.create_table(
        "change_purge_horizons",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("collection", sa.String(length=16), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"collection IN {COLLECTIONS}", name=op.f("ck_change_purge_horizons_collection")),
        sa.PrimaryKeyConstraint("school_id", "collection", name=op.f("pk_change_purge_horizons")),
    )
    # ADR 19's recipe: distributed (colocated by school_id) before its foreign key is added.
    citus.distribute()
    op.create_foreign_key(
        op.f("fk_change_purge_horizons_school_id_schools"),
        "change_purge_horizons",
        "schools",
        ["school_id"],
        ["id"],
    )
    # The runtime role reads it (the feed) and writes it through the trigger (the retention step's DELETE).
    rls.grant("change_purge_horizons", "SELECT, INSERT, UPDATE")
    rls.enable_tenant_rls("change_purge_horizons")
    op.execute(
        """
        CREATE FUNCTION record_purge_horizon() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO change_purge_horizons AS h (school_id, collection, version)
            VALUES (OLD.school_id, OLD.collection, OLD.changed_version)
            ON CONFLICT (school_id, collection)
            DO UPDATE SET version = greatest(h.version, excluded.version);
            RETURN NULL;
        END
        $$"""
    )
    op.execute(
        "CREATE TRIGGER record_purge_horizon AFTER DELETE ON change_tombstones "
        "FOR EACH ROW EXECUTE FUNCTION record_purge_horizon()"
    )


def downgrade() -> None:
    citus.allow_triggers()
    op.execute("DROP TRIGGER record_purge_horizon ON change_tombstones")
    op.execute("DROP FUNCTION record_purge_horizon()")
    op.drop_table("change_purge_horizons")

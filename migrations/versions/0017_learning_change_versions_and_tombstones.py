"""learning change versions and tombstones: judgements and achievements carry ``changed_version`` like the
roster rows, and a deleted row of any fed table leaves a minimal tombstone for the partners' change feed
(issue 14; docs/adr/0017 "Change feed", docs/adr/0016 "Erasure and the partners' copies").

The versions are the roster's mechanism, not a copy of it: the same ``stamp_change_version()`` trigger
function (migration 0015: the writer's transaction id plus the constant above the first design's
versions) on ``judgements`` and ``achievements``, and the feed serves both below the same
``roster_change_horizon()`` (the oldest transaction id still held in this database, whatever the table
it writes).

``change_tombstones`` holds one row per deleted object: its school, its feed collection (``users``,
``classes``, ``judgements``, ``achievements``), its sourcedId, the version of the deletion (stamped by the
same trigger) and when - no name, no data. ``pupil_id`` names the pupil whose judgement or achievement it
was only while that pupil exists (so a restricted pupil's tombstones stay hidden as their rows were); the
pupil's own deletion (erasure) empties it. The tombstones are purged by the retention jobs step 30 days
after the deletion (privacy/registry.py), and are visible only to partners approved at the school with a
scope covering the collection (partners/changes.py; row-level security keeps them to the school).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import changes, citus, rls

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEARNING = ("judgements", "achievements")
"""The learning tables a partner reads (progress.read, achievements.read) that get ``changed_version``."""

TOMBSTONED = (
    ("staff", "users", "source_id", ""),
    ("pupils", "users", "source_id", ""),
    ("contacts", "users", "source_id", ""),
    ("groups", "classes", "external_id", ""),
    ("judgements", "judgements", "", "pupil_id"),
    ("achievements", "achievements", "", "pupil_id"),
)
"""(table, feed collection, the column of its sourcedId ('' for the row's own id), its pupil column):
the sourcedId is the feed's (``coalesce(column, id::text)``, roster.records.key)."""

COLLECTIONS = ("users", "classes", "judgements", "achievements")

# The 64-bit transaction id of a 32-bit one (pg_locks, pg_prepared_xacts): the one of the current epoch at
# or below ``cur``, the snapshot's first unassigned id (as migration 0015).
_FULL_XID = (
    "(((cur >> 32) << 32) + xid - CASE WHEN ((cur >> 32) << 32) + xid > cur THEN 4294967296 ELSE 0 END)"
)


def _horizon(epoch: int, *, prepared: bool) -> str:
    """``roster_change_horizon()`` (migration 0015's), with ``prepared``: a prepared transaction of this
    database (two-phase commit: Citus commits a transaction that wrote on several nodes so) holds the
    horizon back too, as a running one does; its locks have no backend (``pid`` is NULL), so the lock
    table alone missed it. On Citus the feed calls it on the node holding the school's shards
    (``partners.changes``), whose transaction ids its rows' versions are."""
    held = (
        "SELECT locks.transactionid::text::bigint AS xid FROM locks "
        "WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted "
        "AND pid IN (SELECT pid FROM here)"
    )
    if prepared:
        held += (
            " UNION ALL SELECT transaction::text::bigint FROM pg_prepared_xacts "
            "WHERE database = current_database()"
        )
    return f"""
        CREATE OR REPLACE FUNCTION roster_change_horizon() RETURNS bigint LANGUAGE sql VOLATILE AS $$
            WITH locks AS MATERIALIZED (
                SELECT locktype, database, pid, transactionid, mode, granted FROM pg_locks
            ),
            here AS (
                SELECT DISTINCT pid FROM locks
                WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND pid <> pg_backend_pid()
            ),
            snapshot AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS cur)
            SELECT least(
                (SELECT cur FROM snapshot),
                (SELECT min({_FULL_XID}) FROM ({held}) AS held, snapshot)
            ) + {int(epoch)}
        $$"""  # noqa: S608 - the migration's own constants


def _replace_horizon(*, prepared: bool) -> None:
    op.execute(_horizon(changes.epoch(), prepared=prepared))
    if citus.installed():
        # On every node: the feed runs the horizon, and a OneRoster page's stamp the floor, in statements
        # routed to the worker holding the school's shards.
        op.execute("SELECT create_distributed_function('roster_change_horizon()')")
        op.execute("SELECT create_distributed_function('roster_change_floor()')")


def upgrade() -> None:
    citus.allow_triggers()
    for table in LEARNING:
        op.add_column(
            table, sa.Column("changed_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        op.create_index(f"ix_{table}_school_id_changed_version", table, ["school_id", "changed_version"])
        op.execute(
            f'CREATE TRIGGER stamp_change_version BEFORE INSERT OR UPDATE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION stamp_change_version()"
        )

    op.create_table(
        "change_tombstones",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("collection", sa.String(length=16), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("changed_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("pupil_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(f"collection IN {COLLECTIONS}", name=op.f("ck_change_tombstones_collection")),
        sa.PrimaryKeyConstraint("school_id", "collection", "sourced_id", name=op.f("pk_change_tombstones")),
    )
    op.create_index(
        "ix_change_tombstones_school_id_changed_version",
        "change_tombstones",
        ["school_id", "changed_version"],
    )
    op.create_index("ix_change_tombstones_school_id_pupil_id", "change_tombstones", ["school_id", "pupil_id"])
    # ADR 19's recipe: distributed (colocated by school_id) before its foreign key is added.
    citus.distribute()
    op.create_foreign_key(
        op.f("fk_change_tombstones_school_id_schools"), "change_tombstones", "schools", ["school_id"], ["id"]
    )
    # INSERT and UPDATE: the deleting writer's trigger (the runtime role); DELETE: the retention step.
    rls.grant("change_tombstones", "SELECT, INSERT, UPDATE, DELETE")
    rls.enable_tenant_rls("change_tombstones", predicate=rls.TENANT_PREDICATE_V2)
    op.execute(
        "CREATE TRIGGER stamp_change_version BEFORE INSERT OR UPDATE ON change_tombstones "
        "FOR EACH ROW EXECUTE FUNCTION stamp_change_version()"
    )
    # One function for every fed table, told by its trigger's arguments what the row is in the feed (its
    # collection, its sourcedId's column, its pupil's column, and whether it is a pupil's record). A
    # second deletion of one sourcedId (deleted, made again, deleted) moves its tombstone to the new version.
    # A pupil's judgement or achievement names the pupil only while the pupil exists: deleted with the pupil
    # (a cascade) it is NULL at once, and the pupil's own deletion empties it on their earlier tombstones
    # (restamped, so a tombstone a restriction hid is served after the erasure).
    op.execute(
        """
        CREATE FUNCTION record_change_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            old_row jsonb := to_jsonb(OLD);
            pupil uuid := (old_row ->> nullif(TG_ARGV[2], ''))::uuid;
        BEGIN
            IF pupil IS NOT NULL
               AND NOT EXISTS (SELECT FROM pupils WHERE school_id = OLD.school_id AND id = pupil) THEN
                pupil := NULL;
            END IF;
            INSERT INTO change_tombstones AS t (school_id, collection, sourced_id, pupil_id)
            VALUES (OLD.school_id, TG_ARGV[0],
                    coalesce(old_row ->> nullif(TG_ARGV[1], ''), OLD.id::text), pupil)
            ON CONFLICT (school_id, collection, sourced_id)
            DO UPDATE SET deleted_at = excluded.deleted_at, pupil_id = excluded.pupil_id;
            IF TG_ARGV[3] = 'pupil' THEN  -- (not TG_TABLE_NAME: on Citus the trigger fires on a shard)
                UPDATE change_tombstones SET pupil_id = NULL
                WHERE school_id = OLD.school_id AND pupil_id = OLD.id;
            END IF;
            RETURN NULL;
        END
        $$"""
    )
    _replace_horizon(prepared=True)
    for table, collection, sourced, pupil in TOMBSTONED:
        op.execute(
            f'CREATE TRIGGER record_change_tombstone AFTER DELETE ON "{table}" FOR EACH ROW '
            f"EXECUTE FUNCTION record_change_tombstone('{collection}', '{sourced}', '{pupil}', "
            f"'{'pupil' if table == 'pupils' else ''}')"
        )


def downgrade() -> None:
    citus.allow_triggers()
    for table, *_ in TOMBSTONED:
        op.execute(f'DROP TRIGGER record_change_tombstone ON "{table}"')
    op.execute("DROP FUNCTION record_change_tombstone()")
    _replace_horizon(prepared=False)
    op.drop_table("change_tombstones")
    for table in LEARNING:
        op.execute(f'DROP TRIGGER stamp_change_version ON "{table}"')
        op.drop_index(f"ix_{table}_school_id_changed_version", table_name=table)
        op.drop_column(table, "changed_version")

"""roster change versions without a per-school lock (issue 15): a roster write no longer queues behind
the school's other roster writers until they commit.

Migration 0011 stamped ``changed_version`` from the school's row in ``roster_change_heads``, locked from
the write to the end of the writer's transaction: every roster write of one school (a group renamed, a
pupil edited) waited for the previous one to commit, while that request's server went back to its event
loop; under load the statement timed out (a 500). Now the trigger stamps the writer's transaction id
(``pg_current_xact_id``, no lock, no read) plus ``EPOCH``, which is above every version handed out
before, so versions only grow. The feed (``partners/changes.py``) serves only versions below
``roster_change_horizon()``: the oldest transaction id still held by a transaction of this database
(other than the reader's own), or the first not yet assigned. A change that commits late has a
version at or above that horizon until it commits, so a consumer never passes over it.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenant tables' row-level security binds the owner too (FORCE): the migration reads every school.
_BIND_EVERY_SCHOOL = (
    "SELECT set_config('app.school_ids', coalesce(string_agg(id::text, ','), ''), true) FROM schools"
)

# The 64-bit transaction id of a lock (pg_locks holds the 32-bit one): the one of the current epoch at
# or below ``cur``, the snapshot's first unassigned id.
_FULL_XID = (
    "(((cur >> 32) << 32) + xid - CASE WHEN ((cur >> 32) << 32) + xid > cur THEN 4294967296 ELSE 0 END)"
)


def upgrade() -> None:
    connection = op.get_bind()
    connection.execute(text(_BIND_EVERY_SCHOOL))
    epoch = connection.execute(
        text("SELECT coalesce(max(version), 0) + 1 FROM roster_change_heads")
    ).scalar_one()
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION stamp_change_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.changed_version := pg_current_xact_id()::text::bigint + {int(epoch)};
            RETURN NEW;
        END
        $$"""
    )
    # One read of the lock table (MATERIALIZED: pg_locks is read once, a consistent picture), after the
    # statement's snapshot was taken: a transaction of this database holding an id below the snapshot's
    # first unassigned one and not in the lock table then had ended before it was read. The caller serves
    # versions below the horizon in a later statement (a later snapshot, READ COMMITTED), where every such
    # transaction's rows are visible.
    op.execute(
        f"""
        CREATE FUNCTION roster_change_horizon() RETURNS bigint LANGUAGE sql VOLATILE AS $$
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
                (SELECT min({_FULL_XID})
                   FROM (SELECT locks.transactionid::text::bigint AS xid FROM locks
                         WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
                           AND pid IN (SELECT pid FROM here)) held, snapshot)
            ) + {int(epoch)}
        $$"""  # noqa: S608 - the migration's own constants
    )
    op.execute("GRANT EXECUTE ON FUNCTION roster_change_horizon() TO PUBLIC")
    # Versions below this are settled in the caller's snapshot: every transaction it does not see (still
    # running, or not begun) has a higher id, so any change it makes carries a higher version. The
    # OneRoster provider's remembered positions (partners/oneroster/positions.py) trust a stamp only then.
    op.execute(
        f"""
        CREATE FUNCTION roster_change_floor() RETURNS bigint LANGUAGE sql STABLE AS $$
            SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + {int(epoch)}
        $$"""
    )
    op.execute("GRANT EXECUTE ON FUNCTION roster_change_floor() TO PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION roster_change_floor()")
    op.execute("DROP FUNCTION roster_change_horizon()")
    # The heads carry on above every version handed out since.
    op.execute(_BIND_EVERY_SCHOOL)
    versions = " UNION ALL ".join(
        f'SELECT school_id, changed_version FROM "{table}"'  # noqa: S608 - the roster tables' names
        for table in ("staff", "pupils", "contacts", "groups")
    )
    op.execute(
        f"""
        INSERT INTO roster_change_heads AS head (school_id, version)
        SELECT school_id, max(changed_version) FROM ({versions}) AS written GROUP BY school_id
        ON CONFLICT (school_id) DO UPDATE SET version = greatest(head.version, excluded.version)"""  # noqa: S608 - table names
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION stamp_change_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO roster_change_heads AS head (school_id, version) VALUES (NEW.school_id, 1)
            ON CONFLICT (school_id) DO UPDATE SET version = head.version + 1
            RETURNING head.version INTO NEW.changed_version;
            RETURN NEW;
        END
        $$"""
    )

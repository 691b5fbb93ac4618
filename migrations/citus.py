"""Distribution on Citus, used by migrations: a no-op on plain PostgreSQL (no ``citus`` extension).

ADR 0019. Every *tenant* table (one with a ``school_id`` column: the same rule as row-level security, see
``migrations/rls.py``) is distributed by ``school_id``, all of them colocated, so one school's rows of
every table live in one shard group and a request that filters ``school_id = $1`` is routed to one
worker. Every *global* table (no ``school_id``: schools, trusts, the platform's tables) becomes a
reference table, copied to every node, so tenant tables can keep their foreign keys to it and join it
locally. ``alembic_version`` stays a local table of the coordinator (read alone, never joined).

The tables are discovered from the catalog, not listed here, so tables created by any earlier migration
are covered. Citus cannot distribute a table that has a foreign key to a local table, nor one that a
reference table's foreign keys turned "Citus-local"; so :func:`distribute` removes every foreign key
between the public tables first (keeping their definitions), distributes, and adds them back (every
composite key leads with ``school_id``, so tenant-to-tenant keys are colocated; tenant-to-global keys point
at reference tables). Row-level security, its policies, the grants and the triggers reach every shard.

Recipe for a migration after the distribution step (documented in ADR 0019): create the new table
*without* its foreign keys, call :func:`distribute` (idempotent: it only touches tables not yet
distributed), then add the foreign keys. On plain PostgreSQL :func:`distribute` does nothing.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

from migrations import rls

LOCAL_TABLES = ("alembic_version",)
"""Global tables that stay local to the coordinator: Alembic's, read alone and never joined."""

_DATABASE_SETTINGS = {
    # The tenant binding is ``SET LOCAL app.school_ids`` on Citus (tenants/context.py); with this the
    # coordinator sends it to the workers in the same transaction, where row-level security reads it.
    "citus.propagate_set_commands": "local",
    # One connection per worker for a multi-shard command: a transaction of the trust or platform endpoint
    # (or a job) that read many schools' shards may then still write a reference table (admin sessions,
    # the platform's audit), which Citus refuses after a parallel multi-shard operation.
    "citus.multi_shard_modify_mode": "sequential",
    # The audit log's append-only guard and the roster's change stamp are triggers; Citus runs a distributed
    # table's triggers on its shards only with this (each fires within one shard group: the row's school).
    "citus.enable_unsafe_triggers": "on",
}


def installed() -> bool:
    """Whether the database runs Citus (the extension is created in it)."""
    bind = op.get_bind()
    return bool(
        bind.execute(text("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")).scalar()
    )


def _tables(bind: object) -> tuple[list[str], list[str]]:
    """(tenant tables, global tables) of the public schema not distributed yet, by name."""
    rows = bind.execute(  # type: ignore[attr-defined]
        text(
            """
            SELECT c.relname,
                   EXISTS (SELECT FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attname = 'school_id' AND NOT a.attisdropped)
            FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
              AND NOT EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
              -- a shard placed on the coordinator (reference tables'), visible to the owner
              AND NOT EXISTS (SELECT FROM pg_dist_shard s WHERE c.relname = s.logicalrelid::regclass::text || '_' || s.shardid)
            ORDER BY c.relname
            """
        )
    ).all()
    tenant = [name for name, has_school in rows if has_school]
    global_ = [name for name, has_school in rows if not has_school and name not in LOCAL_TABLES]
    return tenant, global_


def _colocation_anchor(bind: object) -> str | None:
    """A tenant table already distributed (to colocate new ones with), if any."""
    return bind.execute(  # type: ignore[attr-defined, no-any-return]
        text(
            """
            SELECT logicalrelid::regclass::text FROM pg_dist_partition
            WHERE partmethod = 'h' AND logicalrelid::regclass::text NOT LIKE '%.%'
            ORDER BY logicalrelid::regclass::text LIMIT 1
            """
        )
    ).scalar()


_RUNTIME_ROLE_SETTINGS = {
    # asyncpg introspects types through pg_type/pg_class; Citus hides its shards from those catalogs with a
    # filter that made the introspection take seconds (8 s, past the statement timeout) on the coordinator.
    # For the runtime role only: it reads no catalog listing tables, while the owner's tools (the privacy
    # registry's check, Alembic's comparison) would then see the reference tables' shards as tables.
    "citus.override_table_visibility": "off",
}


def _alter_database(clause: str) -> None:
    op.execute(f"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I {clause}', current_database()); END $$")


def configure_database() -> None:
    """The database's Citus settings (:data:`_DATABASE_SETTINGS`), for every role that connects to the
    coordinator: the runtime role, and the owner (jobs, migrations, the suite's fixtures) alike."""
    for name, value in _DATABASE_SETTINGS.items():
        _alter_database(f"SET {name} = ''{value}''")
    role = rls.runtime_role()
    for name, value in _RUNTIME_ROLE_SETTINGS.items():
        op.execute(f"ALTER ROLE \"{role}\" SET {name} = '{value}'")


def allow_triggers() -> None:
    """From a migration's first statement, as :func:`distribute` sets them: triggers on distributed tables
    (each fires within its row's shard group; the database's setting reaches new sessions only), and one
    connection per worker (a table cannot be distributed after a parallel command, such as a new column's
    DDL, in the same transaction). Nothing on plain PostgreSQL."""
    if installed():
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        op.execute("SET LOCAL citus.enable_unsafe_triggers TO on")


def distribute() -> None:
    """Distribute every tenant table by ``school_id`` (colocated) and make every global table a reference
    table; tables already distributed are left alone. No-op without Citus."""
    if not installed():
        return
    bind = op.get_bind()
    # This transaction's DDL and the shard copies over one connection per worker: Citus refuses a
    # reference table's creation after a parallel (multi-connection) command in the same transaction.
    allow_triggers()
    configure_database()
    tenant, global_ = _tables(bind)
    if not tenant and not global_:
        return
    foreign_keys = _foreign_keys(bind, tenant + global_)
    for table, name, _definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for table in global_:
        op.execute(text("SELECT create_reference_table(:t)").bindparams(t=table))
    anchor = _colocation_anchor(bind)
    for table in tenant:
        if anchor is None:
            op.execute(text("SELECT create_distributed_table(:t, 'school_id')").bindparams(t=table))
            anchor = table
        else:
            op.execute(
                text("SELECT create_distributed_table(:t, 'school_id', colocate_with => :a)").bindparams(
                    t=table, a=anchor
                )
            )
    for table, name, definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')


def _foreign_keys(bind: Connection, tables: list[str]) -> list[Any]:
    """(table, constraint name, definition) of every foreign key from or to one of ``tables``: dropped
    before Citus converts them, re-added after."""
    return list(
        bind.execute(
            text(
                """
                SELECT k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid)
                FROM pg_constraint k
                WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace
                  AND (k.conrelid::regclass::text = ANY (:tables)
                       OR k.confrelid::regclass::text = ANY (:tables))
                ORDER BY 1, 2
                """
            ),
            {"tables": tables},
        ).all()
    )


def undistribute() -> None:
    """Turn every distributed and reference table of the public schema back into a local table (the
    distribution step's downgrade). No-op without Citus."""
    if not installed():
        return
    bind = op.get_bind()
    op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    tables = [
        row[0]
        for row in bind.execute(
            text(
                "SELECT logicalrelid::regclass::text FROM pg_dist_partition "
                "WHERE logicalrelid::regclass::text NOT LIKE '%.%' ORDER BY 1"
            )
        ).all()
    ]
    foreign_keys = _foreign_keys(bind, tables)
    for table, name, _definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for table in tables:
        op.execute(text("SELECT undistribute_table(:t)").bindparams(t=table))
    for table, name, definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for name in _DATABASE_SETTINGS:
        _alter_database(f"RESET {name}")
    for name in _RUNTIME_ROLE_SETTINGS:
        op.execute(f'ALTER ROLE "{rls.runtime_role()}" RESET {name}')

"""Queries' audit entries written together: ``app_audit_append(entries jsonb, schools text)`` binds, then inserts.

A GraphQL query's entries are written by the group commit of reads (``audit.reads``; ADR 6, "Reads'
entries committed together"): the entries of several requests, of several schools, in one statement that
is its own transaction. That statement must bind the transaction to the entries' schools for row-level
security, and a statement sent alone (the simple query protocol's implicit transaction, or SQLAlchemy's
when the engine is observed) has no earlier statement to do it: this overload takes the binding as its
second argument, sets it (``set_config(..., true)``, local to the transaction, as ``tenants.context.bind``
does), then inserts as the one-argument function of migration 0027 does.

The binding is the caller's, as every binding is (the app decides which schools a transaction may reach):
each entry is still checked against it by the log's row-level security (an entry of a school not in
``schools`` is refused). SECURITY INVOKER, as 0027's: it runs as the runtime role, with no right the role
does not have. One statement, so a query's statement count is what it was (tests/test_query_counts.py).

Revision ID: 0034
Revises: 0033
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "school_id, occurred_at, actor_type, actor_id, role, action, target_type, target_id, outcome, detail, "
    "request_id, actor_username, client_address"
)
"""The log's columns a request writes (as at revision 0027): all but ``id``, ``seq``, ``prev_hash``, ``hash``."""


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION app_audit_append(entries jsonb, schools text) RETURNS void
        LANGUAGE plpgsql VOLATILE AS $function$
        BEGIN
            PERFORM set_config('app.school_ids', schools, true);
            INSERT INTO audit_log ({COLUMNS})
            SELECT {COLUMNS} FROM jsonb_populate_recordset(NULL::audit_log, entries);
        END
        $function$
        """  # noqa: S608 - the migration's own constants
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION app_audit_append(jsonb, text)")

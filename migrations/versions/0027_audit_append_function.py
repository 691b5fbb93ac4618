"""A request's audit entries in the message of its COMMIT: ``app_audit_append(entries jsonb)`` inserts them.

On plain PostgreSQL the edge sends ``SELECT app_audit_append(<entries>);COMMIT`` as one simple-protocol
message (``common.commit.commit_with``, ``audit.recorder.append_and_commit``; ADR 6): the entries are a
JSON array of rows of the log (pending: no ``seq``, ``prev_hash`` or ``hash``), turned back into rows of
the log's own type by ``jsonb_populate_recordset``. A simple-protocol statement is planned anew each
time, and an INSERT under row-level security is costly to plan; the function's INSERT is planned once
per connection (PL/pgSQL caches its plans), so the message costs the server little more than the
prepared INSERT it replaces, and the round trip is saved.

SECURITY INVOKER (the default): it runs as the runtime role, under row-level security (an entry of a
school the transaction is not bound to is refused), with no right the role does not have.

tests/test_audit_commit.py fails when the log's columns are no longer the ones it inserts: a column added
to ``audit_log`` needs a migration that replaces the function.

Revision ID: 0027
Revises: 0024
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "school_id, occurred_at, actor_type, actor_id, role, action, target_type, target_id, outcome, detail, "
    "request_id, actor_username, client_address"
)
"""The log's columns a request writes (at revision 0027): all but ``id``, ``seq``, ``prev_hash``, ``hash``."""


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION app_audit_append(entries jsonb) RETURNS void
        LANGUAGE plpgsql VOLATILE AS $function$
        BEGIN
            INSERT INTO audit_log ({COLUMNS})
            SELECT {COLUMNS} FROM jsonb_populate_recordset(NULL::audit_log, entries);
        END
        $function$
        """  # noqa: S608 - the migration's own constants
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION app_audit_append(jsonb)")

"""The change feed's versions, used by migrations (docs/adr/0017 "Change feed").

A fed row's ``changed_version`` is its writer's transaction id plus a constant, the *epoch*, that migration
0015 chose above every version of the first design; ``stamp_change_version()`` and the feed's horizon and
floor functions carry it written in. A migration that writes a version in SQL of its own reads it here.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text


def epoch() -> int:
    """The constant migration 0015 put into the versions (its floor function is the snapshot's xmin plus it)."""
    return int(
        op.get_bind()
        .execute(text("SELECT roster_change_floor() - pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
        .scalar_one()
    )


def current_version_sql() -> str:
    """This transaction's version, as ``stamp_change_version()`` stamps it, as SQL."""
    return f"(pg_current_xact_id()::text::bigint + {epoch()})"

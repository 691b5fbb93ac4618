"""Where the suite runs: plain PostgreSQL, or a Citus coordinator (``make test-citus``, ADR 19)."""

from __future__ import annotations

import os

ON_CITUS = os.environ.get("SCHOOLGRAPH_TEST_CITUS") == "1"
"""The suite runs on a Citus coordinator: the tables are distributed."""

BINDING_EXTRA = 2 if ON_CITUS else 0
"""Statements the tenant binding costs beyond plain PostgreSQL's: on Citus it is ``SET LOCAL`` of the
schools and of the trusts, after (or instead of) the one ``set_config`` statement (tenants/context.py)."""

ROSTER_IMPORT = (
    "the roster import's set-based writes are INSERT ... SELECT from temporary staging tables, which Citus "
    "runs as a COPY into the shards that row-level security refuses, and its checks join the staging "
    "tables to distributed ones (ADR 19: not yet ported)"
)

PLATFORM_CONTENT_TAKEDOWN = (
    "taking pre-loaded content down updates platform_content, a reference table with a foreign key to "
    "curriculum_ladders; Citus then locks curriculum_ladders, which needs a write privilege the runtime role "
    "does not have on it (ADR 19: not yet resolved)"
)

COORDINATOR_LOCK_WAITS = (
    "the test makes the race certain by counting the writers waiting on a lock in the coordinator's "
    "pg_stat_activity; on Citus they wait on the worker that holds the school's shards"
)

"""Where the suite runs: plain PostgreSQL, or a Citus coordinator (``make test-citus``, ADR 19)."""

from __future__ import annotations

import os

ON_CITUS = os.environ.get("SCHOOLGRAPH_TEST_CITUS") == "1"
"""The suite runs on a Citus coordinator: the tables are distributed."""

BINDING_EXTRA = 2 if ON_CITUS else 0
"""Statements the tenant binding costs beyond plain PostgreSQL's: on Citus it is ``SET LOCAL`` of the
schools and of the trusts, after (or instead of) the one ``set_config`` statement (tenants/context.py)."""

CALLER_EXTRA = 1 if ON_CITUS else 0
"""Statements a signed-in caller's request costs beyond plain PostgreSQL's for the school and the caller's
principal: one there (``app_enter_school``, migrations 0024 and 0029, auth/principal.py), two on Citus (the school and
its binding, then the principal)."""

ROSTER_IMPORT_ON_CITUS = 1
"""Statements a two-user roster import runs on Citus beyond plain PostgreSQL's (tests/test_roster_statements.py,
measured): the binding's two SET LOCALs, the import's three settings set and restored with a SET LOCAL each
instead of one set_config each way (+4), each staged file moved from its temporary table into the school's
shard (+1 a file) and the staged rows deleted before the commit (+1); but none of the ANALYZEs of the staging
tables nor the two roster_analyze calls (roster/staging.py, roster/session_settings.py)."""

ROSTER_ANALYZE = (
    "on Citus the import does not analyse the tables it wrote: the owner's ANALYZE (roster_analyze) may not "
    "touch shards the runtime role modified in the same transaction, so the workers' autovacuum does it after "
    "the commit (roster/session_settings.py)"
)

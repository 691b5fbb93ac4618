"""SQL for tenant isolation, used by migrations (and only by them: what a migration ran must not change).

The policy is the architecture's: a row is visible and writable only when its ``school_id`` is one of the
schools the current transaction was bound to with ``set_config('app.school_ids', ..., true)``. No setting
means no rows.

Three spellings of that one predicate exist. Migrations 0001-0005 created the policies with
:data:`TENANT_PREDICATE_V1`; migration 0006 moved every policy to :data:`TENANT_PREDICATE_V2`, which means
exactly the same but which the planner does not count as selective (see it); migration 0021 moved them to
:data:`TENANT_PREDICATE`, which reads the bound schools once per statement instead of once per row, and new
tables use it.
"""

from __future__ import annotations

from alembic import op

_BOUND_SCHOOLS = "string_to_array(NULLIF(current_setting('app.school_ids', true), ''), ',')::uuid[]"

TENANT_PREDICATE_V1 = f"school_id = ANY ({_BOUND_SCHOOLS})"
"""The first spelling (migrations 0001-0005)."""

TENANT_PREDICATE_V2 = f"COALESCE(school_id = ANY ({_BOUND_SCHOOLS}), false)"
"""The policy of migrations 0006-0020: true exactly when V1 is true (a NULL, no binding, is false in both).

Why the COALESCE: every query also filters ``school_id = $1`` through the scoping helper. PostgreSQL
estimates the two school predicates as independent and multiplies their selectivities, so at 1,000
schools it believed each school held a thousandth of its real rows, and any index leading with
``school_id`` looked as good as the right one (the class view read judgements through the
school-and-ladder index and filtered a thousand rows per pupil). Wrapped in COALESCE the policy is an
opaque boolean to the estimator (a default, not a thousandth): the plan is the one a single school would
get, chosen by the explicit filter, and the policy is still checked on every row (a filter beside the
index condition, not a change of meaning). tests/test_query_plans.py asserts the plans at 10 and 1,000
schools."""


TENANT_PREDICATE = f"COALESCE(school_id = ANY ((SELECT {_BOUND_SCHOOLS})::uuid[]), false)"
"""The policy since migration 0021: V2 with the bound schools read in a scalar subquery.

V2 parsed the setting (``current_setting``, ``string_to_array``, a cast to ``uuid[]``) again for every
row the policy filtered: a stable expression is not cached across rows unless it is an index condition,
and the policy is a filter. In a subquery it is an InitPlan, evaluated once per statement: counting a
school's 44,000 judgements took 48-50 ms as V2's filter and 16-18 ms with the subquery, the same as with
no filter (15 ms). The outer cast keeps ``= ANY`` an array comparison (``= ANY (subquery)`` would be a
set comparison); the meaning is V2's, a NULL setting still matching nothing."""


def _attribute(name: str, default: str | None = None) -> str | None:
    config = op.get_context().config
    value = config.attributes.get(name, default) if config is not None else default
    return None if value is None else str(value)


def runtime_role() -> str:
    return _attribute("app_role", "schoolgraph_app") or "schoolgraph_app"


def ensure_runtime_role() -> None:
    """Create the runtime role if missing, and make sure it can never bypass row-level security."""
    role = runtime_role()
    password = _attribute("app_role_password")
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" LOGIN;
            END IF;
        END
        $$"""
    )
    op.execute(f'ALTER ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION')
    if password:
        op.execute(f"ALTER ROLE \"{role}\" PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')


def grant(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f'GRANT {privileges} ON "{table}" TO "{runtime_role()}"')


def current_predicate() -> str:
    """The tenant policy a new table gets: :data:`TENANT_PREDICATE`, except on Citus, which refuses a
    policy with a subquery ("cannot create policy") and keeps :data:`TENANT_PREDICATE_V2` (ADR 19)."""
    from migrations import citus  # here: migrations.citus builds on this module

    return TENANT_PREDICATE_V2 if citus.installed() else TENANT_PREDICATE


def enable_tenant_rls(table: str, *, extra_using: str | None = None, predicate: str | None = None) -> None:
    """ENABLE and FORCE row-level security on a tenant table with the tenant policy (by default
    :func:`current_predicate`).

    ``extra_using`` adds a second, read-only (SELECT) permissive policy, for reference rows another
    context may read (a trust reading its memberships).
    """
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    predicate = current_predicate() if predicate is None else predicate
    op.execute(f'CREATE POLICY tenant_isolation ON "{table}" USING ({predicate}) WITH CHECK ({predicate})')
    if extra_using:
        op.execute(f'CREATE POLICY tenant_read_extra ON "{table}" FOR SELECT USING ({extra_using})')


def set_tenant_predicate(predicate: str) -> None:
    """Rewrite the tenant policy of every table that has one (same name, all commands) to ``predicate``
    (one of this module's constants, never input)."""
    quoted = predicate.replace("'", "''")
    op.execute(
        f"""
        DO $$
        DECLARE target regclass;
        BEGIN
            FOR target IN SELECT polrelid::regclass FROM pg_policy WHERE polname = 'tenant_isolation' LOOP
                EXECUTE format('ALTER POLICY tenant_isolation ON %s USING ({quoted}) WITH CHECK ({quoted})',
                               target);
            END LOOP;
        END
        $$"""  # noqa: S608 - the predicate is one of this module's constants
    )

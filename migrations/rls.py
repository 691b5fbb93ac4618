"""SQL for tenant isolation, used by migrations (and only by them: what a migration ran must not change).

The policy is the architecture's: a row is visible and writable only when its ``school_id`` is one of the
schools the current transaction was bound to with ``set_config('app.school_ids', ..., true)``. No setting
means no rows.
"""

from __future__ import annotations

from alembic import op

TENANT_PREDICATE = (
    "school_id = ANY (string_to_array(NULLIF(current_setting('app.school_ids', true), ''), ',')::uuid[])"
)


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


def enable_tenant_rls(table: str, *, extra_using: str | None = None) -> None:
    """ENABLE and FORCE row-level security on a tenant table with the tenant policy.

    ``extra_using`` adds a second, read-only (SELECT) permissive policy, for reference rows another
    context may read (a trust reading its memberships).
    """
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{table}" USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})'
    )
    if extra_using:
        op.execute(f'CREATE POLICY tenant_read_extra ON "{table}" FOR SELECT USING ({extra_using})')

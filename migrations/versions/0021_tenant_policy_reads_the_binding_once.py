"""the tenant policy reads the bound schools once per statement, not once per row: every table's
``tenant_isolation`` policy moves to ``rls.TENANT_PREDICATE``, the same meaning with the setting parsed in a
scalar subquery (an InitPlan) instead of in the per-row filter. Not on Citus, which refuses a policy with
a subquery: its policies keep V2 (``rls.current_predicate``, ADR 19).

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from migrations import citus, rls

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not citus.installed():
        rls.set_tenant_predicate(rls.TENANT_PREDICATE)


def downgrade() -> None:
    if not citus.installed():
        rls.set_tenant_predicate(rls.TENANT_PREDICATE_V2)

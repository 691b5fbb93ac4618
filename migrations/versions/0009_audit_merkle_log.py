"""audit log: requests only insert their entries; a sequencer numbers them and builds a Merkle tree with
signed tree heads (issue 15)

Revision ID: 0009
Revises: 0008

- ``audit_log.id``: an identity, the entry's key from the moment it is inserted. ``seq``, ``prev_hash`` and
  ``hash`` become nullable: a request inserts its entries without them (pending), and the sequencer sets
  them once, after the commit (no lock, no read of a head on the request path).
- The append-only trigger lets an UPDATE through only when it changes nothing but (a) blanking the two
  personal values, or (b) sequencing a pending entry (``seq``, ``prev_hash``, ``hash`` set from NULL).
- ``audit_heads.frontier``: the roots of the perfect subtrees along the right edge of the school's Merkle
  tree (at most log2(n) hashes), so the sequencer extends the tree without reading it.
- ``audit_tree_heads``: every signed tree head (insert-only, protected by the same kind of trigger).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import rls

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTENT = (
    "school_id, id, occurred_at, actor_type, actor_id, role, action, target_type, target_id, outcome, detail, "
    "request_id"
)

_APPEND_ONLY_V2 = f"""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.actor_username IS NULL OR NEW.actor_username IS NOT DISTINCT FROM OLD.actor_username)
       AND (NEW.client_address IS NULL OR NEW.client_address IS NOT DISTINCT FROM OLD.client_address)
       AND ({", ".join("NEW." + c.strip() for c in _CONTENT.split(","))})
           IS NOT DISTINCT FROM
           ({", ".join("OLD." + c.strip() for c in _CONTENT.split(","))})
       AND (
            (NEW.seq, NEW.prev_hash, NEW.hash) IS NOT DISTINCT FROM (OLD.seq, OLD.prev_hash, OLD.hash)
            OR (OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL)
       )
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$"""

_APPEND_ONLY_V1 = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.actor_username IS NULL OR NEW.actor_username IS NOT DISTINCT FROM OLD.actor_username)
       AND (NEW.client_address IS NULL OR NEW.client_address IS NOT DISTINCT FROM OLD.client_address)
       AND (NEW.school_id, NEW.seq, NEW.occurred_at, NEW.actor_type, NEW.actor_id, NEW.role, NEW.action,
            NEW.target_type, NEW.target_id, NEW.outcome, NEW.detail, NEW.request_id, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.school_id, OLD.seq, OLD.occurred_at, OLD.actor_type, OLD.actor_id, OLD.role, OLD.action,
            OLD.target_type, OLD.target_id, OLD.outcome, OLD.detail, OLD.request_id, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$"""


def upgrade() -> None:
    # Existing rows get their ids as the column is added; their order is their seq, which they keep.
    op.add_column("audit_log", sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False))
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.create_primary_key("pk_audit_log", "audit_log", ["school_id", "id"])
    for column in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_log", column, nullable=True)
    op.create_unique_constraint(op.f("uq_audit_log_school_id_seq"), "audit_log", ["school_id", "seq"])
    op.create_check_constraint(
        op.f("ck_audit_log_sequenced_together"),
        "audit_log",
        "(seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL)",
    )
    op.create_index(
        "ix_audit_log_pending",
        "audit_log",
        ["school_id", "id"],
        unique=False,
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.execute(_APPEND_ONLY_V2)
    op.execute(f'GRANT UPDATE (seq, prev_hash, hash) ON audit_log TO "{rls.runtime_role()}"')

    op.add_column("audit_heads", sa.Column("frontier", postgresql.ARRAY(sa.LargeBinary()), nullable=True))

    op.create_table(
        "audit_tree_heads",
        sa.Column("school_id", sa.UUID(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.CheckConstraint("tree_size > 0", name=op.f("ck_audit_tree_heads_tree_size_positive")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_audit_tree_heads_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "tree_size", name=op.f("pk_audit_tree_heads")),
    )
    op.execute(
        """
        CREATE FUNCTION audit_tree_heads_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_tree_heads is insert-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_tree_heads_insert_only BEFORE UPDATE OR DELETE ON audit_tree_heads "
        "FOR EACH ROW EXECUTE FUNCTION audit_tree_heads_insert_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_tree_heads_no_truncate BEFORE TRUNCATE ON audit_tree_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_heads_insert_only()"
    )
    rls.grant("audit_tree_heads", "SELECT, INSERT")
    rls.enable_tenant_rls("audit_tree_heads", predicate=rls.TENANT_PREDICATE_V2)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_tree_heads_no_truncate ON audit_tree_heads")
    op.execute("DROP TRIGGER IF EXISTS audit_tree_heads_insert_only ON audit_tree_heads")
    op.drop_table("audit_tree_heads")
    op.execute("DROP FUNCTION IF EXISTS audit_tree_heads_insert_only()")
    op.drop_column("audit_heads", "frontier")
    op.execute(f'REVOKE UPDATE (seq, prev_hash, hash) ON audit_log FROM "{rls.runtime_role()}"')
    op.execute(_APPEND_ONLY_V1)
    # Pending entries cannot be kept by the older design (every entry had its seq): sequence first.
    op.drop_index("ix_audit_log_pending", table_name="audit_log")
    op.drop_constraint(op.f("ck_audit_log_sequenced_together"), "audit_log", type_="check")
    op.drop_constraint(op.f("uq_audit_log_school_id_seq"), "audit_log", type_="unique")
    for column in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_log", column, nullable=False)
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.create_primary_key("pk_audit_log", "audit_log", ["school_id", "seq"])
    op.drop_column("audit_log", "id")

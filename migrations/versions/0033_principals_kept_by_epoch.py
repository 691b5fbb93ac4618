"""Principals kept between requests, checked at every request in its one round trip (ADR 13, twelfth pass).

A request's ``app_enter_school`` read the caller's whole principal every time: the account, the session,
the role's scopes (a teacher's groups and pupils), the documents owed, consent. Most of a ``{ viewer }``'s
database work was that statement. A server now keeps each caller's principal (``auth.kept``) with the
*versions* it was read at, and sends them with the call; the function answers "kept" when none has changed,
and reads the principal again when any has. The versions:

* ``schools.principal_epoch``, one per school, raised for every write to a table the principal's statement
  reads besides the account and the session: a write to any of them (insert, update, delete, truncate; by
  the product, an import's COPY, or by hand) raises the epoch of each school whose rows it wrote, and a write
  to ``policy_documents`` (the platform's) raises every school's. A statement-level trigger notes the
  schools in ``principal_epoch_raises``, whose deferred trigger raises their epochs as the writer commits
  and removes the note: the raise commits with the write, so a reader never sees the rows without the
  epoch; and the school's row is locked only while its writer commits, not from the write to the end of its
  transaction (migration 0015's lesson: a roster writer must not queue behind another's open transaction);
* the account's and the session's row versions (``xmin``, the transaction that last wrote the row): a
  sign-in's new session changes no one else's principal, so sessions and accounts carry no trigger and a
  school's sign-ins keep its principals; a sign-out, a revoked session, a disabled account or a password
  to change writes that one row, and so changes its version.

What the principal depends on besides rows is time: the session's expiry (checked here at every call), a
policy document's ``effective_from`` still to come (the earliest after ``p_now`` is returned as the kept
principal's ``valid_until``, with the session's expiry) and the London date of the age-13 rule (a kept
principal holds the date it was read for). The versions are read *before* the principal's statement, in the
function's order, so a write that commits in between leaves them older than the principal: the next call
reads it again.

The triggers are plain PostgreSQL only: on Citus the request keeps its two statements (ADR 19) and nothing
calls this function. The statements of each role are 0032's; the arguments gain the three known versions,
the row the four it reads and whether it kept.

Revision ID: 0033
Revises: 0032
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from migrations import citus, rls

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHOOL_TABLES = (
    "contacts",
    "document_acceptances",
    "group_pupils",
    "group_teachers",
    "groups",
    "own_consent_due",
    "pupil_consents",
    "pupil_contacts",
    "pupils",
    "staff",
    "super_users",
)
"""The school's tables the principal's statement reads besides ``accounts`` and ``auth_sessions`` (whose row
versions are checked instead): a write raises the epoch of each school it wrote rows of.
tests/test_kept_principals.py holds this list to the tables of ``auth.principal._principal_stmt``."""

PLATFORM_TABLES = ("policy_documents",)
"""The platform's tables the statement reads: a write raises every school's epoch."""

NOTE = "note_principal_epoch"
RAISE = "raise_principal_epoch"

ARGUMENTS = (
    "p_school_id uuid, p_account_id uuid, p_session_id uuid, p_now timestamptz, p_born_after date, p_role text, "
    "p_slug text, p_known_epoch bigint, p_known_account bigint, p_known_session bigint"
)
KEPT_COLUMNS = "r_epoch bigint, r_account_version bigint, r_session_version bigint, r_valid_until timestamptz, r_kept boolean"
_READ = "school.principal_epoch, v_account, v_session, v_until, false"
"""The versions returned with a principal read now (and the time it is good until)."""


def _module(name: str, file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function() -> str:
    """``app_enter_school`` with the known versions: 0032's, with the kept principal's fast answer."""
    m = _module("enter_school_0029", "0029_enter_school_by_role.py")
    now = _module("teachers_pupils_0032", "0032_teachers_pupils_by_group_ids.py")._now
    branches = []
    for keyword, (role, statement) in zip(
        ("IF", "ELSIF", "ELSIF", "ELSIF"),
        (
            ("SCHOOL_ADMIN", m.SCHOOL_ADMIN),
            ("STAFF", now(m.STAFF)),
            ("PUPIL", m.PUPIL),
            ("PARENT", m.PARENT),
        ),
        strict=True,
    ):
        branches.append(
            f"""
            {keyword} p_role = '{role}' THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST}, {_READ} FROM (
{statement}
                ) AS p ({m._NAMES});
                answered := FOUND;"""  # noqa: S608 - the migration's own constants
        )
    by_role = "".join(branches) + "\n            END IF;"
    return f"""
        CREATE FUNCTION app_enter_school({ARGUMENTS})
        RETURNS TABLE ({m.TENANT_COLUMNS}, {m.PRINCIPAL_COLUMNS}, {KEPT_COLUMNS})
        LANGUAGE plpgsql VOLATILE AS $function$
        DECLARE
            school record;
            answered boolean := false;
            v_account bigint;
            v_session bigint;
            v_expires timestamptz;
            v_until timestamptz;
        BEGIN
            SELECT s.id, s.slug, s.name, s.status, s.status_reason, s.principal_epoch INTO school
            FROM schools AS s WHERE s.slug = p_slug;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            PERFORM set_config('app.school_ids', school.id::text, true), set_config('app.trust_ids', '', true);
            IF school.status IS DISTINCT FROM 'ACTIVE' OR p_account_id IS NULL
                OR p_school_id IS DISTINCT FROM school.id THEN
                RETURN QUERY SELECT {m._TENANT}, {m._NULLS}, NULL::bigint, NULL::bigint, NULL::bigint,
                    NULL::timestamptz, false;
                RETURN;
            END IF;
            -- The versions, read before the principal: a write committed in between makes them older than it.
            SELECT a.xmin::text::bigint, x.xmin::text::bigint, x.expires_at INTO v_account, v_session, v_expires
            FROM accounts AS a JOIN auth_sessions AS x
                ON x.school_id = p_school_id AND x.account_id = a.id AND x.id = p_session_id
            WHERE a.school_id = p_school_id AND a.id = p_account_id;
            IF p_known_epoch = school.principal_epoch AND p_known_account = v_account
                AND p_known_session = v_session AND v_expires > p_now THEN
                RETURN QUERY SELECT {m._TENANT}, {m._NULLS}, school.principal_epoch, v_account, v_session,
                    NULL::timestamptz, true;
                RETURN;
            END IF;
            v_until := least(v_expires, (SELECT min(d.effective_from) FROM policy_documents AS d
                                         WHERE d.effective_from > p_now));{by_role}
            IF NOT answered THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST}, {_READ}
                FROM (SELECT 1) AS one LEFT JOIN (
{now(m.EVERY_ROLE)}
                ) AS p ({m._NAMES}) ON true;
            END IF;
        END
        $function$
        """  # noqa: S608 - the migration's own constants


NOTE_FUNCTION = f"""
    CREATE FUNCTION {NOTE}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' OR TG_ARGV[0] = 'platform' THEN
            INSERT INTO public.principal_epoch_raises (school) VALUES (NULL);
        ELSIF TG_OP = 'INSERT' THEN
            INSERT INTO public.principal_epoch_raises (school) SELECT DISTINCT school_id FROM new_rows;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO public.principal_epoch_raises (school)
            SELECT school_id FROM new_rows UNION SELECT school_id FROM old_rows;
        ELSE
            INSERT INTO public.principal_epoch_raises (school) SELECT DISTINCT school_id FROM old_rows;
        END IF;
        RETURN NULL;
    END
    $$
"""  # noqa: S608 - the migration's own constants
"""A writing statement notes each school it wrote rows of (NULL: every school, for a truncate or the
platform's documents). Statement-level: one insert per statement, whatever it wrote; no lock taken."""

RAISE_FUNCTION = f"""
    CREATE FUNCTION {RAISE}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.school IS NULL THEN
            UPDATE public.schools SET principal_epoch = principal_epoch + 1;
        ELSE
            UPDATE public.schools SET principal_epoch = principal_epoch + 1 WHERE id = NEW.school;
        END IF;
        DELETE FROM public.principal_epoch_raises WHERE id = NEW.id;
        RETURN NULL;
    END
    $$
"""  # noqa: S608 - the migration's own constants
"""As the writer commits: the noted school's epoch raised, and the note removed."""


_SCHOOL_EVENTS = {
    "insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
    "truncate": "AFTER TRUNCATE ON {table}",
}
"""A school table's triggers by name suffix: one an event, each with the transition tables it reads."""
_PLATFORM_EVENTS = {"write": "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"}
"""A platform table's one trigger: every school's epoch, whatever was written."""


def _events(table: str) -> dict[str, str]:
    return _PLATFORM_EVENTS if table in PLATFORM_TABLES else _SCHOOL_EVENTS


def _triggers(table: str) -> list[str]:
    argument = "'platform'" if table in PLATFORM_TABLES else ""
    quoted = f'"{table}"'
    return [
        f"CREATE TRIGGER {NOTE}_{kind} {event.format(table=quoted)} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {NOTE}({argument})"
        for kind, event in _events(table).items()
    ]


def upgrade() -> None:
    citus.allow_triggers()
    op.execute("ALTER TABLE schools ADD COLUMN principal_epoch bigint NOT NULL DEFAULT 0")
    op.create_table(
        "principal_epoch_raises",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("school", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_epoch_raises")),
    )
    rls.grant("principal_epoch_raises", "SELECT, INSERT, DELETE")
    citus.distribute()  # a reference table there, like every global table (ADR 19)
    previous = _module("m0029", "0029_enter_school_by_role.py").ARGUMENTS
    op.execute(f"DROP FUNCTION app_enter_school({previous})")
    op.execute(_function())
    if citus.installed():
        return  # no kept principals on Citus (ADR 19): the request reads its principal every time
    op.execute(NOTE_FUNCTION)
    op.execute(RAISE_FUNCTION)
    op.execute(
        f"CREATE CONSTRAINT TRIGGER {RAISE} AFTER INSERT ON principal_epoch_raises "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {RAISE}()"
    )
    for table in (*SCHOOL_TABLES, *PLATFORM_TABLES):
        for statement in _triggers(table):
            op.execute(statement)


def downgrade() -> None:
    if not citus.installed():
        for table in (*SCHOOL_TABLES, *PLATFORM_TABLES):
            for kind in _events(table):
                op.execute(f'DROP TRIGGER {NOTE}_{kind} ON "{table}"')
        op.execute(f"DROP TRIGGER {RAISE} ON principal_epoch_raises")
        op.execute(f"DROP FUNCTION {NOTE}()")
        op.execute(f"DROP FUNCTION {RAISE}()")
    op.drop_table("principal_epoch_raises")
    op.execute(f"DROP FUNCTION app_enter_school({ARGUMENTS})")
    _module("teachers_pupils_0032", "0032_teachers_pupils_by_group_ids.py").upgrade()  # 0032's function
    op.execute("ALTER TABLE schools DROP COLUMN principal_epoch")

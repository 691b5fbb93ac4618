"""The principal's statement reads a teacher's pupils by the ids of the groups the teacher teaches (a
semi-join: ``group_pupils.group_id IN (the active groups taught)``), where it joined the taught groups, the
groups and their pupils: PostgreSQL then looked the group up again for each of its pupils. The answer is the
same set of pupils; in a loop in the database (3,000 calls, a teacher of one class of 30, the learning
bench's full data) the subquery cost 25.6 us a call against 49.6 (ADR 13, eleventh pass).

``app_enter_school`` (migration 0029) holds the principal's statement of each role, so it is replaced: the
statement of every role and the STAFF one change, each in that one subquery (0029's texts with it replaced:
what ``auth.principal.function_statement`` writes now); the SCHOOL_ADMIN, PUPIL and PARENT statements have
no teacher's arm and are 0029's. Everything else is 0029's function, arguments and columns included.
tests/test_enter_school_function.py fails when the texts are no longer what ``function_statement`` writes.

Revision ID: 0032
Revises: 0031
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEACHERS_PUPILS_BEFORE = (
    " \nFROM group_teachers JOIN groups ON groups.school_id = p_school_id::UUID AND groups.id = group_teachers.group_id"
    " AND groups.active JOIN group_pupils ON group_pupils.school_id = p_school_id::UUID AND group_pupils.group_id"
    " = group_teachers.group_id \nWHERE group_teachers.school_id = p_school_id::UUID AND group_teachers.staff_id"
    " = accounts.staff_id)"
)
"""The teacher's pupils' subquery after its ``array_agg`` column, in 0029's every-role and STAFF statements."""

TEACHERS_PUPILS = (
    " \nFROM group_pupils \nWHERE group_pupils.school_id = p_school_id::UUID AND group_pupils.group_id IN (SELECT"
    " group_teachers.group_id \nFROM group_teachers JOIN groups ON groups.school_id = p_school_id::UUID AND groups.id"
    " = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_id = p_school_id::UUID AND"
    " group_teachers.staff_id = accounts.staff_id))"
)
"""The same subquery now (``auth.principal._principal_stmt``): the pupils of the groups taught, by the groups' ids."""


def _revision_0029() -> ModuleType:
    """Migration 0029, whose function this one rewrites with two of its statements changed."""
    path = Path(__file__).with_name("0029_enter_school_by_role.py")
    spec = importlib.util.spec_from_file_location("enter_school_0029", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(every_role: str, staff: str) -> str:
    """0029's ``app_enter_school`` with ``every_role`` and ``staff`` as those two statements."""
    m = _revision_0029()
    branches = []
    for keyword, (role, statement) in zip(
        ("IF", "ELSIF", "ELSIF", "ELSIF"),
        (("SCHOOL_ADMIN", m.SCHOOL_ADMIN), ("STAFF", staff), ("PUPIL", m.PUPIL), ("PARENT", m.PARENT)),
        strict=True,
    ):
        branches.append(
            f"""
            {keyword} p_role = '{role}' THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST} FROM (
{statement}
                ) AS p ({m._NAMES});
                answered := FOUND;"""  # noqa: S608 - the migration's own constants
        )
    by_role = "".join(branches) + "\n            END IF;"
    return f"""
        CREATE OR REPLACE FUNCTION app_enter_school({m.ARGUMENTS})
        RETURNS TABLE ({m.TENANT_COLUMNS}, {m.PRINCIPAL_COLUMNS})
        LANGUAGE plpgsql VOLATILE AS $function$
        DECLARE
            school record;
            answered boolean := false;
        BEGIN
            SELECT s.id, s.slug, s.name, s.status, s.status_reason INTO school
            FROM schools AS s WHERE s.slug = p_slug;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            PERFORM set_config('app.school_ids', school.id::text, true), set_config('app.trust_ids', '', true);
            IF school.status IS DISTINCT FROM 'ACTIVE' OR p_account_id IS NULL
                OR p_school_id IS DISTINCT FROM school.id THEN
                RETURN QUERY SELECT {m._TENANT}, {m._NULLS};
                RETURN;
            END IF;{by_role}
            IF NOT answered THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST}
                FROM (SELECT 1) AS one LEFT JOIN (
{every_role}
                ) AS p ({m._NAMES}) ON true;
            END IF;
        END
        $function$
        """  # noqa: S608 - the migration's own constants


def _now(statement: str) -> str:
    """A statement of 0029 with the teacher's pupils read as :data:`TEACHERS_PUPILS`."""
    assert statement.count(TEACHERS_PUPILS_BEFORE) == 1
    return statement.replace(TEACHERS_PUPILS_BEFORE, TEACHERS_PUPILS)


def upgrade() -> None:
    previous = _revision_0029()
    op.execute(_function(_now(previous.EVERY_ROLE), _now(previous.STAFF)))


def downgrade() -> None:
    previous = _revision_0029()
    op.execute(_function(previous.EVERY_ROLE, previous.STAFF))

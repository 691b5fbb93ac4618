"""The roster import's staging on either database (roster/staging.py, roster/routing.py, migration 0020): the
permanent staging tables Citus stages in are those of the temporary ones plus ``school_id``, and no import
leaves a staged row behind it; the curriculum the content takedown locks on Citus stays untruncatable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import exists, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Pupil
from models.roster import Term
from roster import routing, staging
from tenants.context import bind
from tenants.scoping import restrict, scoped_update
from tests.factories.people import new_school, new_upn
from tests.factories.roster import enrol, klass, oneroster, problems, run_import, set_org, user
from tests.factories.schools import SchoolFactory

COLUMNS = text(
    """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
    WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
    """
)


async def test_the_permanent_staging_tables_are_the_temporary_ones_with_the_school(
    owner_engine: AsyncEngine,
) -> None:
    """Migration 0020's tables (staged in on Citus) have the columns, in order and type, that the import's
    statements name (roster/staging.py), after ``school_id`` (and before the key a table without one of its
    own is given): a column added to one and not the other fails here, not in a Citus import."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    async with owner_engine.connect() as connection:
        for table in staging.ALL:
            found = (await connection.execute(COLUMNS, {"table": f"public.{table.name}"})).all()
            wanted = [(staging.SCHOOL, "uuid")] + [
                (column.name, str(column.type.compile(dialect=dialect)).lower())
                for column in staging.columns(table)
            ]
            if not table.primary_key.columns:  # a key of its own, filled by a default (migration 0020)
                wanted.append(("stage_key", "uuid"))
            assert [tuple(row) for row in found] == wanted, table.name


def _package() -> bytes:
    return oneroster(
        users=[
            user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
            user("p1", "student", "Pat", "Pupil", user_ids=f"{{UPN:{new_upn()}}}"),
        ],
        classes=[klass("c1", "Class 9X")],
        enrollments=[enrol("e-t1", "c1", "t1", "teacher"), enrol("e-p1", "c1", "p1")],
    )


async def _staged_rows(owner_engine: AsyncEngine) -> dict[str, int]:
    async with owner_engine.connect() as connection:
        return {
            table.name: int(
                (await connection.execute(text(f'SELECT count(*) FROM public."{table.name}"'))).scalar_one()
            )
            for table in staging.ALL
        }


@pytest.mark.parametrize("dry_run", [False, True])
async def test_no_import_leaves_a_staged_row_behind(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory, dry_run: bool
) -> None:
    """LL 10.2: a committed import (whose staged rows are deleted before its commit, on Citus) and a dry run
    (rolled back) leave nothing in the permanent staging tables: the package's people are in the school's
    tables only."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    report = await run_import(engine, school.id, _package(), dry_run=dry_run)
    assert report.outcome == ("DRY_RUN" if dry_run else "COMMITTED"), problems(report)
    assert report.counts["pupils"].create == 1 and report.counts["memberships"].create == 1
    assert set((await _staged_rows(owner_engine)).values()) == {0}
    async with owner_engine.connect() as connection:
        pupils = await connection.execute(
            text("SELECT count(*) FROM pupils WHERE school_id = :s AND source_id = 'p1'"), {"s": school.id}
        )
        assert pupils.scalar_one() == (0 if dry_run else 1)


async def test_the_runtime_role_cannot_truncate_the_curriculum(engine: AsyncEngine) -> None:
    """On Citus the runtime role holds TRUNCATE on curriculum_ladders (taking pre-loaded content down locks
    it, migration 0020); it still cannot empty it: the tables whose foreign keys reference it would have to
    go with it, and it may truncate none of them. On plain PostgreSQL it has no TRUNCATE at all."""
    for statement in ("TRUNCATE curriculum_ladders", "TRUNCATE curriculum_ladders CASCADE"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text(statement))
            assert "permission denied" in str(raised.value) or "foreign key" in str(raised.value)
            await connection.rollback()
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM curriculum_ladders"))).scalar_one() > 0


@pytest.mark.citus_only
async def test_the_imports_statements_run_on_the_schools_worker(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """On Citus every statement of an import, routed (roster/routing.py), is one task on one shard group: a
    check's correlated subquery from a staging table into the school's pupils, and a write joining the
    school's terms to two staging tables."""
    school = await new_school(factory)
    people, terms, matched = staging.PEOPLE, staging.TERMS, staging.MATCH_TERMS
    check = select(people.c.row_no).where(
        exists(restrict(select(Pupil.id).where(Pupil.upn == people.c.upn), Pupil, school.id))
    )
    write = (
        scoped_update(Term, school.id)
        .where(Term.id == matched.c.id, matched.c.sourced_id == terms.c.sourced_id)
        .values(title=terms.c.title)
    )
    for statement in (check, write):
        compiled = routing.for_citus(statement, school.id).compile(
            compile_kwargs={"render_postcompile": True}
        )
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, [school.id])
            plan = "\n".join(
                row[0] for row in (await session.execute(text(f"EXPLAIN {compiled}"), compiled.params)).all()
            )
        assert [int(n) for n in re.findall(r"Task Count: (\d+)", plan)] == [1], plan

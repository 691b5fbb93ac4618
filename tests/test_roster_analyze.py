"""An import has the tables it wrote analysed before it commits, through ``roster_analyze`` (migration 0012).

The runtime role owns no table (it may not ANALYZE one); the owner's SECURITY DEFINER function analyses the
fixed roster tables for it, and nothing else.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories.citus import ROSTER_ANALYZE
from tests.factories.people import new_school, new_upn
from tests.factories.roster import enrol, klass, oneroster, problems, run_import, set_org, user
from tests.factories.schools import SchoolFactory
from tests.test_query_counts import counting

pytestmark = pytest.mark.plain_only(reason=ROSTER_ANALYZE)


def _package(pupils: int) -> bytes:
    ids = [f"p{n}" for n in range(1, pupils + 1)]
    return oneroster(
        users=[
            user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
            *(user(p, "student", "Pat", "Pupil", user_ids=f"{{UPN:{new_upn()}}}") for p in ids),
        ],
        classes=[klass("c1", "Class 9X")],
        enrollments=[enrol("e-t1", "c1", "t1", "teacher"), *(enrol(f"e-{p}", "c1", p) for p in ids)],
    )


async def _statistics(owner_engine: AsyncEngine, table: str) -> tuple[float, int]:
    """The planner's row count of ``table`` (pg_class.reltuples) and its real one."""
    async with owner_engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    f"SELECT c.reltuples, (SELECT count(*) FROM {table}) FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
                ),
                {"t": table},
            )
        ).one()
    return float(row[0]), int(row[1])


async def test_an_import_leaves_the_tables_it_wrote_analysed(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """The planner's row counts of the tables the import wrote are the real ones as it commits (ANALYZE of a
    table this small reads every row), so what runs next is planned on the school's real rows."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    report = await run_import(engine, school.id, _package(pupils=40))
    assert report.outcome == "COMMITTED", problems(report)
    assert report.counts["pupils"].create == 40
    for table in ("pupils", "group_pupils", "accounts"):
        estimated, real = await _statistics(owner_engine, table)
        assert estimated == real, table


async def test_an_unchanged_reimport_and_a_dry_run_analyse_nothing(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """A re-import that changes nothing and a dry run (rolled back) take no table lock for ANALYZE: the
    statement is not even sent."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    package = _package(pupils=3)
    with counting(engine) as first:
        assert (await run_import(engine, school.id, package)).outcome == "COMMITTED"
    assert len([s for s in first if "roster_analyze" in s]) == 2  # the records, then the links
    with counting(engine) as again:
        report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED" and report.changes == 0
    with counting(engine) as dry:
        assert (await run_import(engine, school.id, _package(pupils=2), dry_run=True)).outcome == "DRY_RUN"
    assert [s for s in again + dry if "roster_analyze" in s] == []


async def test_the_runtime_role_analyses_only_the_roster_tables(engine: AsyncEngine) -> None:
    """The function is the owner's (SECURITY DEFINER, a fixed search_path), executable by the runtime role
    and not by PUBLIC; it analyses only its fixed list, whatever names it is given."""
    async with engine.connect() as connection:
        analysed = await connection.execute(
            text("SELECT roster_analyze(ARRAY['audit_log', 'schools', 'pupils', 'pg_class', 'public.staff'])")
        )
        assert analysed.scalar_one() == 1
        definition = (
            await connection.execute(
                text(
                    "SELECT p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner) <> current_user, "
                    "has_function_privilege('public', p.oid, 'EXECUTE') "
                    "FROM pg_proc p WHERE p.proname = 'roster_analyze'"
                )
            )
        ).one()
        assert definition == (True, ["search_path=pg_catalog, pg_temp"], True, False)

"""Statement count of a roster import: a fixed number for a package's shape, none per row or per table.

Counted like tests/test_query_counts.py: every statement the runtime engine executes, here around one
import in a transaction of its own (tests/factories/roster.py ``run_import``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories.citus import ON_CITUS, ROSTER_IMPORT_ON_CITUS
from tests.factories.people import new_school, new_upn
from tests.factories.roster import enrol, klass, oneroster, problems, run_import, set_org, user
from tests.factories.schools import SchoolFactory
from tests.test_query_counts import counting

TWO_USER_IMPORT = 117
"""A teacher and a pupil in one class (OneRoster bulk, committed), its audit event included (the import
emits it; writing the trail is one INSERT: no head locked or read, issue 15). Before the staging tables were created in one statement and
analysed together the import alone ran 166: 29 statements of DDL (now one ``DO`` block), 21 ANALYZEs (now
7: none for empty or unchanged tables), and 12 to set and restore the import's settings (now 4). Since
migration 0012 the tables the import changed are analysed, in two calls of ``roster_analyze``: the records'
tables before the links are written, the links' tables at the end."""
EXPECTED = TWO_USER_IMPORT + (ROSTER_IMPORT_ON_CITUS if ON_CITUS else 0)


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


async def _count(engine: AsyncEngine, factory: SchoolFactory, package: bytes) -> int:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    with counting(engine) as statements:
        report = await run_import(engine, school.id, package)
    assert report.outcome == "COMMITTED", problems(report)
    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "DROP", "DO"))]
    # every staging table in one round trip (on Citus: the files' temporary tables, and the staged rows'
    # deletion before the commit)
    assert len(ddl) == (2 if ON_CITUS else 1), ddl
    return len(statements)


async def test_a_two_user_import_runs_a_fixed_number_of_statements(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    assert await _count(engine, factory, _package(pupils=1)) == EXPECTED


async def test_more_rows_of_the_same_shape_run_no_more_statements(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    assert await _count(engine, factory, _package(pupils=12)) == EXPECTED

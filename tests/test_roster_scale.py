"""A large school: the 5,000-pupil package of a trust imports, and the school exports straight after.

The export runs on the runtime role's engine, right after the import committed: the rows it reads have just
been written, and no autovacuum has run in between; the import itself had the tables it wrote analysed
(roster_analyze, migration 0012), and the export's plan does not depend on that (its bulk-job settings).
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.roster import ORG, generate
from tests.factories import clock
from tests.factories.citus import ON_CITUS
from tests.factories.people import new_school
from tests.factories.roster import export, oneroster_11_violations, problems, run_import, set_org
from tests.factories.schools import SchoolFactory

pytestmark = pytest.mark.slow

PUPILS = 5000


async def test_a_5000_pupil_school_exports_straight_after_its_import(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """LL 5.1.4: straight after a 5,000-pupil import the school's export completes (within the server's
    statement timeout for its own statements) and keeps to the OneRoster 1.1 vocabulary."""
    school = await new_school(factory)
    await set_org(engine, school.id, ORG)
    package = tmp_path / "trust.zip"
    generate(package, PUPILS, 10, 5, today=clock.school_day())

    started = time.perf_counter()
    report = await run_import(engine, school.id, package)
    imported = time.perf_counter() - started
    assert report.outcome == "COMMITTED", problems(report)[:5]
    if not ON_CITUS:  # on Citus the shards are the workers' to analyse (roster/session_settings.py)
        async with owner_engine.connect() as connection:
            planned = await connection.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('pupils', 'group_pupils')")
            )
            # the planner knows the school's rows as the import committed (never analysed: -1)
            assert {name: tuples >= PUPILS for name, tuples in planned} == {
                "pupils": True,
                "group_pupils": True,
            }
    started = time.perf_counter()
    exported = await export(engine, school.id)
    print(f"import {imported:.1f}s, export {time.perf_counter() - started:.1f}s")

    archive = zipfile.ZipFile(io.BytesIO(exported))
    assert oneroster_11_violations(archive) == []
    users = list(csv.DictReader(io.StringIO(archive.read("users.csv").decode())))
    roles = {r["role"] for r in users if not r["sourcedId"].startswith("seed")}
    assert len([u for u in users if u["role"] == "student"]) >= PUPILS
    assert {"student", "teacher", "parent"} <= roles

"""The speed of a roster import against a raw COPY of the same rows into the same tables, in one run.

``make bench-roster`` (``python -m bench bench.roster``). In a scratch database on the server of
``DATABASE_URL`` (or the embedded PostgreSQL), migrated afresh and dropped at the end, it generates a
synthetic OneRoster 1.1 bulk package of a trust (the trust as district org, its academy as school org with
the school's URN as identifier): ``BENCH_ROSTER_PUPILS`` pupils (default 80,000), one staff member per
``BENCH_ROSTER_PUPILS_PER_STAFF`` pupils (10) and one parent per ``BENCH_ROSTER_PUPILS_PER_PARENT`` pupils
(5) -- 104,000 users by default -- in classes of 25 (each pupil in a registration group and 3 classes, each
class with a teacher: 326,400 enrollments), with demographics for every pupil. Then:

1. **import**: the package through ``roster.service.import_path`` (parse, stage with COPY, check, merge),
   as the command line runs it, timed end to end;
2. **raw COPY**: the rows the import wrote (read back from every table it wrote) copied with asyncpg's
   ``copy_records_to_table`` into the same tables for a second school, timed around the COPYs only (the
   tables analysed first, so that the reference does not depend on the statistics the import left);
3. **the change-version triggers' cost**: the rows of the tables it stamps COPYed again with the trigger
   and with it disabled, inside savepoints rolled back after each (so each copy meets the same tables),
   three times each, the fastest of each compared (``_stamp_cost``); then the same for the links and
   accounts, whose inserts restamp the persons and classes they point at (migration 0028), after those.

Both count the same rows (people, groups, terms, links, accounts), so rows/s compare like with like; the
ratio import/COPY is the figure to watch (goal: at least 0.5). It also reports the import's peak memory
(the process's max RSS), which must not grow with the file. ``BENCH_ROSTER_KEEP=1`` keeps the database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import resource
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.stamping import StampCost, stamp_cost

console = Console()
URN = "912345"
ORG = "academy-1"
# The tables an import writes, in an order that satisfies their foreign keys.
TABLES = (
    "terms",
    "groups",
    "staff",
    "pupils",
    "contacts",
    "group_terms",
    "group_pupils",
    "group_teachers",
    "pupil_contacts",
    "accounts",
)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# --- the package -----------------------------------------------------------------------------------------


def _upn(n: int) -> str:
    from common.identifiers import upn_check_letter

    body = f"912{n:09d}"
    return upn_check_letter(body) + body


@dataclass(frozen=True)
class Shape:
    """How big the trust's package is: pupils, and one staff member and one parent per so many pupils."""

    pupils: int
    per_staff: int
    per_parent: int
    per_class: int = 25

    @property
    def staff(self) -> int:
        return max(self.pupils // self.per_staff, 1)

    @property
    def parents(self) -> int:
        return max(self.pupils // self.per_parent, 1)

    @property
    def classes(self) -> int:
        return max(self.pupils // self.per_class, 1)


def generate(
    path: Path, pupils: int, per_staff: int, per_parent: int, *, today: date | None = None
) -> dict[str, int]:
    """Write the package; return rows per file. ``today``: the day pupils' ages are reckoned from (the
    host's date unless given; the test suite gives its fixed clock's)."""
    shape = Shape(pupils, per_staff, per_parent)
    # One generator for the whole package, drawn in file order: the same package every run.
    rng = random.Random(20261123)
    sessions = [
        ["y2026", "", "", "2026/27", "schoolYear", "2026-09-01", "2027-07-31", "", "2027"],
        ["t1", "", "", "Autumn 2026", "term", "2026-09-01", "2026-12-18", "y2026", "2027"],
    ]
    courses = [[f"co{c}", "", "", "", f"Course {c}", "", "", ORG, "", ""] for c in range(40)]
    manifest = [["manifest.version", "1.0"], ["oneroster.version", "1.1"]] + [
        [f"file.{n}", "bulk"] for n in ("academicSessions", "classes", "courses", "demographics", "enrollments", "orgs", "users")
    ]  # fmt: skip
    orgs = [
        ["trust", "", "", "Bench Learning Trust", "district", "", ""],
        [ORG, "", "", "Bench Academy", "school", URN, "trust"],
    ]
    files: list[tuple[str, Any]] = [
        ("manifest.csv", manifest),
        ("orgs.csv", orgs),
        ("academicSessions.csv", sessions),
        ("courses.csv", courses),
        ("classes.csv", _classes(shape)),
        ("users.csv", _users(shape)),
        ("demographics.csv", _demographics(shape, rng, today or date.today())),
        ("enrollments.csv", _enrollments(shape, rng)),
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        return {name: _write(archive, name, records) for name, records in files}


def _write(archive: zipfile.ZipFile, name: str, records: Any) -> int:
    """Write one CSV member with its OneRoster 1.1 header; return its row count."""
    from roster.oneroster import SPECS_11

    count = 0
    with archive.open(name, "w") as raw:
        text_out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text_out, lineterminator="\r\n")
        writer.writerow(SPECS_11[name] if name != "manifest.csv" else ("propertyName", "value"))
        for record in records:
            writer.writerow(record)
            count += 1
        text_out.flush()
        text_out.detach()
    return count


def _users(shape: Shape) -> Any:
    for s in range(shape.staff):
        yield [f"st{s}", "", "", "true", ORG, "teacher" if s % 8 else "aide", f"staff{s}", "", f"Staff{s}",
               f"Member{s}", "", "", f"staff{s}@academy.example", "", "", "", "", ""]  # fmt: skip
    for p in range(shape.pupils):
        parent = f"pa{p // shape.per_parent}" if p // shape.per_parent < shape.parents else ""
        yield [f"pu{p}", "", "", "true", ORG, "student", f"pupil{p}", f"{{UPN:{_upn(p)}}}", f"Pupil{p}",
               f"Surname{p % 5000}", "", "", "", "", "", parent, "", ""]  # fmt: skip
    for a in range(shape.parents):
        last = min((a + 1) * shape.per_parent, shape.pupils)
        children = ",".join(f"pu{c}" for c in range(a * shape.per_parent, last))
        yield [f"pa{a}", "", "", "true", ORG, "parent", f"parent{a}", "", f"Parent{a}", f"Carer{a}", "", "",
               f"parent{a}@home.example", "", "07700900123", children, "", ""]  # fmt: skip


def _demographics(shape: Shape, rng: random.Random, today: date) -> Any:
    for p in range(shape.pupils):
        born = today - timedelta(days=365 * 5 + rng.randrange(365 * 12))
        yield [f"pu{p}", "", "", born.isoformat(), "female" if p % 2 else "male", *([""] * 11)]


def _classes(shape: Shape) -> Any:
    for c in range(shape.classes):
        kind = "homeroom" if c % 4 == 0 else "scheduled"
        yield [f"cl{c}", "", "", f"Class {c}", "", f"co{c % 40}", "", kind, "", ORG, "y2026,t1", "Maths", "",
               ""]  # fmt: skip


def _enrollments(shape: Shape, rng: random.Random) -> Any:
    """Each pupil in a registration group and 3 classes; each class with a teacher."""
    homerooms = [c for c in range(shape.classes) if c % 4 == 0]
    scheduled = [c for c in range(shape.classes) if c % 4]
    for p in range(shape.pupils):
        for c in (homerooms[p % len(homerooms)], *rng.sample(scheduled, 3)):
            yield [f"e{p}-{c}", "", "", f"cl{c}", ORG, f"pu{p}", "student", "false", "", ""]
    for c in range(shape.classes):
        yield [f"t{c}", "", "", f"cl{c}", ORG, f"st{c % shape.staff}", "teacher", "true", "", ""]


# --- the database ----------------------------------------------------------------------------------------


async def _create_database(owner: URL, name: str, *, drop_only: bool = False) -> None:
    from common.settings import Settings
    from server.database import create_engine

    engine = create_engine(owner, Settings(), pool_size=1)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            # The engine's statement timeout (5 s) is for requests; dropping a database a bench filled
            # waits for its files and its connections' ends, longer on a busy machine.
            await connection.execute(text("SET statement_timeout = 0"))
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _school(session: AsyncSession, slug: str, urn: str | None) -> uuid.UUID:
    from common.clock import utcnow
    from subscriptions.provisioning import create_school
    from tenants.context import bind

    school = await create_school(session, slug=slug, name=slug, phase="ALL_THROUGH", urn=urn, now=utcnow())
    await bind(session, [school.id])
    return school.id


async def run(runtime_url: URL, owner_url: URL, package: Path) -> dict[str, Any]:
    """Import the package for one school (timed), then COPY the rows it wrote into another (timed)."""
    from common.settings import Settings
    from server.database import create_engine

    engine = create_engine(runtime_url, Settings(), pool_size=2)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            school = await _school(session, "bench-roster-import", URN)
        result = await _import(engine, school, package)
        report = result["report"]
        if report.outcome != "COMMITTED":
            for p in report.problems[:20]:
                console.print(p)
            raise SystemExit(f"the import was {report.outcome}")
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            other = await _school(session, "bench-roster-copy", None)
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            spare = await _school(session, "bench-roster-stamp", None)
        result |= await _raw_copy(owner_url, school, other, spare)
    finally:
        await engine.dispose()
    return result


async def _import(engine: Any, school: uuid.UUID, package: Path) -> dict[str, Any]:
    """The import as the command line runs it (runtime role, one transaction), timed to its commit."""
    from common.clock import utcnow
    from roster import service
    from server.cli.common import command_trail
    from tenants.context import bind

    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school])
        trail = command_trail(session, school)
        ref = await service.school_ref(session, school)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = await service.import_path(
            session,
            ref,
            package,
            by=service.Importer("bench"),
            options=service.ImportOptions(),
            now=utcnow(),
        )
        await trail.write(session, now=utcnow())
        await session.commit()
        return {
            "report": report,
            "import_seconds": time.perf_counter() - started,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss_before / 1024,
        }


async def _raw_copy(owner_url: URL, school: uuid.UUID, other: uuid.UUID, spare: uuid.UUID) -> dict[str, Any]:
    """The same rows, raw: read them back, then COPY them into the same tables for another school, timed
    around the COPYs only.

    COPY FROM is refused on tables with row-level security for any role it applies to, so the raw COPY
    runs as the owner (a superuser: RLS bypassed), the import as the runtime role (RLS applies).

    The tables are analysed before the COPY is timed, so that the reference does not depend on what the
    import left in the statistics: the COPY's foreign-key checks are planned from them, and on tables never
    analysed they took about twice as long (an import analyses what it wrote since migration 0012, which
    made the reference faster and the ratio fall with no change in the import's own time).
    """
    from common.settings import Settings
    from roster import staging
    from server.database import create_engine

    owner = create_engine(owner_url, Settings(), pool_size=1)
    copied: dict[str, int] = {}
    per_table: dict[str, float] = {}
    try:
        async with AsyncSession(owner) as session, session.begin():
            await session.execute(text("SET LOCAL statement_timeout = '30min'"))
            driver = await staging.raw_connection(session)
            data: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
            for table in TABLES:
                records = await driver.fetch(f'SELECT * FROM "{table}" WHERE school_id = $1', school)  # noqa: S608
                columns = list(records[0].keys()) if records else []
                at = columns.index("school_id") if columns else 0
                data[table] = (columns, [(*r[:at], other, *r[at + 1 :]) for r in records])
            await driver.execute("ANALYZE " + ", ".join(f'"{t}"' for t in TABLES))
            started = time.perf_counter()
            for table in TABLES:
                columns, rows = data[table]
                began = time.perf_counter()
                if rows:
                    await driver.copy_records_to_table(table, records=rows, columns=columns)
                per_table[table] = time.perf_counter() - began
                copied[table] = len(rows)
            seconds = time.perf_counter() - started
            stamp = await _stamp_cost(driver, data, other, spare)
    finally:
        await owner.dispose()
    return {"copy_seconds": seconds, "copy_per_table": per_table, "copied": copied, "stamp": stamp}


STAMPED = ("groups", "staff", "pupils", "contacts")
"""The tables of the import whose rows the change-version trigger stamps (``stamp_change_version``)."""
RESTAMPING = ("group_terms", "pupil_contacts", "accounts")
"""The tables of the import whose inserts restamp the rows they point at (``restamp_on_insert``)."""


async def _stamp_cost(
    driver: Any, data: dict[str, tuple[list[str], list[tuple[Any, ...]]]], other: uuid.UUID, spare: uuid.UUID
) -> tuple[StampCost, StampCost]:
    """The triggers' costs (:mod:`bench.stamping`) on the stamped tables' rows and on the restamping
    tables' rows (after the terms and the stamped rows they point at), copied for a spare school."""

    def rows(*tables: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        return {
            table: (data[table][0], [tuple(spare if v == other else v for v in r) for r in data[table][1]])
            for table in tables
        }

    stamp = await stamp_cost(driver, rows(*STAMPED))
    restamp = await stamp_cost(
        driver, rows(*RESTAMPING), trigger="restamp_on_insert", before=rows("terms", *STAMPED)
    )
    return stamp, restamp


def main() -> int:
    from common.settings import load_settings
    from server.database import resolve_urls
    from server.migrate import upgrade

    pupils = _env_int("BENCH_ROSTER_PUPILS", 80_000)
    per_staff = _env_int("BENCH_ROSTER_PUPILS_PER_STAFF", 10)
    per_parent = _env_int("BENCH_ROSTER_PUPILS_PER_PARENT", 5)
    settings = load_settings()
    urls = resolve_urls(settings)
    name = f"schoolgraph_bench_roster_{os.getpid()}"
    owner = urls.owner.set(database=name)
    runtime = urls.runtime.set(database=name)
    with tempfile.TemporaryDirectory(prefix="bench-roster-") as folder:
        package = Path(folder) / "trust-oneroster.zip"
        started = time.perf_counter()
        files = generate(package, pupils, per_staff, per_parent)
        console.print(
            f"Generated {package.name}: {package.stat().st_size / 1024**2:.1f} MiB zipped, "
            + ", ".join(f"{n} {c:,}" for n, c in files.items() if n != "manifest.csv")
            + f" ({time.perf_counter() - started:.1f} s)"
        )
        asyncio.run(_create_database(urls.owner, name))
        try:
            upgrade(owner, settings)
            result = asyncio.run(run(runtime, owner, package))
        finally:
            if not os.environ.get("BENCH_ROSTER_KEEP"):
                asyncio.run(_create_database(urls.owner, name, drop_only=True))
    return _print_results(result, files)


def _print_results(result: dict[str, Any], files: dict[str, int]) -> int:
    """The bench's tables; 1 if the import and the COPY did not count the same rows."""
    report = result["report"]
    written = sum(c.create for c in report.counts.values())
    copied = sum(result["copied"].values())
    input_rows = sum(c for n, c in files.items() if n != "manifest.csv")
    import_rate = written / result["import_seconds"]
    copy_rate = copied / result["copy_seconds"]
    table = Table(
        title="bench.roster: OneRoster bulk import vs raw COPY of the same rows (same tables, same run)"
    )
    for column in ("", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "import (parse + stage + check + merge)",
        f"{written:,}",
        f"{result['import_seconds']:.2f}",
        f"{import_rate:,.0f}",
    )
    table.add_row(
        "raw COPY (copy_records_to_table)",
        f"{copied:,}",
        f"{result['copy_seconds']:.2f}",
        f"{copy_rate:,.0f}",
    )
    table.add_row("input CSV rows read by the import", f"{input_rows:,}", "", f"{input_rows / result['import_seconds']:,.0f}")  # fmt: skip
    console.print(table)
    console.print(
        f"users {files['users.csv']:,}, enrollments {files['enrollments.csv']:,}; rows written per table: "
        + ", ".join(f"{t} {n:,}" for t, n in result["copied"].items())
    )
    console.print(
        f"peak RSS {result['rss_mb']:.0f} MiB (before the import {result['rss_before_mb']:.0f} MiB)"
    )
    steps = Table(title="where the time goes")
    for column in ("import step", "seconds", "raw COPY table", "seconds "):
        steps.add_column(column, justify="right" if "seconds" in column else "left")
    copies = list(result["copy_per_table"].items())
    for n, (step, seconds) in enumerate(report.timings.items()):
        table_name, copy_seconds = copies[n] if n < len(copies) else ("", None)
        steps.add_row(
            step, f"{seconds:.2f}", table_name, "" if copy_seconds is None else f"{copy_seconds:.2f}"
        )
    console.print(steps)
    stamp, restamp = result["stamp"]
    console.print(stamp.describe(", ".join(STAMPED), result["import_seconds"], "the import's time"))
    console.print(restamp.describe(", ".join(RESTAMPING), result["import_seconds"], "the import's time"))
    ratio = import_rate / copy_rate
    colour = "green" if ratio >= 0.5 else "yellow"
    console.print(f"[bold {colour}]ratio import/COPY = {ratio:.2f}x[/bold {colour}] (goal >= 0.5x)")
    if written != copied:
        console.print(f"[red]the import wrote {written:,} rows but {copied:,} were copied[/red]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Importing a roster package into one school: read, stage, check, and commit all of it or nothing.

Contract of :func:`import_package`:

* The session's transaction is bound to the school (``tenants.context.bind``); the caller commits.
* Everything the import writes happens inside one SAVEPOINT. Any ERROR problem rolls it back (REFUSED:
  nothing is written); a dry run rolls it back after applying (DRY_RUN: the report counts exactly what a
  commit would change); otherwise it is released (COMMITTED). An unexpected exception rolls it back and
  propagates, and the caller's transaction rolls back with it: a failure half-way leaves nothing behind.
* Afterwards, outside the savepoint, one ``roster_imports`` row records the attempt (who, when, file name,
  SHA-256, format, mode, counts, problem codes, outcome): refused and dry-run imports too.
* Files are streamed, never held whole: staging rows go to COPY in batches parsed in a worker thread.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import school_today
from common.errors import DomainError, violated_constraint
from common.events import emit
from models import School
from models.roster import RosterImport, RosterSource
from privacy import extended_data
from roster import staging
from roster.checks import Checks
from roster.merge import ENTITIES, Counts, Merge
from roster.oneroster import OneRosterReader
from roster.package import Package, PackageError, hash_stream, open_path, open_zip
from roster.problems import ProblemLog, RosterProblem
from roster.reading import BULK, DELTA, Reader, SchoolRef
from roster.schoolgraph_csv import SchoolgraphReader
from roster.session_settings import IMPORT_SETTINGS, analyze_written, set_local
from tenants.context import on_citus
from tenants.scoping import scoped

MODES = ("auto", BULK, DELTA)
ONEROSTER_FILES = {"manifest.csv", "users.csv", "orgs.csv", "classes.csv", "enrollments.csv", "roles.csv"}
SCHOOLGRAPH_FILES = {"school.csv", "pupils.csv", "staff.csv", "groups.csv", "memberships.csv"}

Progress = Callable[[str, int], None]
"""Called as rows are staged: (file or step, rows so far in it)."""


@dataclass(frozen=True)
class Importer:
    """Who imports: a school admin's account (and staff record), or the command line."""

    name: str
    account_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ImportOptions:
    mode: str = "auto"
    dry_run: bool = False
    strict: bool = False
    """Refuse a package whose files have columns the format does not (by default they are warnings)."""
    org: str | None = None
    """The OneRoster org (sourcedId) that is this school, recorded with the import: only when it commits
    (a refused import or a dry run leaves the school's roster source as it was)."""


@dataclass
class ImportReport:
    file_name: str
    sha256: str
    size: int
    format: str = "UNKNOWN"
    mode: str = "BULK"
    dry_run: bool = False
    outcome: str = "REFUSED"
    import_id: uuid.UUID | None = None
    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    skipped_other_schools: int = 0
    problems: list[RosterProblem] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    problem_codes: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step, for the command line's summary and the bench (not kept in the history)."""

    @property
    def changes(self) -> int:
        return sum(c.changes for c in self.counts.values())


def audit_detail(report: ImportReport) -> dict[str, Any]:
    """What the audit log keeps of an import: counts and codes, never names, ids or values from the file."""
    return {
        "outcome": report.outcome,
        "format": report.format,
        "mode": report.mode,
        "dryRun": report.dry_run,
        "changes": report.changes,
        "counts": {k: c.as_dict() for k, c in report.counts.items() if c.changes or c.unchanged},
        "errors": report.error_count,
        "warnings": report.warning_count,
        "codes": report.problem_codes,
        "skippedOtherSchools": report.skipped_other_schools,
    }


async def school_ref(session: AsyncSession, school_id: uuid.UUID) -> SchoolRef:
    school = (await session.execute(select(School).where(School.id == school_id))).scalar_one()
    source = (await session.execute(scoped(RosterSource, school_id))).scalar_one_or_none()
    return SchoolRef(
        id=school.id,
        slug=school.slug,
        urn=school.urn,
        org_sourced_id=source.org_sourced_id if source else None,
    )


async def set_org(
    session: AsyncSession, school_id: uuid.UUID, org_sourced_id: str, *, by: uuid.UUID | None, now: datetime
) -> RosterSource:
    """Say which OneRoster org (its sourcedId) is this school; packages naming it may then be imported."""
    value = valid_org(org_sourced_id)
    stmt = pg_insert(RosterSource).values(school_id=school_id, org_sourced_id=value, set_by=by, set_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["school_id"], set_={"org_sourced_id": value, "set_by": by, "set_at": now}
        )
    )
    return (await session.execute(scoped(RosterSource, school_id))).scalar_one()


def valid_org(org_sourced_id: str, field: str = "orgSourcedId") -> str:
    """An org's sourcedId as recorded (stripped), or a DomainError on ``field`` saying what it must be."""
    value = org_sourced_id.strip()
    if not value or len(value) > 255 or any(ord(c) < 32 for c in value):
        raise DomainError.one(
            field, "INVALID_VALUE", "The org's sourcedId must be 1 to 255 printable characters."
        )
    return value


def reader_for(
    package: Package, log: ProblemLog, school: SchoolRef, mode: str, *, strict: bool = False
) -> Reader | None:
    names = {name.lower() for name in package.files}
    if names & ONEROSTER_FILES:
        return OneRosterReader(package, log, school, mode, strict=strict)
    if names & SCHOOLGRAPH_FILES:
        return SchoolgraphReader(package, log, school, mode, strict=strict)
    log.error(
        "UNKNOWN_LAYOUT",
        "The package is neither OneRoster (manifest.csv, users.csv, ...) nor schoolgraph's own layout "
        "(school.csv, pupils.csv, ...)"
        + (f"; it has {', '.join(sorted(package.files))}." if package.files else ": it has no CSV files."),
    )
    return None


async def import_path(
    session: AsyncSession,
    school: SchoolRef,
    path: Path,
    *,
    by: Importer,
    options: ImportOptions,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a zip file or folder from disk (the command line); the import is emitted to the audit trail."""
    try:
        package = open_path(path)
    except PackageError as error:
        return await _recorded(
            session, await _unreadable(session, school, by, options, path.name, None, error, now)
        )
    try:
        report = await import_package(
            session, school, package, by=by, options=options, now=now, progress=progress
        )
    finally:
        package.close()
    return await _recorded(session, report)


async def import_stream(
    session: AsyncSession,
    school: SchoolRef,
    stream: BinaryIO,
    file_name: str,
    *,
    by: Importer,
    options: ImportOptions,
    now: datetime,
) -> ImportReport:
    """Import an uploaded zip (a seekable binary stream: Starlette spools uploads to disk when large); the
    import is emitted to the audit trail."""
    try:
        package = open_zip(stream, file_name)
    except PackageError as error:
        return await _recorded(
            session, await _unreadable(session, school, by, options, file_name, stream, error, now)
        )
    try:
        report = await import_package(session, school, package, by=by, options=options, now=now)
    finally:
        package.close()
    return await _recorded(session, report)


async def _recorded(session: AsyncSession, report: ImportReport) -> ImportReport:
    """The import's one audit event (LRS 5.1), whoever ran it: applied, dry run or refused alike."""
    await emit(
        session,
        "roster.import",
        "REJECTED" if report.outcome == "REFUSED" else "SUCCESS",
        target_type="RosterImport",
        target_id=report.import_id,
        detail=audit_detail(report),
    )
    return report


async def _unreadable(
    session: AsyncSession,
    school: SchoolRef,
    by: Importer,
    options: ImportOptions,
    name: str,
    stream: BinaryIO | None,
    error: PackageError,
    now: datetime,
) -> ImportReport:
    sha, size = hash_stream(stream) if stream is not None else ("0" * 64, 0)
    log = ProblemLog()
    log.error(error.code, error.message)
    report = ImportReport(file_name=name, sha256=sha, size=size, dry_run=options.dry_run)
    return await _finish(session, school, by, report, log, now)


async def import_package(
    session: AsyncSession,
    school: SchoolRef,
    package: Package,
    *,
    by: Importer,
    options: ImportOptions,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    # Longer than a function should be, on purpose: it is the import's one transaction, read top to bottom
    # (savepoint, stage, check, merge, history); docs/adr/0012-roster-import.md describes each step.
    if options.mode not in MODES:
        raise DomainError.one("mode", "INVALID_VALUE", f"mode must be one of {', '.join(MODES)}.")
    # An org given with the import names the school for this package only; it is recorded with the import,
    # when the import commits (below), never by a refused import or a dry run.
    org = valid_org(options.org, "org") if options.org is not None else None
    if org is not None and org != school.org_sourced_id:
        school = replace(school, org_sourced_id=org)
    else:
        org = None
    log = ProblemLog()
    report = ImportReport(
        file_name=package.name[:255], sha256=package.sha256, size=package.size, dry_run=options.dry_run
    )
    reader = reader_for(package, log, school, options.mode, strict=options.strict)
    if reader is None:
        return await _finish(session, school, by, report, log, now)
    prepared = reader.prepare()
    report.format, report.mode = reader.format, reader.modes.summary()
    if not prepared:
        return await _finish(session, school, by, report, log, now)
    today = school_today(now)
    opted_in = await extended_data.is_opted_in(session, school.id)
    previous = await set_local(session, IMPORT_SETTINGS)
    # On Citus every statement is routed to the school's worker, staging in the distributed staging tables
    # (roster/routing.py); on plain PostgreSQL (None) the statements run as written, on temporary tables.
    routed = school.id if on_citus(await session.connection()) else None
    merge = Merge(
        session=session,
        school_id=school.id,
        modes=reader.modes,
        log=log,
        now=now,
        today=today,
        importer_account_id=by.account_id,
        importer_staff_id=by.staff_id,
        opted_in=opted_in,
        analyse=not options.dry_run,
        routed=routed,
    )
    timings = report.timings
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now_ = time.perf_counter()
        timings[step] = timings.get(step, 0.0) + now_ - clock[0]
        clock[0] = now_

    savepoint = await session.begin_nested()
    try:
        await staging.create_all(session, routed)
        loaded = []
        for load in reader.loads():
            if await staging.copy_stream(
                session,
                load.table,
                load.columns,
                load.batches,
                label=load.label,
                progress=progress,
                routed=routed,
            ):
                loaded.append(load.table)
            lap(f"read and stage {load.label}")
        reader.finish()
        await staging.analyze(session, loaded, routed)
        if reader.roles_from_roles_file:
            reader.skipped_other_schools += await merge.resolve_roles()
        await merge.apply_demographics()
        report.skipped_other_schools = reader.skipped_other_schools
        checks = Checks(
            session,
            log,
            school.id,
            reader.modes,
            today,
            opted_in=opted_in,
            oneroster=isinstance(reader, OneRosterReader),
            users_elsewhere=reader.users_elsewhere if isinstance(reader, OneRosterReader) else None,
            routed=routed,
        )
        lap("prepare staged rows")
        if not log.errors:
            await checks.package()
            lap("check the package")
        if not log.errors:
            await merge.match()
            lap("match existing records")
            await checks.against_school()
            lap("check against the school")
        if not log.errors:
            if progress is not None:
                progress("writing", 0)
            clock[0] = time.perf_counter()
            try:
                await merge.apply()
            except IntegrityError as error:
                # The checks leave little to the database's constraints, but a concurrent change (another
                # import, an admin) or two pupils swapping UPNs can still trip one: refused, not a crash.
                constraint = violated_constraint(error)
                log.error(
                    "CONFLICT",
                    f"The package conflicts with the school's data ({constraint}); nothing was imported. "
                    "If another import or change ran at the same time, run this one again.",
                )
            timings.update(merge.timings)
            clock[0] = time.perf_counter()
            if not log.errors:
                report.counts = merge.counts
                report.outcome = "DRY_RUN" if options.dry_run else "COMMITTED"
        if not log.errors and not options.dry_run and org is not None:
            await set_org(session, school.id, org, by=by.account_id, now=now)
        elif not log.errors and not options.dry_run and reader.org_to_record:
            await _record_org(session, school, reader.org_to_record, by, log, now)
        if log.errors or options.dry_run:
            await savepoint.rollback()
        else:
            await analyze_written(
                session, [e for e, c in report.counts.items() if c.changes and e not in merge.analysed]
            )
            await staging.clear(session, routed)
            await savepoint.commit()
        lap("finish the transaction")
    except BaseException:
        if savepoint.is_active:
            await savepoint.rollback()
        raise
    await set_local(session, previous)
    return await _finish(session, school, by, report, log, now)


async def _record_org(
    session: AsyncSession, school: SchoolRef, org: str, by: Importer, log: ProblemLog, now: datetime
) -> None:
    """Record the org a committed package showed (by the URN) to be this school, saying so in the report."""
    try:
        await set_org(session, school.id, org, by=by.account_id, now=now)
    except DomainError:
        return  # not a sourcedId a school admin could set either: packages keep naming the school by URN
    log.warning(
        "ORG_RECORDED",
        f"Org {org!r} carries this school's URN: it is recorded as this school's org, so that later "
        "packages without orgs.csv (deltas) are recognised.",
        file="orgs.csv",
        column="identifier",
    )


async def _finish(
    session: AsyncSession,
    school: SchoolRef,
    by: Importer,
    report: ImportReport,
    log: ProblemLog,
    now: datetime,
) -> ImportReport:
    """Complete the report from the log and record the attempt in the import history."""
    if log.errors:
        report.outcome = "REFUSED"
        report.counts = {e: Counts() for e in ENTITIES}
    report.problems = list(log.items)
    report.error_count, report.warning_count = log.errors, log.warnings
    report.problem_codes = dict(sorted(log.codes.items()))
    report.truncated = log.truncated
    entry = RosterImport(
        school_id=school.id,
        started_at=now,
        finished_at=max(now, _clock()),
        account_id=by.account_id,
        actor=by.name[:100],
        file_name=report.file_name[:255] or "(unnamed)",
        sha256=report.sha256,
        size_bytes=report.size,
        format=report.format,
        mode=report.mode,
        dry_run=report.dry_run,
        outcome=report.outcome,
        counts={k: c.as_dict() for k, c in report.counts.items()},
        error_count=report.error_count,
        warning_count=report.warning_count,
        problem_codes=report.problem_codes,
    )
    session.add(entry)
    await session.flush()
    report.import_id = entry.id
    return report


def _clock() -> datetime:
    from common.clock import utcnow

    return utcnow()

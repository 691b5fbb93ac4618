"""``schoolgraph roster ...``: import and export a school's roster from the command line.

``schoolgraph roster import --school SLUG PATH [--dry-run] [--mode auto|bulk|delta] [--org SOURCEDID]
[--strict]`` imports a zip or a folder (OneRoster 1.1/1.2 CSV, or schoolgraph's own layout) with a progress bar and a
summary table, in one transaction; ``schoolgraph roster export --school SLUG OUT.zip`` writes the school's
roster as a OneRoster 1.1 bulk zip. Both connect as the runtime role (row-level security applies), record
the action in the school's audit log (actor: the command line) and, for imports, in the import history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from server.cli import common
from server.cli.common import console

if TYPE_CHECKING:
    from common.settings import Settings
    from roster.export import ExportSummary
    from roster.service import ImportOptions, ImportReport
    from server.database import DatabaseUrls

app = typer.Typer(help="Import and export a school's roster (MIS CSV, OneRoster).", no_args_is_help=True)


@app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="A zip file or a folder of CSV files.", exists=True),
    school: str = typer.Option(..., "--school", help="The school's address slug."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count only; write nothing."),
    mode: str = typer.Option("auto", "--mode", help="auto (as the manifest says), bulk or delta."),
    org: str | None = typer.Option(
        None,
        "--org",
        help="This OneRoster org sourcedId is the school: recorded as the school's when the import commits "
        "(not by a dry run or a refused import).",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse columns the format does not have (by default: a warning each)."
    ),
    show: int = typer.Option(50, "--show", help="How many problems to list (all are counted)."),
) -> None:
    """Import a roster package into one school: all of it or nothing."""
    from common.errors import DomainError
    from roster.service import MODES, ImportOptions, valid_org

    if mode not in MODES:
        console.print(f"[red]--mode must be one of {', '.join(MODES)}[/red]")
        raise typer.Exit(2)
    if org is not None:
        try:
            org = valid_org(org, "--org")
        except DomainError as error:
            console.print(f"[red]--org: {error.problems[0].message}[/red]")
            raise typer.Exit(2) from None
    settings = common.settings()
    urls = common.urls(settings, announce=False)
    options = ImportOptions(mode=mode, dry_run=dry_run, strict=strict, org=org)
    report = asyncio.run(_import(settings, urls, school, path, options))
    _print_report(report, show)
    if report.outcome == "REFUSED":
        raise typer.Exit(1)


async def _import(
    settings: Settings,
    urls: DatabaseUrls,
    slug: str,
    path: Path,
    options: ImportOptions,
) -> ImportReport:
    from sqlalchemy.ext.asyncio import AsyncSession

    from common.clock import utcnow
    from roster.service import Importer, import_path, school_ref
    from tenants.context import enter_school

    async with common.runtime_engine(settings, urls) as engine:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            tenant = await enter_school(session, slug)
            if tenant is None:
                console.print(f"[red]No school at /schools/{slug}.[/red]")
                raise typer.Exit(2)
            if not tenant.active:
                console.print(f"[red]The school is {tenant.status.lower()}: no import.[/red]")
                raise typer.Exit(2)
            now = utcnow()
            trail = common.command_trail(session, tenant.id)
            ref = await school_ref(session, tenant.id)
            with _stage_progress() as advance:
                report = await import_path(
                    session,
                    ref,
                    path,
                    by=Importer(name=common.CLI_NAME),
                    options=options,
                    now=now,
                    progress=advance,
                )
            await trail.write(session, now=now)
        return report


@contextmanager
def _stage_progress() -> Iterator[Callable[[str, int], None]]:
    """A progress bar per stage of an import; yields the ``progress(stage, rows)`` callback the importer
    calls. A stage is shown complete when the next one starts, and every stage when the import is done."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>10,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(name: str, rows: int) -> None:
            for other, task in tasks.items():
                if other != name:
                    progress.update(task, total=1, completed=1)
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=None, rows=0)
            progress.update(tasks[name], rows=rows)

        yield advance
        for task in tasks.values():
            progress.update(task, total=1, completed=1)


def _print_report(report: ImportReport, show: int) -> None:
    counts = Table(title=f"{report.file_name} ({report.format}, {report.mode})")
    for column in ("records", "create", "update", "deactivate", "unchanged"):
        counts.add_column(column, justify="left" if column == "records" else "right")
    for entity, c in report.counts.items():
        if c.changes or c.unchanged:
            counts.add_row(entity, *(f"{v:,}" for v in (c.create, c.update, c.deactivate, c.unchanged)))
    console.print(counts)
    if report.problems:
        problems = Table(title=f"{report.error_count} errors, {report.warning_count} warnings")
        for column in ("", "code", "file", "row", "column", "message"):
            problems.add_column(column, overflow="fold")
        for p in report.problems[:show]:
            mark = "[red]ERROR[/red]" if p.severity == "ERROR" else "[yellow]WARN[/yellow]"
            problems.add_row(mark, p.code, p.file or "", str(p.row or ""), p.column or "", p.message)
        console.print(problems)
        hidden = report.error_count + report.warning_count - min(show, len(report.problems))
        if hidden > 0:
            codes = ", ".join(f"{code} {n}" for code, n in report.problem_codes.items())
            console.print(f"... and {hidden} more. By code: {codes}")
    if report.skipped_other_schools:
        console.print(f"{report.skipped_other_schools:,} rows of other schools' orgs were skipped.")
    verdict = {
        "COMMITTED": f"[green]Imported: {report.changes:,} changes.[/green]",
        "DRY_RUN": f"[cyan]Dry run: {report.changes:,} changes would be made; nothing was written.[/cyan]",
        "REFUSED": f"[red]Refused: {report.error_count:,} errors; nothing was written.[/red]",
    }[report.outcome]
    console.print(f"{verdict} SHA-256 {report.sha256}")


@app.command("export")
def export_command(
    out: Path = typer.Argument(..., help="The zip file to write (must not exist)."),
    school: str = typer.Option(..., "--school", help="The school's address slug."),
) -> None:
    """Write the school's roster as a OneRoster 1.1 bulk zip (marked PROTECT)."""
    if out.exists():
        console.print(f"[red]{out} exists: not overwriting it.[/red]")
        raise typer.Exit(2)
    settings = common.settings()
    urls = common.urls(settings, announce=False)
    summary = asyncio.run(_export(settings, urls, school, out))
    table = Table(title=f"{out} (SHA-256 {summary.sha256})")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        "[yellow]PROTECT: this file holds personal data. Keep it secure and delete it when done.[/yellow]"
    )


async def _export(settings: Settings, urls: DatabaseUrls, slug: str, out: Path) -> ExportSummary:
    from sqlalchemy.ext.asyncio import AsyncSession

    from common.clock import utcnow
    from roster.export import export_oneroster
    from roster.service import school_ref
    from tenants.context import enter_school

    async with common.runtime_engine(settings, urls) as engine:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            tenant = await enter_school(session, slug)
            if tenant is None:
                console.print(f"[red]No school at /schools/{slug}.[/red]")
                raise typer.Exit(2)
            trail = common.command_trail(session, tenant.id)
            ref = await school_ref(session, tenant.id)
            partial = out.with_name(out.name + ".part")
            try:
                with partial.open("x+b") as handle:  # read back for the SHA-256
                    summary = await export_oneroster(session, ref, handle)
                partial.rename(out)
            finally:
                partial.unlink(missing_ok=True)
            await trail.write(session, now=utcnow())
        return summary

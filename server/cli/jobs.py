"""``schoolgraph jobs run``: the scheduled work, applied once (run it from cron)."""

from __future__ import annotations

import asyncio

import typer

from server.cli import common
from server.cli.common import console
from server.database import create_engine

app = typer.Typer(
    help="Scheduled work: novations, renewals, notices, suspensions, destruction.", no_args_is_help=True
)


@app.command("run")
def jobs_run(
    step: list[str] = typer.Option([], "--step", help="Only these steps (repeatable); default every step."),
) -> None:
    """Apply everything that is due, once: novations on their date, ended suspensions, renewals and their
    notices, non-payment, destruction of terminated schools' data, the outbox, then the audit sequencer. Safe to run twice or
    from several machines at once; run it from cron (e.g. every 15 minutes)."""
    from server.jobs import STEPS, run_jobs
    from server.runtime import load_keys
    from subscriptions.outbox import MailSettings

    settings = common.settings()
    unknown = set(step) - set(STEPS)
    if unknown:
        console.print(f"[red]Unknown step(s): {', '.join(sorted(unknown))}[/red]; steps: {', '.join(STEPS)}")
        raise typer.Exit(2)
    try:
        mail = MailSettings.from_env()
    except ValueError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    common.log_to_stderr()
    urls = common.urls(settings)

    async def run() -> int:
        # Destroying a terminated school's data needs the owner; everything else runs as the runtime role.
        owner = create_engine(urls.owner, settings, pool_size=1)
        try:
            async with common.runtime_engine(settings, urls) as engine:
                report = await run_jobs(
                    engine,
                    owner_engine=owner,
                    data_dir=settings.data_dir,
                    mail=mail,
                    steps=step or STEPS,
                    keys=load_keys(settings),
                    leaver_retention_days=settings.leaver_retention_days,
                    export_key_file=settings.export_key_file,
                )
        finally:
            await owner.dispose()
        for done in report.steps:
            note = f" (skipped: {done.skipped})" if done.skipped else ""
            failed = f", [red]{len(done.failed)} failed[/red]" if done.failed else ""
            console.print(f"{done.step}: {len(done.applied)} applied{failed}{note}")
        return report.failed

    if asyncio.run(run()):
        raise typer.Exit(1)

"""``schoolgraph audit ...``: verify the schools' logs (chain, Merkle tree, signed heads, anchors), export
their latest signed tree heads, and run the sequencer once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from server.cli import common
from server.cli.common import console

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    school: str | None = typer.Option(None, "--school", help="Only this school (slug)."),
    anchor: Path | None = typer.Option(
        None,
        "--anchor",
        help="Signed tree heads kept outside the database (the output of `audit head`, JSON lines): the "
        "log must be a consistent extension of every one of them.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
) -> None:
    """Check every school's log: the chain, the Merkle tree against every signed tree head stored (and
    anchored), the heads' signatures. Names the first bad sequence number of any school."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.verify import read_anchors, schools, verify_school
    from server.runtime import load_keys

    settings = common.settings()
    urls = common.urls(settings)
    keys = load_keys(settings)
    anchors = []
    if anchor is not None:
        try:
            anchors = read_anchors(anchor.read_text(encoding="utf-8"), source=str(anchor))
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None

    async def run() -> list[str]:
        problems: list[str] = []
        async with (
            common.runtime_engine(settings, urls) as engine,
            AsyncSession(engine, expire_on_commit=False) as session,
        ):
            targets = await schools(session, school)
            if school is not None and not targets:
                problems.append(f"no school with slug {school!r}")
            known = {school_id for school_id, _ in targets}
            if school is None:
                problems += [
                    f"anchored school {a.school_id} no longer exists"
                    for a in anchors
                    if a.school_id not in known
                ]
            for school_id, slug in targets:
                async with session.begin():
                    verdict = await verify_school(session, school_id, slug, keys=keys, anchors=anchors)
                if verdict.fault is None:
                    pending = f", {verdict.pending} pending" if verdict.pending else ""
                    console.print(
                        f"{slug}: {verdict.entries} entries{pending}, {verdict.heads} signed heads, intact",
                        soft_wrap=True,
                    )
                else:
                    problems.append(f"{slug}: entry {verdict.fault.seq} {verdict.fault.reason}")
        return problems

    problems = asyncio.run(run())
    for problem in problems:
        console.print(f"[red]{problem}[/red]", soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@app.command("head")
def audit_head(
    school: str | None = typer.Option(None, "--school", help="Only this school (slug)."),
) -> None:
    """Print each school's latest signed tree head as one line of JSON, to keep outside the database
    (append them to a file and pass it to `audit verify --anchor`)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.verify import latest_head, schools, signed_head_json
    from tenants.context import bind

    settings = common.settings()
    urls = common.urls(settings, announce=False)  # stdout is the JSON lines only

    async def run() -> None:
        async with (
            common.runtime_engine(settings, urls) as engine,
            AsyncSession(engine, expire_on_commit=False) as session,
        ):
            for school_id, slug in await schools(session, school):
                async with session.begin():
                    await bind(session, [school_id])
                    head = await latest_head(session, school_id)
                if head is not None:
                    print(json.dumps(signed_head_json(head, slug), sort_keys=True))

    asyncio.run(run())


@app.command("sequence")
def audit_sequence() -> None:
    """Replay the audit spool and sequence every school's pending entries now (the server and `jobs run` do
    it too)."""
    from audit.sequencer import sequence_all
    from audit.spool import AuditSpool, spool_directory
    from common.clock import utcnow
    from server.runtime import load_keys

    settings = common.settings()
    urls = common.urls(settings)
    keys = load_keys(settings)

    async def run() -> None:
        async with common.runtime_engine(settings, urls) as engine:
            spool = AuditSpool(spool_directory(settings.data_dir))
            outcome = await sequence_all(engine, keys, now=utcnow(), spool=spool)
            for done in outcome.done:
                state = "busy (another sequencer)" if done.busy else f"{done.entries} sequenced"
                console.print(f"{done.school_id}: {state}, tree size {done.tree_size}")
            for school, error in outcome.failed.items():
                console.print(f"{school}: not sequenced, its entries left pending: {error}")
            if outcome.failed:
                raise typer.Exit(1)

    asyncio.run(run())

"""``schoolgraph audit ...``: check the schools' hash chains and sign their heads."""

from __future__ import annotations

import asyncio

import typer

from common.clock import utcnow
from server.cli import common
from server.cli.common import console

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    school: str | None = typer.Option(None, "--school", help="Only this school (slug)."),
) -> None:
    """Check every school's hash chain; name the first bad sequence number of any broken chain."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.verify import schools, verify_school

    settings = common.settings()
    urls = common.urls(settings)

    async def run() -> list[str]:
        problems: list[str] = []
        async with common.runtime_engine(settings, urls) as engine, AsyncSession(engine) as session:
            targets = await schools(session, school)
            if school is not None and not targets:
                problems.append(f"no school with slug {school!r}")
            for school_id, slug in targets:
                async with session.begin():
                    verdict = await verify_school(session, school_id, slug)
                if verdict.fault is None:
                    console.print(f"{slug}: {verdict.entries} entries, chain intact")
                else:
                    problems.append(f"{slug}: entry {verdict.fault.seq} {verdict.fault.reason}")
        return problems

    problems = asyncio.run(run())
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)


@app.command("head")
def audit_head() -> None:
    """Print each school's chain head signed with the platform key (JWS), for anchoring elsewhere."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.recorder import chain_head
    from audit.verify import schools, sign_head
    from server.runtime import load_keys
    from tenants.context import bind

    settings = common.settings()
    urls = common.urls(settings)
    keys = load_keys(settings)

    async def run() -> None:
        async with common.runtime_engine(settings, urls) as engine, AsyncSession(engine) as session:
            for school_id, slug in await schools(session):
                async with session.begin():
                    await bind(session, [school_id])
                    seq, digest = await chain_head(session, school_id) or (0, bytes(32))
                signed = sign_head(keys, school_id=school_id, slug=slug, seq=seq, hash=digest, at=utcnow())
                print(f"{slug}\t{seq}\t{digest.hex()}\t{signed}")

    asyncio.run(run())

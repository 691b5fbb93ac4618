"""``schoolgraph exports reseal``: after the export key is rotated, re-seal every pending export's password
under the current key (``privacy.rotation``), so that the previous key can be removed."""

from __future__ import annotations

import asyncio
import uuid

import typer

from server.cli import common
from server.cli.common import console

app = typer.Typer(
    help="Encrypted exports (subject access, termination): their sealing key.", no_args_is_help=True
)


@app.command("reseal")
def exports_reseal() -> None:
    """Re-seal, in one transaction, every pending export password (subject access requests not yet
    released, destruction records whose export is not yet released or purged) under the current export key
    (SCHOOLGRAPH_EXPORT_KEY_FILE), opening each with it or a previous key
    (SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES). Afterwards the previous keys can be removed. Exit status 1 if a
    seal opens with none of the keys (it is named and left as it was)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.platform import PlatformTrail
    from common.clock import utcnow
    from common.errors import DomainError
    from common.events import attach
    from privacy.exporter import export_keys_of
    from privacy.rotation import Resealed, reseal_pending

    settings = common.settings()
    try:
        keys = export_keys_of(settings)
    except (DomainError, ValueError) as error:
        message = error.problems[0].message if isinstance(error, DomainError) else str(error)
        console.print(f"[red]Configuration error:[/red] {message}", soft_wrap=True)
        raise typer.Exit(2) from None
    urls = common.urls(settings)

    async def run() -> Resealed:
        async with (
            common.runtime_engine(settings, urls) as engine,
            AsyncSession(engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            trail = PlatformTrail(actor=common.CLI_ACTOR, request_id=uuid.uuid4().hex, client_address=None)
            attach(session, trail)
            done = await reseal_pending(session, keys)
            await trail.write(session, now=utcnow())
        return done

    done = asyncio.run(run())
    console.print(
        f"Re-sealed under the current key: {done.subject_access_requests} subject access request(s), "
        f"{done.destruction_records} termination export(s)",
        soft_wrap=True,
    )
    for table, row_id in done.unopened:
        console.print(
            f"[red]{table} {row_id}: sealed by none of the keys given; left as it was[/red]", soft_wrap=True
        )
    if done.unopened:
        raise typer.Exit(1)
    if keys.previous:
        console.print(
            "The previous export key(s) can now be removed (and SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES unset)."
        )

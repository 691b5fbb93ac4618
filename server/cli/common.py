"""What every command of ``schoolgraph`` shares: the console, settings, the database and its schema.

A command reports configuration errors on the console and exits with status 2 (``typer.Exit(2)``);
status 1 is reserved for "ran, and found a problem" (a broken chain, a refused import, a failed job).
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.recorder import AuditTrail
from common.events import Actor, attach
from common.settings import Settings, SettingsError, load_settings
from server.database import DatabaseUrls, create_engine, resolve_urls

console = Console()
CLI_NAME = "command line"
CLI_ACTOR = Actor("OPERATOR", username=CLI_NAME)
"""Who a command's actions are recorded as in a school's audit chain."""


def settings() -> Settings:
    """The settings from the environment; a configuration error ends the command with status 2."""
    try:
        return load_settings()
    except SettingsError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None


def urls(settings: Settings, *, announce: bool = True) -> DatabaseUrls:
    """The database URLs (starting the embedded server if there is no ``DATABASE_URL``); with
    ``announce``, say on the console which database is used."""
    resolved = resolve_urls(settings)
    if announce:
        where = (
            "embedded PostgreSQL under " + str(settings.data_dir)
            if not settings.database_url
            else "DATABASE_URL"
        )
        console.print(f"Database: {where}")
    return resolved


def upgrade(settings: Settings, urls: DatabaseUrls, revision: str = "head") -> None:
    """Migrate the schema (as the owner) to ``revision`` and say so."""
    from server.migrate import upgrade as migrate

    migrate(urls.owner, settings, revision)
    console.print("Database schema: up to date")


def log_to_stderr() -> None:
    """Plain log lines on standard error, for the long-running commands (serve, jobs)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@asynccontextmanager
async def runtime_engine(settings: Settings, urls: DatabaseUrls) -> AsyncIterator[AsyncEngine]:
    """A one-connection engine as the runtime role (row-level security applies), disposed on exit."""
    engine = create_engine(urls.runtime, settings, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


def command_trail(session: AsyncSession, school_id: uuid.UUID) -> AuditTrail:
    """The audit trail of a command's transaction at one school, attached to its session: what the
    services emit is recorded as done by the command line. The command writes it before it commits."""
    trail = AuditTrail(actor=CLI_ACTOR, request_id=None, client_address=None, school_id=school_id)
    attach(session, trail)
    return trail

"""``schoolgraph db ...``: the database schema migrations, run as the database owner."""

from __future__ import annotations

import typer

from server.cli import common
from server.cli.common import console

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply the migrations (as the database owner) and make sure the runtime role exists."""
    settings = common.settings()
    common.upgrade(settings, common.urls(settings), revision)


@app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    settings = common.settings()
    from server.migrate import check

    check(common.urls(settings).owner, settings)
    console.print("Models and migrations agree")

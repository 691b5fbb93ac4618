"""The ``schoolgraph`` command: serve, migrate, seed the demo, run the scheduled jobs, create operators.

One module per command group (``db``, ``audit``, ``roster``, ``jobs``, ``exports``, ``operator``; ``demo`` and
``serve`` at the top level); what they share (console, settings, database) is in ``server.cli.common``.
The console entry point is ``server.cli:app``; ``python -m server.cli`` runs the same.
"""

from __future__ import annotations

import typer

from server.cli import audit, db, exports, jobs, operators, roster, serve

app = typer.Typer(
    help="schoolgraph: the GraphQL backend of a learning-progress platform for schools.", no_args_is_help=True
)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(roster.app, name="roster")
app.add_typer(jobs.app, name="jobs")
app.add_typer(exports.app, name="exports")
app.add_typer(operators.app, name="operator")
app.command()(serve.demo)
app.command()(serve.serve)

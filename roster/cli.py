"""``schoolgraph roster ...`` (placeholder until the roster capability lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import and export a school's roster (MIS CSV, OneRoster).", no_args_is_help=True)

"""``python -m server.cli``: the ``schoolgraph`` command."""

from server.cli import app

app()

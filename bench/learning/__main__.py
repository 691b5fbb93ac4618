"""``python -m bench.learning serve_app|serve_floor PORT``: a bench server in a child process."""

from __future__ import annotations

import sys

from bench.learning.servers import serve_app, serve_floor

if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    {"serve_app": serve_app, "serve_floor": serve_floor}[kind](port)

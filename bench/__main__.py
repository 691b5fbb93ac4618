"""``python -m bench``: run every benchmark and print its table (``make bench``)."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("bench.audit", "bench.learning", "bench.roster", "bench.partners", "bench.edge")


def main() -> int:
    status = 0
    for name in sys.argv[1:] or BENCHES:
        module = importlib.import_module(name)
        status |= int(module.main() or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""The cyclic garbage collector of a serving process, settled once its app is built.

A serving process builds everything that lives as long as it does before its first request: the three
GraphQL schemas, their compiled guards and cached documents, SQLAlchemy's mappers and compiled statements,
the imported modules. That is a few hundred thousand container objects, and with the collector's defaults
(a collection of the youngest generation every 700 allocations, the older ones every 10 of those) a request
path that allocates a few thousand objects triggers several collections per request, and every so often
one that walks that whole long-lived heap again, though none of it will ever be garbage.

:func:`settle` collects once, then moves every object that survived into the permanent generation
(``gc.freeze``), which later collections do not walk, and raises the youngest generation's threshold so
that a collection runs about once per handful of requests instead of several times in each. Reference
counting still frees almost everything a request allocates the moment it is done with it; what the
collector exists for (reference cycles: exceptions with their tracebacks, ORM states) is still collected,
only in larger batches: at most :data:`YOUNG_THRESHOLD` allocations' worth of cycles wait.

Measured (ADR 13, issue 18's fifth pass): about 7% of the app's CPU per ``{ viewer }`` request, the same as
with the collector disabled altogether. Called by ``schoolgraph serve`` and by each worker process (and by
the bench, which serves as ``serve`` does), never by the test suite, whose processes build apps by the
hundred and must be free to collect them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations (net of deallocations) of container objects between two collections of the youngest
generation: Python's default is 700."""

OLDER_THRESHOLDS = (10, 10)
"""Collections of each generation between two of the next: Python's defaults."""


def settle() -> None:
    """Collect, freeze what survived, and space out the young collections (see the module)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)

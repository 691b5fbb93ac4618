"""Planner and timeout settings for the roster's bulk statements, set for one transaction only.

An import or an export of a large school runs statements far longer than a request's timeout, on rows the
planner may not have statistics for yet: each sets what fits a bulk job for its own transaction
(``set_config(..., true)``) and restores what was there after it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

IMPORT_SETTINGS = {"statement_timeout": "30min", "enable_nestloop": "off", "work_mem": "64MB"}
"""Set for the import only (transaction-local, restored after it). A large import runs statements far longer
than a request's timeout. And the rows an import inserts are not in the tables' statistics yet (the runtime
role cannot ANALYZE them), so the planner believes a school's freshly written rows are a handful and picks
nested loops that go quadratic; every statement of an import is a set-based join, for which hash and merge
joins are right, and more memory for them keeps a school's worth of ids in one hash table."""

EXPORT_SETTINGS = {"statement_timeout": "10min", "enable_nestloop": "off", "work_mem": "64MB"}
"""Set for an export only: it may follow an import at once, on rows with no statistics yet (the runtime role
cannot ANALYZE tables it does not own), so the same reasoning holds; every export statement reads a
school's rows whole and joins them set-based (roster/export.py), and the timeout is a bulk job's, not a
request's."""


async def set_local(session: AsyncSession, settings: dict[str, str]) -> dict[str, str]:
    """Set each setting for the rest of the transaction; return the values they had (two statements)."""
    names = list(settings)
    params = {f"n{i}": name for i, name in enumerate(names)}
    reads = ", ".join(f"current_setting(:n{i})" for i in range(len(names)))
    previous = (await session.execute(text(f"SELECT {reads}"), params)).one()
    writes = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    values = {f"v{i}": settings[name] for i, name in enumerate(names)}
    await session.execute(text(f"SELECT {writes}"), params | values)
    return dict(zip(names, previous, strict=True))

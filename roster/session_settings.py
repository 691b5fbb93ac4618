"""Planner and timeout settings for the roster's bulk statements, set for one transaction only.

An import or an export of a large school runs statements far longer than a request's timeout, on rows the
planner may not have statistics for yet: each sets what fits a bulk job for its own transaction
(``set_config(..., true)``) and restores what was there after it. An import that wrote rows has the tables
it wrote analysed (:func:`analyze_written`): the records' tables before it writes the links between them,
the links' tables before it commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tenants.context import on_citus

ENTITY_TABLES = {
    "terms": "terms",
    "groups": "groups",
    "staff": "staff",
    "pupils": "pupils",
    "contacts": "contacts",
    "memberships": "group_pupils",
    "teaching": "group_teachers",
    "contactLinks": "pupil_contacts",
    "groupTerms": "group_terms",
    "extendedData": "pupil_extended_data",
    "accounts": "accounts",
}
"""The table each of an import's counts (roster.merge_base.ENTITIES) is about: the tables an import writes,
which are exactly the ones ``roster_analyze`` (migration 0012) will analyse."""

IMPORT_SETTINGS = {"statement_timeout": "30min", "enable_nestloop": "off", "work_mem": "64MB"}
"""Set for the import only (transaction-local, restored after it). A large import runs statements far longer
than a request's timeout. And the rows an import inserts are not in the tables' statistics until they are
analysed (the records' tables before the links are written, the rest at the end), so the planner believes a school's freshly written rows are a handful and picks
nested loops that go quadratic; every statement of an import is a set-based join, for which hash and merge
joins are right, and more memory for them keeps a school's worth of ids in one hash table."""

EXPORT_SETTINGS = {"statement_timeout": "10min", "enable_nestloop": "off", "work_mem": "64MB"}
"""Set for an export only. An import analyses the tables it wrote before it commits (:func:`analyze_written`),
so an export straight after it is planned on real row counts; but the plan must not depend on that (a
school may grow by other means between two autovacuum runs): every export statement reads a school's rows
whole and joins them set-based (roster/export.py), so hash joins are right and nested loops are kept off.
The timeout is a bulk job's, not a request's."""


async def set_local(session: AsyncSession, settings: dict[str, str]) -> dict[str, str]:
    """Set each setting for the rest of the transaction; return the values they had (two statements).

    On Citus the statements run on the workers, which ``set_config`` does not reach: each setting is a
    ``SET LOCAL`` there, which Citus forwards to them (``citus.propagate_set_commands``, ADR 0019), one
    statement per setting. The names are this module's constants; the values are quoted literals."""
    names = list(settings)
    params = {f"n{i}": name for i, name in enumerate(names)}
    reads = ", ".join(f"current_setting(:n{i})" for i in range(len(names)))
    previous = (await session.execute(text(f"SELECT {reads}"), params)).one()
    connection = await session.connection()
    if on_citus(connection):
        for name in names:
            if not name.replace("_", "").isalpha():
                raise ValueError(f"not a setting name: {name!r}")
            value = settings[name].replace("'", "''")
            await connection.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
        return dict(zip(names, previous, strict=True))
    writes = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    values = {f"v{i}": settings[name] for i, name in enumerate(names)}
    await session.execute(text(f"SELECT {writes}"), params | values)
    return dict(zip(names, previous, strict=True))


async def analyze_written(session: AsyncSession, entities: Iterable[str]) -> int:
    """Have the tables of the given entities (those an import changed) analysed, in one statement, so that
    the statements after it (the import's writes of the links between the records, an export at once, the
    class views) are planned on the school's real row counts. The runtime role cannot ANALYZE tables it does not own: ``roster_analyze`` (migration 0012)
    is a SECURITY DEFINER function of the owner that analyses only the fixed roster tables, whatever it is
    given. ANALYZE inside a transaction samples the rows this transaction wrote too. Nothing to analyse is
    no statement, and neither is Citus (below). Returns how many tables were analysed."""
    tables = sorted({ENTITY_TABLES[e] for e in entities})
    if not tables or on_citus(await session.connection()):
        # On Citus the owner's ANALYZE (the function) may not touch shards the runtime role wrote in the
        # same transaction ("placements modified by a different user"): the workers' autovacuum analyses
        # them after the commit, and the import's own statements are kept off nested loops meanwhile.
        return 0
    result = await session.execute(text("SELECT roster_analyze(CAST(:tables AS text[]))"), {"tables": tables})
    return int(result.scalar_one())

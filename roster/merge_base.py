"""What every step of writing an import shares: its state, its counts, and the three moves each kind of
record makes (create the new rows, update those that differ, deactivate the leavers).

:class:`MergeState` is the base of :class:`roster.merge.Merge`, whose steps live in
:mod:`roster.matching`, :mod:`roster.merge_records`, :mod:`roster.merge_links` and
:mod:`roster.merge_accounts`. Each helper here is one set-based statement and returns its row count,
which is the report's count (so a dry run, rolled back, reports exactly what a commit would do).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, and_, exists, func, insert, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from roster import routing
from roster.problems import ProblemLog
from roster.reading import Modes
from tenants.scoping import scoped_update

ENTITIES = (
    "terms",
    "groups",
    "staff",
    "pupils",
    "contacts",
    "memberships",
    "teaching",
    "contactLinks",
    "groupTerms",
    "extendedData",
    "accounts",
)


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    deactivate: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.deactivate

    def as_dict(self) -> dict[str, int]:
        return {
            "create": self.create,
            "update": self.update,
            "deactivate": self.deactivate,
            "unchanged": self.unchanged,
        }


@dataclass
class MergeState:
    session: AsyncSession
    school_id: uuid.UUID
    modes: Modes
    log: ProblemLog
    now: datetime
    today: date
    importer_account_id: uuid.UUID | None
    importer_staff_id: uuid.UUID | None
    opted_in: bool
    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step of :meth:`Merge.apply` (for the bench and the command line's summary)."""
    pairs: int = 0
    """Rows in PAIRS now: an empty PAIRS is neither emptied nor analysed."""
    analyse: bool = False
    """Whether to have the records' tables analysed before the links are written (not in a dry run: ANALYZE
    sets a table's row count in pg_class in place, which a rollback would leave counting rows never kept)."""
    analysed: set[str] = field(default_factory=set)
    """Entities whose school tables were analysed during the merge (roster_analyze): not again at its end."""
    routed: uuid.UUID | None = None
    """On Citus, the school: each statement is routed to its worker (roster/routing.py); None on plain
    PostgreSQL, where the statements run as written."""

    async def _execute(self, stmt: Any) -> Any:
        return await routing.execute(self.session, stmt, self.routed)

    async def _rowcount(self, stmt: Any) -> int:
        return await routing.rowcount(self.session, stmt, self.routed)

    async def _scalar(self, stmt: Any) -> int:
        return int((await self._execute(stmt)).scalar_one() or 0)

    async def _create(
        self,
        model: Any,
        key: Any,
        columns: dict[str, Any],
        new_rows: Any,
        match: Table,
        **recorded: Any,
    ) -> int:
        """INSERT ``columns`` (name -> value) for the ``new_rows`` of the staging tables, and record each new
        row in ``match`` as created (by ``key``, the column keeping the package's id; ``recorded``: the
        match table's other columns). One statement; returns how many rows it made."""
        inserted = (
            pg_insert(model)
            .from_select(list(columns), select(*columns.values()).where(new_rows))
            .returning(model.id, key)
            .cte("inserted")
        )
        row = {
            **recorded,
            "sourced_id": inserted.c[key.key],
            "id": inserted.c.id,
            "created": true(),
            "staged": true(),
            "active_row": true(),
        }
        return await self._rowcount(insert(match).from_select(list(row), select(*row.values())))

    async def _update_changed(
        self, model: Any, given: dict[str, Any], *conditions: Any, stamp: dict[str, Any] | None = None
    ) -> int:
        """UPDATE the matched rows (``conditions``) whose columns differ from ``given`` (column -> value);
        ``stamp``: more values to set that are not compared (``updated_at``). Returns how many changed."""
        stored = tuple_(*(getattr(model, name) for name in given))
        return await self._rowcount(
            scoped_update(model, self.school_id)
            .where(*conditions, stored.is_distinct_from(tuple_(*given.values())))
            .values({**given, **(stamp or {})})
        )

    async def _unchanged(self, match: Table, updated: int, kind: str | None = None) -> int:
        """The staged, active, already existing records that this import did not update."""
        conditions = [match.c.staged, match.c.active_row, ~match.c.created]
        if kind is not None:
            conditions.append(match.c.kind == kind)
        return await self._scalar(select(func.count()).select_from(match).where(*conditions)) - updated

    async def _deactivate(
        self, model: Any, match: Table, values: dict[str, Any], *, bulk: bool, managed: Any
    ) -> int:
        """Deactivate the leavers of ``model`` (see :func:`leaving`); returns how many."""
        count = 0
        for condition in leaving(model.id, match, bulk=bulk, managed=managed):
            count += await self._rowcount(
                scoped_update(model, self.school_id).where(model.active, condition).values(values)
            )
        return count


def leaving(column: Any, match: Any, *, bulk: bool, managed: Any, kind: str | None = None) -> list[Any]:
    """Which rows to deactivate, as separate conditions (one statement each): those marked tobedeleted in
    the package (a semi-join), and in bulk the MIS's rows it no longer has (an anti-join). Kept apart
    because an OR of the two would make PostgreSQL probe a subplan per row instead of joining."""
    kinds = [match.c.kind == kind] if kind is not None else []
    conditions: list[Any] = [
        col(column).in_(select(match.c.id).where(match.c.staged, ~match.c.active_row, *kinds))
    ]
    if bulk:
        present = exists().where(match.c.id == column, match.c.staged, match.c.active_row, *kinds)
        conditions.append(and_(managed, ~present))
    return conditions

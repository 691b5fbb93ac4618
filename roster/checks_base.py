"""What every check of an import shares: how its findings are logged, and the duplicate-row query shape.

Each check is one SQL statement over the staging tables (and the school's rows, through the scoping
helper) returning the offending rows with their ``file``, ``row_no`` and ``col``; :func:`emit` logs them,
counting every one but fetching at most what the log keeps in detail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from roster import routing
from roster.problems import ERROR, ProblemLog, RosterProblem
from roster.reading import Modes

KIND_WORDS = {"PUPIL": "a pupil", "STAFF": "a member of staff", "CONTACT": "a parent or other contact"}


async def emit(
    session: AsyncSession,
    log: ProblemLog,
    stmt: Select[Any],
    *,
    severity: str,
    code: str,
    message: Callable[[Any], str],
    before: Callable[[Sequence[Any]], None] | None = None,
    routed: uuid.UUID | None = None,
) -> int:
    """Log one problem per row of ``stmt`` (columns ``file``, ``row_no``, ``col`` and any the message uses).

    Fetches at most the log's remaining detail capacity; counts all. Returns the count. ``before`` is given
    the rows to be logged, if any, before their messages are made (to look up what they need in one go).
    ``routed``: the school on Citus (roster/routing.py).
    """
    room = max(log.limit - len(log.items), 0)
    sub = stmt.subquery()
    rows = (
        await routing.execute(
            session,
            select(sub, func.count().over().label("total"))
            .order_by(sub.c.file, sub.c.row_no)
            .limit(max(room, 1)),
            routed,
        )
    ).all()
    if not rows:
        return 0
    total = int(rows[0].total)
    if before is not None:
        before(rows[:room])
    for row in rows[:room]:
        log.add(RosterProblem(severity, code, message(row), row.file, row.row_no, row.col))
    rest = total - min(room, len(rows))
    if rest > 0:
        log.codes[code] += rest
        if severity == ERROR:
            log.errors += rest
        else:
            log.warnings += rest
    return total


def repeated(partition: list[Any], *conditions: Any) -> Any:
    """The condition "this row's ``partition`` values occur more than once" as a hashed semi-join: a GROUP BY
    over the whole table, so that only the (usually no) repeated rows are numbered and sorted."""
    return tuple_(*partition).in_(
        select(*partition).where(*conditions).group_by(*partition).having(func.count() > 1)
    )


def repeats(partition: list[Any], order: Any, columns: list[Any], *conditions: Any) -> Select[Any]:
    """The second and later rows (by ``order``) that share their ``partition`` values, among the rows
    meeting ``conditions``: ``columns`` and ``first`` (the first such row's ``order``)."""
    numbered = (
        select(
            *columns,
            func.row_number().over(partition_by=partition, order_by=order).label("n"),
            func.min(order).over(partition_by=partition).label("first"),
        )
        .where(*conditions, repeated(partition, *conditions))
        .subquery()
    )
    return select(*(c for c in numbered.c if c.name != "n")).where(numbered.c.n > 1)


class CheckState:
    """One import's checks: the session (bound to the school), the log, and what the checks depend on."""

    def __init__(
        self,
        session: AsyncSession,
        log: ProblemLog,
        school_id: uuid.UUID,
        modes: Modes,
        today: date,
        *,
        opted_in: bool,
        oneroster: bool,
        users_elsewhere: Callable[[set[str]], dict[str, str]] | None = None,
        routed: uuid.UUID | None = None,
    ) -> None:
        self.session, self.log, self.school_id, self.modes = session, log, school_id, modes
        self.today, self.opted_in, self.oneroster = today, opted_in, oneroster
        self.users_elsewhere = users_elsewhere
        """Of the given user ids, those the package has as another school's: id -> their orgs (a second
        pass over users.csv, made only to explain enrollments of users this school does not have)."""
        self.routed = routed
        """On Citus, the school: each statement is routed to its worker (roster/routing.py)."""

    async def _execute(self, stmt: Any) -> Any:
        return await routing.execute(self.session, stmt, self.routed)

    async def _emit(
        self,
        stmt: Select[Any],
        severity: str,
        code: str,
        message: Callable[[Any], str],
        before: Callable[[Sequence[Any]], None] | None = None,
    ) -> int:
        return await emit(
            self.session,
            self.log,
            stmt,
            severity=severity,
            code=code,
            message=message,
            before=before,
            routed=self.routed,
        )

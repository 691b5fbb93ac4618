"""Statements of the request path compiled once per process, not once per execution.

``connection.execute(statement)`` makes a cache key of the whole statement on every call (a walk of its
tree), looks its compiled form up, and builds the parameters from it: for the large statements every
request runs (the tenant, the caller's principal with its scopes, the class view) that walk cost more CPU
than PostgreSQL spent running them. A :class:`Prepared` statement is compiled once per dialect, its SQL
text and the order of its parameters kept; each execution is ``exec_driver_sql`` with the values in that
order: the same SQL text (so the same server-side prepared statement), the same engine events (statement
counts, fault injection), the same transaction (SQLAlchemy begins it as for any statement), none of the
walk. Statements with expanding parameters (``IN`` lists whose length varies) cannot be prepared: use
arrays (``= ANY``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from common.driver import fetch_row


@dataclass(frozen=True)
class CompiledText:
    """A statement compiled for one dialect: its SQL text and how its positional parameters are filled."""

    sql: str
    names: tuple[str, ...]
    """The parameters in positional order."""
    fixed: dict[str, Any]
    """The values the statement carries itself (literals bound when it was built)."""
    processors: dict[str, Callable[[Any], Any]]

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters: ``params`` by name, the statement's own values for the others."""
        values = []
        processors = self.processors
        for name in self.names:
            value = params[name] if name in params else self.fixed[name]
            processor = processors.get(name)
            values.append(value if processor is None or value is None else processor(value))
        return tuple(values)


class Prepared:
    """A Core statement compiled once per dialect and executed with its parameters by name."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[int, tuple[Dialect, CompiledText]] = {}

    def compiled_for(self, dialect: Dialect) -> CompiledText:
        """The statement compiled for ``dialect`` (once)."""
        found = self._compiled.get(id(dialect))
        if found is not None and found[0] is dialect:
            return found[1]
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a statement with expanding parameters cannot be prepared")
        names = tuple(compiled.positiontup or ())
        fixed = dict(compiled.construct_params(_check=False))
        processors = {
            name: processor
            for name, processor in getattr(compiled, "_bind_processors", {}).items()
            if name in names and processor is not None
        }
        made = CompiledText(compiled.string, names, fixed, processors)
        self._compiled[id(dialect)] = (dialect, made)  # the dialect kept alive with it: its id stays its own
        return made

    async def execute(
        self, connection: AsyncConnection, params: Mapping[str, Any]
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run it on ``connection`` (in its transaction) with ``params`` by name; the other parameters
        keep the values the statement was built with."""
        compiled = self.compiled_for(connection.dialect)
        return await connection.exec_driver_sql(compiled.sql, compiled.values(params))

    async def first(self, connection: AsyncConnection, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """Its first row (None: no row) as :meth:`execute` would read it, sent by the driver in the
        connection's transaction, without SQLAlchemy's execution context and result objects
        (:func:`common.driver.fetch_row`: about 100 us of the server's CPU a statement; a text too long
        for the driver to keep prepared goes through SQLAlchemy's adapter, which keeps it prepared)."""
        compiled = self.compiled_for(connection.dialect)
        return await fetch_row(connection, compiled.sql, compiled.values(params))

"""common.prepared: a statement compiled once for asyncpg, its literals kept, its parameters in order."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, column, select, table
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from common.prepared import Prepared

ITEMS = table("items", column("id"), column("kind"), column("size"))


def test_a_statement_is_compiled_once_with_its_literals_and_parameters_in_order() -> None:
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    statement = select(ITEMS.c.id).where(
        ITEMS.c.kind == "BOOK", ITEMS.c.size > bindparam("size"), ITEMS.c.id == bindparam("id")
    )
    prepared = Prepared(statement)
    made = prepared.compiled_for(dialect)
    assert prepared.compiled_for(dialect) is made
    assert "$1" in made.sql and "$3" in made.sql and ":size" not in made.sql
    assert made.names == ("kind_1", "size", "id")
    assert made.fixed["kind_1"] == "BOOK"


def test_expanding_parameters_are_refused() -> None:
    """An IN list changes the statement's text with its length: it cannot be compiled once."""
    statement = select(ITEMS.c.id).where(ITEMS.c.kind.in_(["BOOK", "PEN"]))
    with pytest.raises(ValueError, match="expanding"):
        Prepared(statement).compiled_for(PGDialect_asyncpg())  # type: ignore[no-untyped-call]

"""common.prepared.Prepared.first: a statement short enough for the driver's statement cache is sent by the
driver (prepared once on the connection); a longer one by SQLAlchemy's adapter, which keeps it prepared
too, where the driver would parse and plan it again at every call."""

from __future__ import annotations

from sqlalchemy import bindparam, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.driver import DRIVER_CACHED_CHARS
from common.prepared import Prepared


def _statement(padding: int) -> Prepared:
    """``SELECT $1 + 1`` with a comment of ``padding`` characters in its text."""
    comment = "x" * padding
    return Prepared(select((bindparam("n") + literal_column(f"1 /* {comment} */")).label("answer")))


async def _prepared_texts(connection: AsyncConnection, sql: str) -> int:
    """How many of the connection's named prepared statements have this text."""
    found = await connection.execute(
        text("SELECT count(*) FROM pg_prepared_statements WHERE statement = :sql"), {"sql": sql}
    )
    return int(found.scalar_one())


async def test_a_long_statement_stays_prepared_and_a_short_one_goes_by_the_driver(
    recording: tuple[AsyncEngine, list[str]],
) -> None:
    engine, sent = recording
    short, long = _statement(10), _statement(DRIVER_CACHED_CHARS)
    async with engine.connect() as connection:
        texts = {p: p.compiled_for(connection.dialect).sql for p in (short, long)}
        assert len(texts[short]) <= DRIVER_CACHED_CHARS < len(texts[long])
        for n in range(3):
            assert await short.first(connection, {"n": n}) == (n + 1,)
            assert await long.first(connection, {"n": n}) == (n + 1,)
        # The short one by the driver's fetchrow, each time; the long one never.
        assert sent.count(texts[short]) == 3
        assert texts[long] not in sent
        # Both are one named prepared statement on the connection, planned once for its three calls; a
        # text the driver did not cache would be an unnamed statement, not listed here.
        assert await _prepared_texts(connection, texts[short]) == 1
        assert await _prepared_texts(connection, texts[long]) == 1

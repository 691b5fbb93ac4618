"""A request's BEGIN travels with its first statement: one round trip to the server (common/begin.py).

On plain PostgreSQL the first statement of a school request is ``app_enter_school``
(auth.principal.enter_school_as). Once a connection has prepared it, BEGIN is written in front of its Bind
(Parse, Bind and Execute of BEGIN, no Sync): no BEGIN of its own is sent and answered first. The function
must then run inside the transaction (its binding is transaction-local and still holds for the next
statement), a failure of the statement must leave nothing behind and the connection usable, and wherever
the BEGIN cannot travel so (the statement not prepared yet, text the driver cannot encode) it is sent
alone, as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.principal import enter_school_as
from common.clock import FixedClock
from common.settings import Settings
from server.database import DatabaseUrls, create_engine
from tests.factories.schools import SchoolFactory
from tests.test_audit_commit import _recording_class

pytestmark = pytest.mark.plain_only(reason="on Citus the tenant and the caller are two statements (ADR 19)")


@pytest.fixture
async def recording(
    database_urls: DatabaseUrls, settings: Settings
) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """The runtime role's engine on one connection that notes its BEGINs: ``BEGIN`` sent alone,
    ``BEGIN+`` written in front of a first statement (tests/test_audit_commit.py's recording class)."""
    sent: list[str] = []
    engine = create_engine(database_urls.runtime, settings, pool_size=1)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _recording(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["connection_class"] = _recording_class(sent)

    yield engine, sent
    await engine.dispose()


async def _enter(engine: AsyncEngine, slug: str, clock: FixedClock) -> tuple[Any, str | None, int]:
    """The school of ``slug`` as a request enters it, then (in the same transaction) its binding and the
    transaction's id; rolled back."""
    async with AsyncSession(engine) as session:
        transaction = await session.begin()
        try:
            tenant, _ = await enter_school_as(session, slug, None, clock.now())
            bound = (await session.execute(text("SELECT current_setting('app.school_ids', true)"))).scalar()
            xid = (await session.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
        finally:
            await transaction.rollback()
    return tenant, bound or None, xid


async def test_the_first_statement_carries_begin_once_prepared_and_runs_in_the_transaction(
    recording: tuple[AsyncEngine, list[str]], factory: SchoolFactory, clock: FixedClock
) -> None:
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    async with engine.connect() as connection:  # the pool's connection made (and the dialect's first look)
        await connection.execute(text("SELECT 1"))
    sent.clear()
    first = await _enter(engine, school.slug, clock)
    assert sent == ["BEGIN;", "ROLLBACK;"]  # not prepared on this connection yet: BEGIN alone, as before
    sent.clear()
    second = await _enter(engine, school.slug, clock)
    assert sent == ["BEGIN+", "ROLLBACK;"], sent  # no BEGIN of its own: it travelled with the statement
    for tenant, bound, _ in (first, second):
        # The binding is transaction-local: it holds for the next statement only inside a transaction.
        assert tenant is not None and tenant.id == school.id and bound == str(school.id)
    assert first[2] != second[2]
    # Nothing outlives the transaction: a fresh one on the same connection is not bound.
    async with engine.connect() as connection:
        assert (
            await connection.execute(text("SELECT current_setting('app.school_ids', true)"))
        ).scalar() in (
            None,
            "",
        )


async def test_a_first_statement_that_fails_is_rolled_back_and_the_connection_goes_on(
    recording: tuple[AsyncEngine, list[str]], factory: SchoolFactory, clock: FixedClock
) -> None:
    """The server refuses the statement after running BEGIN (a NUL in text): the error is the statement's,
    as before; the rollback ends the transaction, and the connection's next request is served normally."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    await _enter(engine, school.slug, clock)  # prepares the statement on the pool's one connection
    sent.clear()
    with pytest.raises(exc.DBAPIError) as raised:
        await _enter(engine, "bad\x00slug", clock)
    assert isinstance(raised.value.orig.__cause__, asyncpg.exceptions.CharacterNotInRepertoireError)
    assert sent == ["BEGIN+", "ROLLBACK;"], sent
    sent.clear()
    tenant, bound, _ = await _enter(engine, school.slug, clock)
    assert tenant is not None and bound == str(school.id) and sent == ["BEGIN+", "ROLLBACK;"]


async def test_what_cannot_travel_with_the_statement_goes_alone(
    recording: tuple[AsyncEngine, list[str]], factory: SchoolFactory, clock: FixedClock
) -> None:
    """Text the driver cannot encode fails before anything is written: BEGIN is sent alone first, as
    before. An engine event that raises before the statement is sent: the transaction asyncpg thinks begun
    is rolled back (the server, which never began it, only warns), and the connection goes on."""
    engine, sent = recording
    school = await factory.school(pupils_per_group=1)
    await _enter(engine, school.slug, clock)
    sent.clear()
    with pytest.raises(exc.DBAPIError):
        await _enter(engine, "lone\ud800surrogate", clock)
    assert sent == ["BEGIN;", "ROLLBACK;"], sent

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "app_enter_school" in statement:
            raise RuntimeError("refused before it was sent")

    sent.clear()
    event.listen(engine.sync_engine, "before_cursor_execute", refuse)
    try:
        with pytest.raises(RuntimeError):
            await _enter(engine, school.slug, clock)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", refuse)
    assert sent == ["ROLLBACK;"], sent
    sent.clear()
    tenant, bound, _ = await _enter(engine, school.slug, clock)
    assert tenant is not None and bound == str(school.id) and sent == ["BEGIN+", "ROLLBACK;"]

"""What every request asks of its SQLAlchemy session, without a switch into SQLAlchemy's greenlet where
there is nothing to wait for (common.driver, ADR 13): beginning its transaction (``begin_session``), and
its connection once the transaction holds one (``session_connection``): the same transaction and
connection SQLAlchemy's own calls give, and SQLAlchemy's own answer whenever there is anything to do
(nothing held yet, a transaction that ended or failed)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.ext.asyncio import session as async_session
from sqlalchemy.util.concurrency import greenlet_spawn as sqlalchemy_greenlet_spawn

from common.driver import begin_session, session_connection
from models import AuditHead


@pytest.fixture
def switches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of what AsyncSession ran in a greenlet of its own, in order."""
    seen: list[str] = []
    spawn = sqlalchemy_greenlet_spawn  # what the module calls, as SQLAlchemy's util defines it

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await spawn(fn, *args, **kwargs)

    monkeypatch.setattr(async_session, "greenlet_spawn", counted)
    return seen


async def test_the_connection_held_is_the_one_sqlalchemy_gives_without_a_switch(
    engine: AsyncEngine, switches: list[str]
) -> None:
    async with AsyncSession(engine) as session:
        first = await session_connection(session)  # nothing held yet: checked out by SQLAlchemy
        assert switches == ["connection"]
        assert (await first.execute(text("SELECT 1"))).scalar_one() == 1
        switches.clear()
        assert await session_connection(session) is first
        assert switches == []
        assert await session.connection() is first  # what SQLAlchemy gives, through its switch
        assert switches == ["connection"]
        await session.commit()  # the transaction ended and gave its connection back to the pool
        switches.clear()
        again = await session_connection(session)
        assert switches == ["connection"] and session.in_transaction()
        assert (await again.execute(text("SELECT 1"))).scalar_one() == 1
        assert await session_connection(session) is again


async def test_a_transaction_that_failed_gets_sqlalchemy_s_own_refusal(engine: AsyncEngine) -> None:
    """After a failed flush the session's transaction is inactive: nothing is looked up, and the caller
    gets what ``session.connection()`` raises (roll back first)."""
    async with AsyncSession(engine) as session:
        await session_connection(session)
        session.add(AuditHead(school_id=uuid.uuid4(), seq=1, hash=bytes(32), frontier=[]))
        with pytest.raises(DBAPIError):  # no school is bound: row-level security refuses the row
            await session.flush()
        with pytest.raises(PendingRollbackError):
            await session.connection()
        with pytest.raises(PendingRollbackError):
            await session_connection(session)
        await session.rollback()
        assert (await (await session_connection(session)).execute(text("SELECT 1"))).scalar_one() == 1


async def test_a_transaction_begun_without_a_switch_is_sqlalchemy_s_own(
    engine: AsyncEngine, switches: list[str]
) -> None:
    """Begun as ``session.begin()`` begins it (nothing sent, nothing checked out), committed and rolled
    back as SQLAlchemy's own: the server sees the transaction commit or abort, and the session begins
    afresh after each."""
    async with AsyncSession(engine) as session:
        transaction = begin_session(session)
        assert switches == [] and session.in_transaction()
        assert transaction is session.get_transaction() and transaction.is_active
        assert session.sync_session.get_transaction().origin.name == "BEGIN"  # type: ignore[union-attr]
        with pytest.raises(Exception, match="already begun"):
            await session.begin()  # SQLAlchemy sees the transaction begun here as its own
        for ending, status in (("rollback", "aborted"), ("commit", "committed")):
            xid = (await session.execute(text("SELECT txid_current()"))).scalar_one()
            await (transaction.rollback() if ending == "rollback" else transaction.commit())
            assert not session.in_transaction()
            shown = await session.execute(text("SELECT txid_status(:xid)"), {"xid": xid})
            assert shown.scalar_one() == status  # as the server saw the transaction end
            await session.rollback()
            transaction = begin_session(session)

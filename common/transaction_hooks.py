"""Work that must wait until a session's transaction has ended, committed or rolled back.

A service that does something outside the database inside a request's transaction (writing an uploaded
file to the file store) cannot undo it when the transaction, or the savepoint around its call, rolls back.
It registers a hook with :func:`after_transaction`; whoever owns the transaction (the HTTP edge,
server/transaction.py) runs the hooks once it has ended, through :func:`hooks_run_after`. Each hook gets
the same session, outside any transaction, and opens its own if it needs one; it must decide from the
database what to undo (a rolled-back row is simply not there), because it is not told the outcome.

A session whose owner runs no hooks (a script, a test calling a service) only loses the clean-up, never
data: hooks undo what nothing refers to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

Hook = Callable[[AsyncSession], Awaitable[None]]

_KEY = "schoolgraph.after_transaction"
log = logging.getLogger("schoolgraph.transaction")


def after_transaction(session: AsyncSession, hook: Hook) -> None:
    """Run ``hook(session)`` once the session's current transaction has ended (see the module)."""
    session.info.setdefault(_KEY, []).append(hook)


@asynccontextmanager
async def hooks_run_after(session: AsyncSession) -> AsyncIterator[None]:
    """Around a transaction's whole life: on leaving, end it if it is still open (rolled back), then run
    every hook registered meanwhile, each on its own (one that fails is logged, the others still run)."""
    try:
        yield
    finally:
        hooks: list[Hook] = session.info.pop(_KEY, [])
        if hooks and session.in_transaction():
            await session.rollback()
        for hook in hooks:
            try:
                await hook(session)
            except Exception:
                log.exception("an after-transaction hook failed")
                if session.in_transaction():
                    await session.rollback()

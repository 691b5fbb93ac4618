"""What a connection sends to PostgreSQL, as the tests of a request's round trips read it.

:func:`recording_engine` is the runtime role's engine (the server's own, :func:`server.database.create_engine`)
on one pooled connection that notes the messages it sends: the simple-protocol ones (BEGIN, COMMIT,
ROLLBACK, what :func:`common.commit.commit_with` and :func:`common.driver.begin` send) and the statements
the driver sends itself by ``fetchrow`` (a school request's first, ``app_enter_school``). The ORM's
statements with parameters go by prepared statements and are not noted. :func:`kind` names a message as
the tests compare them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import _ENTER_SQL
from common.settings import Settings
from server.database import DatabaseUrls, create_engine
from tenants.context import binding_statement

APPEND = "app_audit_append(...);COMMIT"
"""A request's audit entries with its COMMIT, in one message."""
ENTER = "app_enter_school"
"""A school request's first statement."""
BEGIN_BOUND = "BEGIN;bind"
"""BEGIN with the binding to the request's school, in one message."""


def _recording_class(sent: list[str]) -> type[asyncpg.Connection]:
    class Recording(asyncpg.Connection):  # type: ignore[misc]
        async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109 - asyncpg's own signature
            if not args:
                sent.append(query)
            status: str = await super().execute(query, *args, timeout=timeout)
            return status

        async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(query)
            return await super().fetchrow(query, *args, **kwargs)

    return Recording


@asynccontextmanager
async def recording_engine(
    database_urls: DatabaseUrls, settings: Settings
) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """The runtime role's engine on one connection, and the list of what it sends (see the module)."""
    sent: list[str] = []
    engine = create_engine(database_urls.runtime, settings, pool_size=1)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _recording(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["connection_class"] = _recording_class(sent)

    try:
        yield engine, sent
    finally:
        await engine.dispose()


def kind(message: str, school_id: Any = None) -> str:
    """A message as the tests compare it: the request's first statement (:data:`ENTER`), BEGIN (of the
    default level, or READ COMMITTED named) with the binding to ``school_id`` (:data:`BEGIN_BOUND`, and
    what follows it in the message), the entries' message (:data:`APPEND`), or the message's first word."""
    if message == _ENTER_SQL:
        return ENTER
    binding = f";{binding_statement(school_id)}" if school_id is not None else None
    begun = message.removeprefix("BEGIN").removeprefix(" ISOLATION LEVEL READ COMMITTED")
    if binding is not None and begun != message and begun.startswith(binding):
        rest = begun.removeprefix(binding).removeprefix(";")
        return BEGIN_BOUND if not rest else f"{BEGIN_BOUND};{kind(rest)}"
    if message.startswith("SELECT app_audit_append($v$[") and message.endswith("]$v$::jsonb);COMMIT"):
        return APPEND
    return message.split(" ", 1)[0].rstrip(";")

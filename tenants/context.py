"""The tenant of a request: resolving a school from its URL slug, and binding a transaction to schools."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import String, bindparam, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from common.prepared import Prepared
from models import School

CITUS_FLAG = "schoolgraph_citus"
"""The attribute of an engine's dialect that says its database runs Citus (set by server.database at the
engine's first connection; absent means plain PostgreSQL)."""


@dataclass(frozen=True)
class Tenant:
    """The school a request is about. ``status`` other than ACTIVE refuses every request (403 + reason)."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    status_reason: str | None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


_BINDING = "SELECT set_config('app.school_ids', {schools}, true), set_config('app.trust_ids', {trusts}, true)"
"""The binding's statement, with its two values to fill in: parameters (:data:`_BIND`) or, for a message of
the simple query protocol, literals (:func:`binding_statement`)."""
_BIND = text(_BINDING.format(schools=":school_ids", trusts=":trust_ids"))


def on_citus(connection: AsyncConnection | AsyncEngine) -> bool:
    """Whether the connection's (or engine's) database runs Citus (noted at the engine's first connection)."""
    return bool(getattr(connection.dialect, CITUS_FLAG, False))


def _id_list(values: Iterable[uuid.UUID] | str) -> str:
    """Canonical UUIDs joined by commas; from a string (a saved binding), each part re-parsed as a UUID.
    Only this text is ever spliced into a ``SET LOCAL``: hexadecimal digits, hyphens and commas."""
    parts = [p for p in values.split(",") if p] if isinstance(values, str) else values
    return ",".join(str(uuid.UUID(str(p))) for p in parts)


async def _set_local(connection: AsyncConnection, school_ids: str, trust_ids: str) -> None:
    """The binding on Citus (ADR 0019): ``set_config`` stays on the coordinator, so the workers' row-level
    security would see no school (0 rows, failing closed). ``SET LOCAL`` is what Citus forwards to every
    worker the transaction reaches (``citus.propagate_set_commands = 'local'``, the runtime role's
    setting from the distribution migration). It takes no parameters: the values are canonical UUIDs
    (:func:`_id_list`), spliced as literals. Two statements more than ``set_config`` costs on a request;
    plain PostgreSQL keeps the one-statement binding."""
    await connection.exec_driver_sql(f"SET LOCAL app.school_ids = '{_id_list(school_ids)}'")
    await connection.exec_driver_sql(f"SET LOCAL app.trust_ids = '{_id_list(trust_ids)}'")


@lru_cache(maxsize=4096)
def binding_statement(school_id: uuid.UUID) -> str:
    """What :func:`bind` sends for one school, its value spliced as a canonical UUID (:func:`_id_list`: hex
    digits and hyphens only), for a message of the simple query protocol, which takes no parameters: the
    binding sent with BEGIN after a request's first statement (common.driver.fetch_first_row). Kept per
    school: every school request makes it, from its first statement's row, whether it sends it or not."""
    return _BINDING.format(schools=f"'{_id_list([school_id])}'", trusts="''")


async def bind(
    session: AsyncSession, school_ids: Iterable[uuid.UUID], trust_ids: Iterable[uuid.UUID] = ()
) -> None:
    """Bind the current transaction to these schools (and trusts) for row-level security.

    ``set_config(..., true)`` is local to the transaction, so a pooled connection never carries a tenant
    over to the next request; the values are bound parameters, never spliced into SQL. On Citus the same
    binding is made with ``SET LOCAL`` (:func:`_set_local`).
    """
    schools = ",".join(str(i) for i in school_ids)
    trusts = ",".join(str(i) for i in trust_ids)
    connection = await session.connection()
    if on_citus(connection):
        await _set_local(connection, schools, trusts)
        return
    await session.execute(_BIND, {"school_ids": schools, "trust_ids": trusts})


_ENTER = Prepared(
    select(School.id, School.slug, School.name, School.status, School.status_reason)
    .add_columns(
        func.set_config("app.school_ids", cast(School.id, String), True),
        func.set_config("app.trust_ids", "", True),
    )
    .where(School.slug == bindparam("slug"))
)


async def enter_school(session: AsyncSession, slug: str) -> Tenant | None:
    """Resolve the school of a URL slug and bind the transaction to it (:func:`bind`), in one statement.

    The request path of every school endpoint call: one round trip instead of two. Nothing is bound when
    no school has the slug; a school that is not active is bound too, and its request refused.
    """
    # Core execution on the session's connection: the statement names columns only, and the ORM layer
    # of Session.execute adds a third to its cost on every request; compiled once (common.prepared).
    connection = await session.connection()
    row = await _ENTER.first(connection, {"slug": slug})  # by the driver: the slug is unique
    if row is None:
        return None
    if on_citus(connection):
        # The statement's set_config binds the coordinator only; the workers need SET LOCAL (two
        # statements more per school request on Citus, none on plain PostgreSQL).
        await _set_local(connection, str(row[0]), "")
    return Tenant(*row[:5])


_CURRENT = text(
    "SELECT coalesce(current_setting('app.school_ids', true), ''), "
    "coalesce(current_setting('app.trust_ids', true), '')"
)


@asynccontextmanager
async def bound(
    session: AsyncSession, school_ids: Iterable[uuid.UUID], trust_ids: Iterable[uuid.UUID] = ()
) -> AsyncIterator[None]:
    """Bind the transaction to these schools (and trusts) for a block, then restore the binding it had.

    For an operation of the trust or platform endpoint that must reach one school's rows (switching its
    membership, revoking its sessions, appending to its audit chain) without leaving the rest of the
    request bound to that school. On an exception the binding is left as it is: the savepoint or
    transaction being rolled back restores it (``set_config`` is transactional), and a failed transaction
    could not run the restoring statement anyway.
    """
    before = (await session.execute(_CURRENT)).one()
    await bind(session, school_ids, trust_ids)
    yield
    connection = await session.connection()
    if on_citus(connection):
        await _set_local(connection, before[0], before[1])
        return
    await session.execute(_BIND, {"school_ids": before[0], "trust_ids": before[1]})

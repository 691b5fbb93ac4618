"""The tenant of a request: resolving a school from its URL slug, and binding a transaction to schools."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import String, bindparam, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from common.prepared import Prepared
from models import School


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


_BIND = text(
    "SELECT set_config('app.school_ids', :school_ids, true), set_config('app.trust_ids', :trust_ids, true)"
)


async def bind(
    session: AsyncSession, school_ids: Iterable[uuid.UUID], trust_ids: Iterable[uuid.UUID] = ()
) -> None:
    """Bind the current transaction to these schools (and trusts) for row-level security.

    ``set_config(..., true)`` is local to the transaction, so a pooled connection never carries a tenant
    over to the next request; the values are bound parameters, never spliced into SQL.
    """
    await session.execute(
        _BIND,
        {
            "school_ids": ",".join(str(i) for i in school_ids),
            "trust_ids": ",".join(str(i) for i in trust_ids),
        },
    )


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
    row = (await _ENTER.execute(connection, {"slug": slug})).one_or_none()
    return None if row is None else Tenant(*row[:5])


_CURRENT = text(
    "SELECT coalesce(current_setting('app.school_ids', true), ''), "
    "coalesce(current_setting('app.trust_ids', true), '')"
)
_RESTORE = text(
    "SELECT set_config('app.school_ids', :school_ids, true), set_config('app.trust_ids', :trust_ids, true)"
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
    await session.execute(_RESTORE, {"school_ids": before[0], "trust_ids": before[1]})

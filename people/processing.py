"""Whether a person's data may be processed: restriction (LL-S2 (xiii)) and objection (LL-A 5.2).

The records are ``processing_restrictions`` rows (``models.privacy.ProcessingRestriction``), kept by
``privacy.restriction``. This module holds the predicates every other package asks, below them all (people,
learning, roster and the partner feeds import it; privacy re-exports it):

* :func:`refuse_if_restricted`: a write to a restricted person's data is refused with ``RESTRICTED``;
* :func:`visible_to_all`: a restricted person is seen by school admins only; :func:`visible_to` is that
  rule for one caller (every read of a pupil's rows by id or in a list asks it, LL-S2 (xiii));
* :func:`counted`: a restricted or objecting person is left out of every aggregate (statistics, partner
  feeds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from auth.principal import Principal
from common.errors import DomainError
from models.privacy import ProcessingRestriction
from tenants.scoping import in_school, same_school

RESTRICTION = "RESTRICTION"
OBJECTION = "OBJECTION"


def _current(kinds: tuple[str, ...], rows: Any, person_column: Any) -> ColumnElement[bool]:
    return exists(
        select(ProcessingRestriction.id).where(
            same_school(ProcessingRestriction, rows),
            ProcessingRestriction.subject_id == person_column,
            # Equalities, not IN: an IN list is an expanding parameter, which a statement compiled once
            # (common.prepared: the compiled class view) cannot carry.
            or_(*(ProcessingRestriction.kind == kind for kind in kinds)),
            ProcessingRestriction.lifted_at.is_(None),  # type: ignore[union-attr]
        )
    )


def visible_to_all(rows: Any, person_column: Any) -> ColumnElement[bool]:
    """True for a row whose person is not restricted: ``rows`` is the model (or subquery columns) with
    ``school_id``, ``person_column`` the column holding the person's id."""
    return ~_current((RESTRICTION,), rows, person_column)


def visible_to(principal: Principal, rows: Any, person_column: Any) -> ColumnElement[bool]:
    """:func:`visible_to_all` for a caller who is not a school admin; nothing hidden from an admin. The one
    condition every read of a person's rows adds (by id, in lists, in a class view), so a restriction holds
    on every path, not only where the person is listed."""
    return true() if principal.is_admin else visible_to_all(rows, person_column)


def counted(rows: Any, person_column: Any) -> ColumnElement[bool]:
    """True for a row whose person may be counted: neither restricted nor objecting to statistical use."""
    return ~_current((RESTRICTION, OBJECTION), rows, person_column)


async def restricted_among(
    session: AsyncSession, school_id: uuid.UUID, person_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    ids = list(person_ids)
    if not ids:
        return set()
    rows = await session.execute(
        select(ProcessingRestriction.subject_id).where(
            in_school(ProcessingRestriction, school_id),
            ProcessingRestriction.subject_id.in_(ids),  # type: ignore[attr-defined]
            ProcessingRestriction.kind == RESTRICTION,
            ProcessingRestriction.lifted_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return set(rows.scalars())


async def refuse_if_restricted(
    session: AsyncSession, school_id: uuid.UUID, person_ids: Iterable[uuid.UUID], field: str | None
) -> None:
    """``RESTRICTED`` on ``field`` when any of the people's processing is restricted: their data is read-only."""
    if await restricted_among(session, school_id, person_ids):
        raise DomainError.one(
            field,
            "RESTRICTED",
            "This person's processing is restricted (LL-S2 (xiii)): their data is read-only until a school "
            "admin lifts the restriction.",
        )

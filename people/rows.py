"""The rows an operation names, read at the caller's school; the values another row has already; changes.

Each lookup records its finding on the input field that named the row, so an operation collects every
problem before it writes. A row of another school is exactly an unknown row: NOT_FOUND, never a hint
that it exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from models import Contact, Group, Pupil, Staff
from people.validation import camel, has_problem
from tenants.scoping import restrict, scoped

MAX_GROUP_MEMBERS_PER_CALL: Final = 1000


@dataclass(frozen=True)
class Kind:
    """A kind of row an input names by id: its model, the input field and how a message names it."""

    model: Any
    field: str
    label: str


STAFF = Kind(Staff, "staffId", "member of staff")
PUPIL = Kind(Pupil, "pupilId", "pupil")
GROUP = Kind(Group, "groupId", "group")
CONTACT = Kind(Contact, "contactId", "contact")


@dataclass(frozen=True)
class Unique:
    """A column no two rows of a school share, and the problem a clash is reported as."""

    column: str
    code: str
    message: str
    """Formatted with ``value``."""


async def find(
    session: AsyncSession,
    principal: Principal,
    kind: Kind,
    row_id: uuid.UUID,
    problems: Problems,
    *,
    lock: bool = False,
    active: bool = False,
) -> Any:
    """The row with this id at the caller's school, or None with NOT_FOUND (and INACTIVE if ``active``)."""
    model = kind.model
    stmt = scoped(model, principal.school_id).where(model.id == row_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        problems.add(kind.field, "NOT_FOUND", f"No {kind.label} with this id at this school.")
    elif active and not row.active:
        problems.add(kind.field, "INACTIVE", f"This {kind.label} is no longer active.")
    return row


async def check_all(
    session: AsyncSession,
    principal: Principal,
    kind: Kind,
    ids: Sequence[uuid.UUID],
    problems: Problems,
    *,
    field: str,
    active: bool,
) -> None:
    """NOT_FOUND (and INACTIVE if ``active``) on ``field.<index>`` for each id not usable; one statement."""
    if len(ids) > MAX_GROUP_MEMBERS_PER_CALL:
        problems.add(field, "TOO_MANY", f"At most {MAX_GROUP_MEMBERS_PER_CALL} ids in one call.")
        return
    if not ids:
        return
    model = kind.model
    stmt = restrict(select(model.id, model.active).where(model.id.in_(set(ids))), model, principal.school_id)
    found: dict[uuid.UUID, bool] = {
        row_id: is_active for row_id, is_active in (await session.execute(stmt)).all()
    }
    for index, row_id in enumerate(ids):
        if row_id not in found:
            problems.add(f"{field}.{index}", "NOT_FOUND", f"No {kind.label} with this id at this school.")
        elif active and not found[row_id]:
            problems.add(f"{field}.{index}", "INACTIVE", f"This {kind.label} is no longer active.")


async def check_unique(
    session: AsyncSession,
    principal: Principal,
    problems: Problems,
    model: Any,
    cleaned: dict[str, Any],
    rules: Sequence[Unique],
    *,
    exclude: uuid.UUID | None = None,
) -> None:
    """Each rule's code on its field when another row of the school has the (valid, given) value already.

    ``exclude``: the row being updated, which may keep its own value. One statement per value checked.
    """
    for rule in rules:
        field = camel(rule.column)
        value = cleaned.get(rule.column)
        if value is None or has_problem(problems, field):
            continue
        stmt = restrict(
            select(model.id).where(getattr(model, rule.column) == value), model, principal.school_id
        )
        if exclude is not None:
            stmt = stmt.where(model.id != exclude)
        if (await session.execute(stmt.limit(1))).first() is not None:
            problems.add(field, rule.code, rule.message.format(value=value))


def apply_changes(row: Any, changes: dict[str, Any], *, now: datetime) -> None:
    """Give ``row`` the cleaned values of an update (its columns' names) and stamp ``updated_at``."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = now

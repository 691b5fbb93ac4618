# mypy: disable-error-code="attr-defined,union-attr"
"""Printed workbooks (LL 6.4.2): one printed copy per pupil, another only after a school admin's grant.

A pupil may have 1 + (their grants for the workbook) copies. Copies are numbered from 1 and the unique key
(pupil, workbook, copy) makes two racing requests for the same copy collide: one gets CONFLICT, never
two copies. A request for several pupils is all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from learning.content import ContentItem, content_by_ids, same_item
from learning.policies import may_assess
from models import Pupil
from models.content import PrintGrant, PrintRequest
from tenants.scoping import in_school, scoped

MAX_PRINT_PUPILS: Final = 1000


async def request_prints(
    session: AsyncSession,
    principal: Principal,
    content_id: uuid.UUID,
    pupil_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> list[PrintRequest]:
    """One printed workbook for each pupil; a pupil who has had their copies is refused (all or nothing).

    A pupil may have 1 + (their grants for this workbook) copies. Two requests racing for the same copy
    collide on the unique key: one gets a CONFLICT error, never two copies.
    """
    school = principal.school_id
    problems = Problems()
    item = (await content_by_ids(session, principal, [content_id])).get(content_id)
    if item is None:
        problems.add("contentId", "CONTENT_NOT_FOUND", "No content with this id at this school.")
    elif not item.is_workbook:
        problems.add("contentId", "NOT_A_WORKBOOK", f"{item.title} is not a workbook.")
    if not pupil_ids:
        problems.add("pupilIds", "REQUIRED", "Name at least one pupil.")
    if len(pupil_ids) > MAX_PRINT_PUPILS:
        problems.add("pupilIds", "TOO_MANY", f"At most {MAX_PRINT_PUPILS} pupils in one request.")
    active = set(
        (
            await session.execute(
                select(Pupil.id).where(in_school(Pupil, school), Pupil.id.in_(pupil_ids), Pupil.active)
            )
        ).scalars()
    )
    used: dict[uuid.UUID, int] = {}
    granted: dict[uuid.UUID, int] = {}
    if item is not None and item.is_workbook:
        used, granted = await _copies_used_and_granted(session, school, item, pupil_ids)
    _check_pupils(problems, principal, pupil_ids, active, used, granted)
    problems.raise_if_any()
    assert item is not None
    rows = [
        PrintRequest(
            school_id=school,
            pupil_id=pupil_id,
            copy_number=used.get(pupil_id, 0) + 1,
            requested_by=principal.account_id,
            requested_at=now,
            **item.refs,
        )
        for pupil_id in pupil_ids
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def _copies_used_and_granted(
    session: AsyncSession, school: uuid.UUID, item: ContentItem, pupil_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """Per pupil, the highest copy of the workbook printed and the grants of more (two statements;
    pupils without any are absent)."""
    used: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(PrintRequest.pupil_id, func.max(PrintRequest.copy_number))
                .where(
                    in_school(PrintRequest, school),
                    PrintRequest.pupil_id.in_(pupil_ids),
                    same_item(PrintRequest, item),
                )
                .group_by(PrintRequest.pupil_id)
            )
        ).all()
    )
    granted: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(PrintGrant.pupil_id, func.count())
                .where(
                    in_school(PrintGrant, school),
                    PrintGrant.pupil_id.in_(pupil_ids),
                    same_item(PrintGrant, item),
                )
                .group_by(PrintGrant.pupil_id)
            )
        ).all()
    )
    return used, granted


def _check_pupils(
    problems: Problems,
    principal: Principal,
    pupil_ids: Sequence[uuid.UUID],
    active: set[uuid.UUID],
    used: dict[uuid.UUID, int],
    granted: dict[uuid.UUID, int],
) -> None:
    """Each pupil named once, active, taught by the principal, and with a copy left to print."""
    seen: set[uuid.UUID] = set()
    for i, pupil_id in enumerate(pupil_ids):
        if pupil_id in seen:
            problems.add(f"pupilIds.{i}", "DUPLICATE", "This pupil is named twice.")
        seen.add(pupil_id)
        if pupil_id not in active or not may_assess(principal, pupil_id):
            problems.add(
                f"pupilIds.{i}", "PUPIL_NOT_TAUGHT", "No pupil with this id among the pupils you teach."
            )
        elif used.get(pupil_id, 0) >= 1 + granted.get(pupil_id, 0):
            problems.add(
                f"pupilIds.{i}",
                "PRINT_LIMIT_REACHED",
                "This pupil has had their printed copy of this workbook (one per pupil, licence 6.4.2); "
                "a school admin can grant another.",
            )


async def grant_print(
    session: AsyncSession,
    principal: Principal,
    content_id: uuid.UUID,
    pupil_id: uuid.UUID,
    reason: str,
    *,
    now: datetime,
) -> PrintGrant:
    """A school admin allows one more printed copy of a workbook for a pupil, with the reason."""
    problems = Problems()
    item = (await content_by_ids(session, principal, [content_id])).get(content_id)
    if item is None:
        problems.add("contentId", "CONTENT_NOT_FOUND", "No content with this id at this school.")
    elif not item.is_workbook:
        problems.add("contentId", "NOT_A_WORKBOOK", f"{item.title} is not a workbook.")
    pupil = (
        await session.execute(scoped(Pupil, principal.school_id).where(Pupil.id == pupil_id, Pupil.active))
    ).scalar_one_or_none()
    if pupil is None:
        problems.add("pupilId", "PUPIL_NOT_FOUND", "No pupil with this id at this school.")
    text = (reason or "").strip()
    if not text:
        problems.add("reason", "REQUIRED", "Say why another copy is needed.")
    elif len(text) > 500:
        problems.add("reason", "TOO_LONG", "reason has at most 500 characters.")
    problems.raise_if_any()
    assert item is not None
    row = PrintGrant(
        school_id=principal.school_id,
        pupil_id=pupil_id,
        reason=text,
        granted_by=principal.account_id,
        granted_at=now,
        **item.refs,
    )
    session.add(row)
    await session.flush()
    return row

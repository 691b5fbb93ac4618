"""The judgement scale's labels: a school may rename its levels (not the levels themselves)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import Problems
from models.curriculum import LEVELS, LevelLabel
from tenants.scoping import in_school, scoped_delete

DEFAULT_LABELS: dict[str, str] = {
    "NOT_YET": "Not yet",
    "WORKING_TOWARDS": "Working towards",
    "SECURE": "Secure",
    "GREATER_DEPTH": "Greater depth",
}


async def level_labels(session: AsyncSession, school_id: uuid.UUID) -> dict[str, str]:
    """The school's label of each level, the default where it set none."""
    rows = (
        await session.execute(
            select(LevelLabel.level, LevelLabel.label).where(in_school(LevelLabel, school_id))
        )
    ).all()
    labels = dict(DEFAULT_LABELS)
    labels.update({level: label for level, label in rows})
    return labels


async def set_level_labels(
    session: AsyncSession, principal: Principal, labels: Sequence[tuple[str, str | None]], *, now: datetime
) -> dict[str, str]:
    """Rename levels; a null or blank label restores the default. Labels must stay distinct."""
    problems = Problems()
    wanted: dict[str, str | None] = {}
    for i, (level, label) in enumerate(labels):
        if level not in LEVELS:
            problems.add(f"labels.{i}.level", "INVALID_LEVEL", f"level must be one of {', '.join(LEVELS)}.")
            continue
        if level in wanted:
            problems.add(f"labels.{i}.level", "DUPLICATE", f"{level} is given twice.")
        text = (label or "").strip()
        if len(text) > 40:
            problems.add(f"labels.{i}.label", "TOO_LONG", "A label has at most 40 characters.")
        wanted[level] = text or None
    current = await level_labels(session, principal.school_id)
    result = {**current, **{lvl: (lab or DEFAULT_LABELS[lvl]) for lvl, lab in wanted.items()}}
    if len({v.casefold() for v in result.values()}) != len(result):
        problems.add("labels", "LABELS_NOT_DISTINCT", "Two levels would have the same label.")
    problems.raise_if_any()
    school = principal.school_id
    for level, label in wanted.items():
        if label is None:
            await session.execute(scoped_delete(LevelLabel, school).where(LevelLabel.level == level))
        else:
            stmt = insert(LevelLabel).values(school_id=school, level=level, label=label, updated_at=now)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["school_id", "level"], set_={"label": label, "updated_at": now}
                )
            )
    return result

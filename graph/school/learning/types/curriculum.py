"""Curriculum types: ladders, their rungs (objectives) and the school's names for the levels.

Curriculum carries no personal data, so its fields are plain.
"""

from __future__ import annotations

from functools import lru_cache

import strawberry

from graph.core.relay import Connection, Node, to_global_id
from graph.school.learning.types.scale import JudgementLevel, Source
from learning import ladders


@strawberry.type(name="Rung", description="One objective of a ladder.")
class RungType(Node):
    row: strawberry.Private[ladders.RungRow]
    id: strawberry.ID
    position: int = strawberry.field(description="1 = the first objective of the ladder.")
    code: str
    statement: str

    @classmethod
    def of(cls, row: ladders.RungRow) -> RungType:
        return _rung_type(row)


@lru_cache(maxsize=8192)
def _rung_type(row: ladders.RungRow) -> RungType:
    """Rungs are reference data (a platform ladder is read once per process) and a RungType holds nothing
    of a request: one object per rung serves every class view."""
    return RungType(
        row=row,
        id=to_global_id("Rung", row.id),
        position=row.position,
        code=row.code,
        statement=row.statement,
    )


@strawberry.type(name="Ladder", description="A subject and year group with ordered rungs (objectives).")
class LadderType(Node):
    row: strawberry.Private[ladders.LadderRow]
    id: strawberry.ID
    source: Source
    code: str
    subject: str
    year_group: int | None
    title: str
    archived: bool
    rungs: list[RungType] = strawberry.field(description="In ladder order.")
    """A plain attribute, so the executor reads it directly (a class view stays on its direct path): every
    LadderType is made with its rungs, which the ladder reads load with the ladder."""

    @classmethod
    def of(cls, row: ladders.LadderRow, rungs: tuple[ladders.RungRow, ...]) -> LadderType:
        return cls(
            row=row,
            rungs=[RungType.of(r) for r in rungs],
            id=to_global_id("Ladder", row.id),
            source=Source(row.source),
            code=row.code,
            subject=row.subject,
            year_group=row.year_group,
            title=row.title,
            archived=row.archived,
        )

    @classmethod
    def full(cls, ladder: ladders.Ladder) -> LadderType:
        return cls.of(ladder.row, ladder.rungs)


LadderConnection = Connection[LadderType]


@strawberry.type(name="LevelLabel", description="The school's name for a level of the scale.")
class LevelLabelType:
    level: JudgementLevel
    label: str

# mypy: disable-error-code="attr-defined,union-attr"
"""Curriculum ladders: the platform's (global, read by every school: LL 4.4) and a school's own.

(The school's names for the levels are in :mod:`learning.scale`.) A :class:`LadderRow` and
:class:`RungRow` describe either kind alike (``source`` says which), so the rest
of the learning package never needs to know where a ladder came from. Reads are open to every signed-in
account of the school (a curriculum is not personal data); writes check their policy at the GraphQL edge
and validate their whole input here, reporting every problem at once.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common import pagination as paging
from common.errors import DomainError, Problems
from common.pagination import Page, after_key
from models.curriculum import CurriculumLadder, CurriculumRung, SchoolLadder, SchoolRung
from tenants.scoping import in_school, scoped, scoped_update

PLATFORM, SCHOOL = "PLATFORM", "SCHOOL"
MAX_RUNGS = 200
YEAR_GROUPS = range(-2, 15)


@dataclass(frozen=True)
class LadderRow:
    id: uuid.UUID
    source: str
    code: str
    subject: str
    year_group: int | None
    title: str
    archived: bool


@dataclass(frozen=True)
class RungRow:
    id: uuid.UUID
    ladder_id: uuid.UUID
    position: int
    code: str
    statement: str
    key: str = field(init=False, repr=False, compare=False)
    """The id as text: how judgements are keyed in :data:`learning.queries.Cells`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))


@dataclass(frozen=True)
class Ladder:
    """A ladder with its rungs in order."""

    row: LadderRow
    rungs: tuple[RungRow, ...]

    @property
    def id(self) -> uuid.UUID:
        return self.row.id


def _ladder_columns(model: Any, source: str) -> list[Any]:
    archived = model.archived_at.is_not(None) if source == SCHOOL else literal(False)
    return [
        model.id,
        literal(source).label("source"),
        model.code,
        model.subject,
        model.year_group,
        model.title,
        archived.label("archived"),
    ]


def _ladders_stmt(school_id: uuid.UUID) -> Any:
    platform = select(*_ladder_columns(CurriculumLadder, PLATFORM))
    school = select(*_ladder_columns(SchoolLadder, SCHOOL)).where(in_school(SchoolLadder, school_id))
    return union_all(platform, school).subquery("ladders")


async def ladders_page(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    subject: str | None = None,
    year_group: int | None = None,
    include_archived: bool = False,
) -> list[LadderRow]:
    """Platform and school ladders by subject, year group, title and id; ``page.first + 1`` at most."""
    ladders = _ladders_stmt(principal.school_id)
    order = (ladders.c.subject, func.coalesce(ladders.c.year_group, 99), ladders.c.title, ladders.c.id)
    stmt: Select[Any] = select(ladders)
    if subject is not None:
        stmt = stmt.where(func.lower(ladders.c.subject) == subject.strip().lower())
    if year_group is not None:
        stmt = stmt.where(ladders.c.year_group == year_group)
    if not include_archived:
        stmt = stmt.where(ladders.c.archived.is_(False))
    after = after_key(page, paging.TEXT, paging.INT, paging.TEXT, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    stmt = stmt.order_by(*order).limit(page.first + 1)
    return [LadderRow(*row) for row in (await session.execute(stmt)).all()]


def ladder_cursor(row: LadderRow) -> tuple[Any, ...]:
    return (row.subject, 99 if row.year_group is None else row.year_group, row.title, row.id)


@dataclass(frozen=True)
class _Platform:
    loaded_at: float
    ladders: dict[uuid.UUID, Ladder]
    rungs: dict[uuid.UUID, tuple[RungRow, LadderRow]]


_platform: list[_Platform] = []
PLATFORM_CACHE_SECONDS = 300.0
"""The platform's ladders are reference data that change only with a migration (a deploy): each process
reads them once, and again after this many seconds, so the class view reads none of them per request."""


def _assemble(rows: Sequence[Any]) -> dict[uuid.UUID, Ladder]:
    """Ladders from (ladder columns..., rung id, position, code, statement) rows ordered by ladder, position."""
    heads: dict[uuid.UUID, LadderRow] = {}
    rungs: dict[uuid.UUID, list[RungRow]] = defaultdict(list)
    for row in rows:
        heads.setdefault(row[0], LadderRow(*row[:7]))
        if row[7] is not None:
            rungs[row[0]].append(RungRow(row[7], row[0], row[8], row[9], row[10]))
    return {lid: Ladder(head, tuple(rungs[lid])) for lid, head in heads.items()}


async def _platform_ladders(session: AsyncSession) -> _Platform:
    now = time.monotonic()
    if _platform and now - _platform[0].loaded_at < PLATFORM_CACHE_SECONDS:
        return _platform[0]
    stmt = (
        select(
            *_ladder_columns(CurriculumLadder, PLATFORM),
            CurriculumRung.id,
            CurriculumRung.position,
            CurriculumRung.code,
            CurriculumRung.statement,
        )
        .outerjoin(CurriculumRung, CurriculumRung.ladder_id == CurriculumLadder.id)
        .order_by(CurriculumLadder.id, CurriculumRung.position)
    )
    found = _assemble((await session.execute(stmt)).all())
    rungs = {r.id: (r, ladder.row) for ladder in found.values() for r in ladder.rungs}
    loaded = _Platform(now, found, rungs)
    _platform[:] = [loaded]
    return loaded


def forget_platform_ladders() -> None:
    """Drop the process's copy of the platform ladders (after changing them, in tests and data steps)."""
    _platform.clear()


async def ladders_by_ids(
    session: AsyncSession, school_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Ladder]:
    """Ladders (either kind) with their rungs: platform ladders from the process's copy, the school's in
    one statement (none when every id is a platform ladder)."""
    if not ids:
        return {}
    platform = await _platform_ladders(session)
    found = {i: platform.ladders[i] for i in ids if i in platform.ladders}
    missing = [i for i in ids if i not in found]
    if missing:
        stmt = (
            select(
                *_ladder_columns(SchoolLadder, SCHOOL),
                SchoolRung.id,
                SchoolRung.position,
                SchoolRung.code,
                SchoolRung.statement,
            )
            .outerjoin(
                SchoolRung,
                and_(in_school(SchoolRung, school_id), SchoolRung.ladder_id == SchoolLadder.id),
            )
            .where(in_school(SchoolLadder, school_id), SchoolLadder.id.in_(missing))
            .order_by(SchoolLadder.id, SchoolRung.position)
        )
        found.update(_assemble((await session.execute(stmt)).all()))
    return found


async def ladder(session: AsyncSession, school_id: uuid.UUID, ladder_id: uuid.UUID) -> Ladder | None:
    return (await ladders_by_ids(session, school_id, [ladder_id])).get(ladder_id)


async def rungs_by_ids(
    session: AsyncSession, school_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[RungRow, LadderRow]]:
    """Rungs (either kind) with their ladder: platform rungs from the process's copy, the school's in one
    statement (none when every id is a platform rung)."""
    if not ids:
        return {}
    platform = await _platform_ladders(session)
    found = {i: platform.rungs[i] for i in ids if i in platform.rungs}
    missing = [i for i in ids if i not in found]
    if missing:
        stmt = (
            select(
                SchoolRung.id,
                SchoolRung.ladder_id,
                SchoolRung.position,
                SchoolRung.code,
                SchoolRung.statement,
                *_ladder_columns(SchoolLadder, SCHOOL),
            )
            .join(
                SchoolLadder,
                and_(in_school(SchoolLadder, school_id), SchoolLadder.id == SchoolRung.ladder_id),
            )
            .where(in_school(SchoolRung, school_id), SchoolRung.id.in_(missing))
        )
        for row in (await session.execute(stmt)).all():
            found[row[0]] = (RungRow(*row[:5]), LadderRow(*row[5:]))
    return found


async def rungs_of_ladders(
    session: AsyncSession, school_id: uuid.UUID, ladder_ids: Sequence[uuid.UUID]
) -> list[list[RungRow]]:
    """Each ladder's rungs in order (DataLoader batch: one statement)."""
    found = await ladders_by_ids(session, school_id, ladder_ids)
    return [list(found[i].rungs) if i in found else [] for i in ladder_ids]


# --- a school's own ladders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRung:
    code: str
    statement: str


@dataclass(frozen=True)
class NewLadder:
    code: str
    subject: str
    title: str
    year_group: int | None
    rungs: tuple[NewRung, ...]


def _text(problems: Problems, field: str, value: str | None, *, limit: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        problems.add(field, "REQUIRED", f"{field} must not be empty.")
    elif len(text) > limit:
        problems.add(field, "TOO_LONG", f"{field} is {len(text)} characters; at most {limit}.")
    return text


def _rung_codes(problems: Problems, rungs: Sequence[NewRung]) -> list[str]:
    """Each rung's code, upper-cased ("" where missing), checking every rung's code and statement."""
    rung_codes: list[str] = []
    for i, rung in enumerate(rungs):
        rung_code = _text(problems, f"rungs.{i}.code", rung.code, limit=40).upper()
        _text(problems, f"rungs.{i}.statement", rung.statement, limit=2000)
        if rung_code and rung_code in rung_codes:
            problems.add(f"rungs.{i}.code", "DUPLICATE", f"Rung code {rung_code} appears twice.")
        rung_codes.append(rung_code)
    return rung_codes


async def _check_codes_free(
    session: AsyncSession, problems: Problems, school: uuid.UUID, code: str, rung_codes: list[str]
) -> None:
    """The ladder's code and its rungs' codes are not the school's already (a statement for each, if any)."""
    if code:
        taken = await session.execute(
            scoped(SchoolLadder, school).where(func.upper(SchoolLadder.code) == code).limit(1)
        )
        if taken.first() is not None:
            problems.add("code", "CODE_TAKEN", f"The school has a ladder with code {code} already.")
    wanted = [c for c in rung_codes if c]
    if wanted:
        stmt = select(SchoolRung.code).where(in_school(SchoolRung, school), SchoolRung.code.in_(wanted))
        for (existing,) in (await session.execute(stmt)).all():
            problems.add(
                f"rungs.{rung_codes.index(existing)}.code",
                "CODE_TAKEN",
                f"The school has a rung with code {existing} already.",
            )


async def create_ladder(
    session: AsyncSession, principal: Principal, data: NewLadder, *, now: datetime
) -> Ladder:
    """A school ladder with its rungs in the given order; codes unique at the school (ladders and rungs)."""
    school = principal.school_id
    problems = Problems()
    code = _text(problems, "code", data.code, limit=40).upper()
    subject = _text(problems, "subject", data.subject, limit=60)
    title = _text(problems, "title", data.title, limit=200)
    if data.year_group is not None and data.year_group not in YEAR_GROUPS:
        problems.add("yearGroup", "INVALID_YEAR_GROUP", "yearGroup must be between -2 (nursery) and 14.")
    if not data.rungs:
        problems.add("rungs", "REQUIRED", "A ladder needs at least one rung.")
    if len(data.rungs) > MAX_RUNGS:
        problems.add("rungs", "TOO_MANY", f"A ladder has at most {MAX_RUNGS} rungs.")
    rung_codes = _rung_codes(problems, data.rungs)
    await _check_codes_free(session, problems, school, code, rung_codes)
    problems.raise_if_any()
    row = SchoolLadder(
        school_id=school,
        code=code,
        subject=subject,
        year_group=data.year_group,
        title=title,
        created_by=principal.account_id,
        created_at=now,
    )
    rungs = [
        SchoolRung(
            school_id=school,
            ladder_id=row.id,
            position=i,
            code=rung_codes[i - 1],
            statement=rung.statement.strip(),
        )
        for i, rung in enumerate(data.rungs, 1)
    ]
    session.add(row)
    await session.flush()
    session.add_all(rungs)
    await session.flush()
    head = LadderRow(row.id, SCHOOL, row.code, row.subject, row.year_group, row.title, False)
    return Ladder(head, tuple(RungRow(r.id, row.id, r.position, r.code, r.statement) for r in rungs))


async def archive_ladder(
    session: AsyncSession, principal: Principal, ladder_id: uuid.UUID, *, now: datetime
) -> Ladder:
    """Hide a school ladder from lists; its rungs and every judgement on them stay (history is kept)."""
    found = await ladder(session, principal.school_id, ladder_id)
    if found is None:
        raise DomainError.one("ladderId", "NOT_FOUND", "No ladder with that id at this school.")
    if found.row.source != SCHOOL:
        raise DomainError.one(
            "ladderId", "PLATFORM_LADDER", "Platform ladders belong to every school and cannot be archived."
        )
    await session.execute(
        scoped_update(SchoolLadder, principal.school_id)
        .where(SchoolLadder.id == ladder_id, SchoolLadder.archived_at.is_(None))
        .values(archived_at=now)
    )
    return Ladder(LadderRow(**{**found.row.__dict__, "archived": True}), found.rungs)

"""The shipped starter curriculum (``learning/data/starter-ladders.txt``) and the pre-loaded workbooks.

The starter ladders are global reference data (LL 4.4): the migration that creates the tables loads
them with :func:`sync_starter`, which upserts by id, so a later migration can call it again after the
data file changed (new rungs, corrected wording) without touching what schools recorded. Ids are derived
from the codes (UUID 5), so every installation has the same ids for the same objectives.

Each starter ladder also has a pre-loaded workbook (``platform_content``) rendered from the ladder itself
by :func:`render_workbook`; the copyright notice is part of every download (LL 7.1.8).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

DATA_FILE = Path(__file__).resolve().parent / "data" / "starter-ladders.txt"
NAMESPACE = uuid.UUID("5c7e0a1e-8d0b-4f5e-9a57-0d6c6f1b2a10")
MIN_RUNGS = 10

COPYRIGHT_NOTICE = (
    "Copyright (c) schoolgraph and its licensors. Licensed for the internal, non-commercial educational "
    "use of the subscribing school and its registered users only; this notice must be kept on every copy "
    "(licence terms 7.1.8). Do not copy, republish or place this material where others can download it."
)
"""The notice every download carries (LL 7.1.8)."""


def ladder_id(code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"ladder:{code}")


def rung_id(code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"rung:{code}")


def workbook_id(code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"workbook:{code}")


@dataclass(frozen=True)
class StarterRung:
    code: str
    statement: str


@dataclass(frozen=True)
class StarterLadder:
    code: str
    subject: str
    year_group: int
    title: str
    rungs: tuple[StarterRung, ...]


class CurriculumFileError(ValueError):
    """The data file breaks its format; the message names the line."""


def parse(text: str) -> list[StarterLadder]:
    """The ladders of a starter file; raises :class:`CurriculumFileError` naming the offending line."""
    ladders: list[StarterLadder] = []
    header: tuple[str, str, int, str] | None = None
    rungs: list[StarterRung] = []
    codes: set[str] = set()

    def close(line_no: int) -> None:
        if header is None:
            return
        if len(rungs) < MIN_RUNGS:
            raise CurriculumFileError(f"line {line_no}: ladder {header[0]} has {len(rungs)} rungs (< 10)")
        ladders.append(StarterLadder(*header, rungs=tuple(rungs)))

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=="):
            close(number)
            parts = [p.strip() for p in line[2:].split("|")]
            if len(parts) != 4 or not parts[2].lstrip("-").isdigit():
                raise CurriculumFileError(f"line {number}: expected '== CODE | Subject | Year | Title'")
            header = (parts[0], parts[1], int(parts[2]), parts[3])
            rungs = []
            if parts[0] in codes:
                raise CurriculumFileError(f"line {number}: duplicate code {parts[0]}")
            codes.add(parts[0])
            continue
        code, sep, statement = (p.strip() for p in line.partition("|"))
        if header is None or not sep or not code or not statement:
            raise CurriculumFileError(f"line {number}: expected 'CODE | statement' inside a ladder")
        if code in codes:
            raise CurriculumFileError(f"line {number}: duplicate code {code}")
        codes.add(code)
        rungs.append(StarterRung(code, statement))
    close(len(text.splitlines()))
    return ladders


def starter_ladders() -> list[StarterLadder]:
    return parse(DATA_FILE.read_text(encoding="utf-8"))


_ladders = sa.table(
    "curriculum_ladders",
    sa.column("id", sa.Uuid),
    sa.column("code", sa.String),
    sa.column("subject", sa.String),
    sa.column("year_group", sa.Integer),
    sa.column("title", sa.String),
)
_rungs = sa.table(
    "curriculum_rungs",
    sa.column("id", sa.Uuid),
    sa.column("ladder_id", sa.Uuid),
    sa.column("position", sa.Integer),
    sa.column("code", sa.String),
    sa.column("statement", sa.Text),
)
_content = sa.table(
    "platform_content",
    sa.column("id", sa.Uuid),
    sa.column("code", sa.String),
    sa.column("title", sa.String),
    sa.column("description", sa.Text),
    sa.column("subject", sa.String),
    sa.column("year_group", sa.Integer),
    sa.column("is_workbook", sa.Boolean),
    sa.column("ladder_id", sa.Uuid),
    sa.column("file_name", sa.String),
    sa.column("media_type", sa.String),
)


def _upsert(connection: Connection, table: Any, rows: list[dict[str, Any]], *, keys: list[str]) -> None:
    if not rows:
        return
    stmt = insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in rows[0] if c not in keys}
    )
    connection.execute(stmt)


def sync_starter(connection: Connection, ladders: list[StarterLadder] | None = None) -> int:
    """Upsert the starter ladders, their rungs and workbooks (owner connection; idempotent).

    Rungs are matched by id (from their code): a changed statement or position is updated in place, so
    judgements recorded against a rung keep pointing at it. Returns the number of ladders.
    """
    ladders = starter_ladders() if ladders is None else ladders
    _upsert(
        connection,
        _ladders,
        [
            {
                "id": ladder_id(ladder.code),
                "code": ladder.code,
                "subject": ladder.subject,
                "year_group": ladder.year_group,
                "title": ladder.title,
            }
            for ladder in ladders
        ],
        keys=["id"],
    )
    rungs = [
        {
            "id": rung_id(rung.code),
            "ladder_id": ladder_id(ladder.code),
            # Positions may shift when the file changes: park them out of the way first (unique per ladder).
            "position": position + 10_000,
            "code": rung.code,
            "statement": rung.statement,
        }
        for ladder in ladders
        for position, rung in enumerate(ladder.rungs, 1)
    ]
    _upsert(connection, _rungs, rungs, keys=["id"])
    connection.execute(
        sa.update(_rungs).where(_rungs.c.position > 10_000).values(position=_rungs.c.position - 10_000)
    )
    _upsert(
        connection,
        _content,
        [
            {
                "id": workbook_id(ladder.code),
                "code": f"{ladder.code}-WORKBOOK",
                "title": f"{ladder.title} workbook",
                "description": f"The printable workbook of the {ladder.title} ladder: one page per objective.",
                "subject": ladder.subject,
                "year_group": ladder.year_group,
                "is_workbook": True,
                "ladder_id": ladder_id(ladder.code),
                "file_name": f"{ladder.code.lower()}-workbook.txt",
                "media_type": "text/plain; charset=utf-8",
            }
            for ladder in ladders
        ],
        keys=["id"],
    )
    return len(ladders)


def render_workbook(title: str, rungs: list[tuple[str, str]], *, school_name: str, notice: str) -> bytes:
    """A ladder's workbook as plain text: the notice first and last, then one section per objective."""
    lines = [notice, "", f"{title} workbook", f"Printed for {school_name}", "=" * 72, ""]
    for position, (code, statement) in enumerate(rungs, 1):
        lines += [
            f"{position}. [{code}] {statement}",
            "",
            "   What I can do now:",
            "   ____________________________________________________________",
            "   Next step:",
            "   ____________________________________________________________",
            "",
        ]
    lines += ["=" * 72, notice, ""]
    return "\n".join(lines).encode("utf-8")

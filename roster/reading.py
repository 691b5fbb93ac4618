"""What every package reader gives the import: its format, modes, and the rows to stage, in batches.

A reader first *prepares* (small files only: the manifest, file names, every header, the orgs), logging
every problem it finds; the import stops there when any is an error, before a row is staged. Then it hands
over one :class:`Load` per staging table; each load's batches are produced lazily, in a worker thread, so
that a file is read exactly once and never held whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table

# One definition of the rule, the admin's forms' (roster/activation.py imports it from here).
from common.clock import years_before as years_before

BULK = "bulk"
DELTA = "delta"
ABSENT = "absent"
KINDS = ("PUPIL", "STAFF", "CONTACT")


@dataclass(frozen=True)
class SchoolRef:
    """The school importing: how a package may name it."""

    id: uuid.UUID
    slug: str
    urn: str | None
    org_sourced_id: str | None
    """The OneRoster org a school admin said is this school (``roster_sources``)."""

    @property
    def own_org_id(self) -> str:
        """The org id schoolgraph's own export gives the school when no MIS org is known."""
        return f"schoolgraph-{self.id}"


@dataclass
class Load:
    table: Table
    columns: list[str]
    batches: Iterator[list[tuple[Any, ...]]]
    label: str = ""
    """The file the rows come from, for progress."""


@dataclass
class Modes:
    """How each kind of record in the package is to be applied: bulk (a snapshot), delta, or absent."""

    people: dict[str, str] = field(default_factory=lambda: dict.fromkeys(KINDS, ABSENT))
    groups: str = ABSENT
    enrollments: str = ABSENT
    terms: str = ABSENT
    extended: str = ABSENT

    def summary(self) -> str:
        used = {m for m in (*self.people.values(), self.groups, self.enrollments, self.terms) if m != ABSENT}
        if used == {DELTA}:
            return "DELTA"
        if used <= {BULK}:
            return "BULK"
        return "MIXED"


class Reader(Protocol):
    format: str
    modes: Modes
    skipped_other_schools: int
    roles_from_roles_file: bool
    """OneRoster 1.2: users' roles (and so whether they are this school's) come from roles.csv."""
    org_to_record: str | None
    """An org the package showed to be this school (by its URN) while the school had none recorded: the
    import records it, so that later packages without orgs.csv (the usual MIS delta) name the school."""

    def prepare(self) -> bool: ...

    def loads(self) -> list[Load]: ...

    def finish(self) -> None:
        """Report what is only known once every row was read (passwords ignored, ...)."""

"""What an import found wrong: every problem names its file, row, column, a stable code and a sentence.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2. A problem about
a whole file has no row; one about the package (a missing manifest, say) has no file either.

ERROR problems refuse the import (nothing is written); WARNING problems are quirks the import worked round
and says how. The log keeps the first :data:`DETAIL_LIMIT` problems in detail (memory must not grow with
the file) and counts every one by code, so a report is complete in its counts even when a broken file
repeats one mistake a million times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

ERROR: Final = "ERROR"
WARNING: Final = "WARNING"
DETAIL_LIMIT: Final = 2000


@dataclass(frozen=True)
class RosterProblem:
    severity: str
    code: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None
    """For a misspelled or misnamed header or file: the name that was expected."""


class ProblemLog:
    """Problems in the order found, the first :data:`DETAIL_LIMIT` in detail, all of them counted."""

    def __init__(self, limit: int = DETAIL_LIMIT) -> None:
        self.limit = limit
        self.items: list[RosterProblem] = []
        self.codes: Counter[str] = Counter()
        self.errors = 0
        self.warnings = 0
        self._once: set[tuple[str | None, str | None, str, str]] = set()

    def add(self, problem: RosterProblem) -> None:
        if problem.severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self.codes[problem.code] += 1
        if len(self.items) < self.limit:
            self.items.append(problem)

    def error(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.add(RosterProblem(ERROR, code, message, file, row, column, expected))

    def warning(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.add(RosterProblem(WARNING, code, message, file, row, column, expected))

    def warning_once(
        self, code: str, message: str, *, file: str | None, row: int | None, column: str | None, key: str
    ) -> None:
        """A warning reported at its first occurrence only (a case quirk repeated on every row, say)."""
        marker = (file, column, code, key)
        if marker in self._once:
            return
        self._once.add(marker)
        self.warning(code, message, file=file, row=row, column=column)

    @property
    def truncated(self) -> int:
        return self.errors + self.warnings - len(self.items)

    def __bool__(self) -> bool:
        return self.errors > 0

"""Reading one CSV file of a package: its header checked against the spec, then its rows, streamed.

Headers are exact: a missing column is an error, a misspelled one is an error naming the expected column
(``dataLastModified`` -> ``dateLastModified``), a column in the wrong case or order is read with a warning,
``metadata.*`` extension columns are ignored with a warning, unnamed trailing columns are ignored.

Values are tolerated where a school would expect it and reported precisely: an enumeration in the wrong
case (``Scheduled``) is read with a warning given once per file, column and value; everything else that
does not parse is an error on its row and column.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from auth.parent_codes import username_problem
from common.identifiers import IdentifierError, validate_email
from roster.package import Package
from roster.problems import ProblemLog

EXTENSION_PREFIX = "metadata."


@dataclass(frozen=True)
class TableSpec:
    file: str
    columns: tuple[str, ...]
    """Every column, in the order the format fixes."""
    required: frozenset[str] = frozenset()
    """Columns whose value schoolgraph needs on every row."""
    optional_columns: frozenset[str] = frozenset()
    """Columns that may be left out of the header altogether (schoolgraph's own layout)."""


@dataclass
class Table:
    spec: TableSpec
    index: dict[str, int] = field(default_factory=dict)
    width: int = 0

    def get(self, row: list[str], column: str) -> str:
        i = self.index.get(column)
        if i is None or i >= len(row):
            return ""
        return row[i].strip()


def check_header(spec: TableSpec, header: list[str], log: ProblemLog) -> Table | None:
    """The column index of a header that has every expected column, or None after logging why not."""
    index, unknown, ok = _name_columns(spec, header, log)
    missing = [c for c in spec.columns if c not in index]
    ok = _report_unknown(spec, unknown, missing, log) and ok
    ok = _report_missing(spec, missing, log) and ok
    if not ok:
        return None
    present = [c for c in spec.columns if c in index]
    if [index[c] for c in present] != sorted(index[c] for c in present):
        log.warning(
            "COLUMN_ORDER",
            f"The columns are not in the order OneRoster fixes ({', '.join(spec.columns)}); they are read by name.",
            file=spec.file,
            row=1,
        )
    return Table(spec=spec, index=index, width=len(header))


def _name_columns(
    spec: TableSpec, header: list[str], log: ProblemLog
) -> tuple[dict[str, int], list[tuple[int, str]], bool]:
    """Each expected column's position (a name in the wrong case is read, with a warning), the columns of
    names not expected, and whether the header is usable so far (no unnamed or repeated column)."""
    file = spec.file
    by_lower = {c.lower(): c for c in spec.columns}
    index: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    ok = True
    trailing_reported = False
    for position, raw in enumerate(header):
        name = raw.strip()
        if not name:
            if any(h.strip() for h in header[position + 1 :]):
                log.error(
                    "UNNAMED_COLUMN",
                    f"Column {position + 1} has no name.",
                    file=file,
                    row=1,
                    column=f"#{position + 1}",
                )
                ok = False
            elif not trailing_reported:
                trailing_reported = True
                log.warning(
                    "UNNAMED_COLUMN",
                    f"Column {position + 1} and any after it have no name and are ignored.",
                    file=file,
                    row=1,
                    column=f"#{position + 1}",
                )
        elif name in index:
            log.error("DUPLICATE_COLUMN", f"Column {name!r} appears twice.", file=file, row=1, column=name)
            ok = False
        elif name in spec.columns:
            index[name] = position
        elif name.lower() in by_lower and by_lower[name.lower()] not in index:
            right = by_lower[name.lower()]
            log.warning(
                "COLUMN_CASE",
                f"Column {name!r} is read as {right!r} (OneRoster names are case-sensitive).",
                file=file,
                row=1,
                column=name,
                expected=right,
            )
            index[right] = position
        elif name.startswith(EXTENSION_PREFIX):
            log.warning(
                "EXTENSION_COLUMN", f"Extension column {name!r} is ignored.", file=file, row=1, column=name
            )
        else:
            unknown.append((position, name))
    return index, unknown, ok


def _report_unknown(
    spec: TableSpec, unknown: list[tuple[int, str]], missing: list[str], log: ProblemLog
) -> bool:
    """An error for each column not expected: misspelt (then no longer ``missing``) or unknown. Whether
    there were none."""
    by_lower = {c.lower(): c for c in spec.columns}
    for _, name in unknown:
        guess = difflib.get_close_matches(name, missing, n=1, cutoff=0.7) or difflib.get_close_matches(
            name.lower(), [m.lower() for m in missing], n=1, cutoff=0.7
        )
        if guess:
            right = by_lower[guess[0].lower()]
            log.error(
                "MISSPELLED_COLUMN",
                f"Column {name!r} is not a {spec.file} column: expected {right!r}.",
                file=spec.file,
                row=1,
                column=name,
                expected=right,
            )
            missing.remove(right)
        else:
            log.error(
                "UNKNOWN_COLUMN",
                f"Column {name!r} is not a {spec.file} column (expected {', '.join(spec.columns)}).",
                file=spec.file,
                row=1,
                column=name,
            )
    return not unknown


def _report_missing(spec: TableSpec, missing: list[str], log: ProblemLog) -> bool:
    """An error for each missing column that is not optional; whether there were none."""
    ok = True
    for name in missing:
        if name in spec.optional_columns:
            continue
        log.error(
            "MISSING_COLUMN",
            f"Column {name!r} is missing.",
            file=spec.file,
            row=1,
            column=name,
            expected=name,
        )
        ok = False
    return ok


def read_rows(package: Package, table: Table, log: ProblemLog) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(row number, fields)`` for every non-blank record of a file whose header passed.

    Stops (after logging) at undecodable bytes and at a CSV syntax error. A record with more fields than
    the header is an error; a short one is an error unless only unnamed trailing columns are missing.
    """
    file = table.spec.file
    with package.open_text(file) as text:
        reader = csv.reader(text)
        row_no = 1
        try:
            next(reader, None)
            named = max(table.index.values(), default=-1) + 1
            width = table.width
            for row in reader:
                row_no += 1
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if len(row) > width and any(v.strip() for v in row[width:]):
                        log.error(
                            "ROW_TOO_LONG",
                            f"The row has {len(row)} fields but the header has {width}: is a value with a "
                            "comma missing its quotes?",
                            file=file,
                            row=row_no,
                        )
                        continue
                    if len(row) < named:
                        log.error(
                            "ROW_TOO_SHORT",
                            f"The row has {len(row)} fields but the header has {width}.",
                            file=file,
                            row=row_no,
                        )
                        continue
                yield row_no, row
        except UnicodeDecodeError as error:
            log.error(
                "ENCODING",
                f"The file is not UTF-8 near row {row_no + 1} ({error.reason}): save it as UTF-8 CSV.",
                file=file,
                row=row_no + 1,
            )
        except csv.Error as error:
            log.error("CSV_SYNTAX", f"The CSV cannot be read: {error}.", file=file, row=row_no + 1)


def read_header_only(package: Package, spec: TableSpec, log: ProblemLog) -> Table | None:
    with package.open_text(spec.file) as text:
        try:
            header = next(csv.reader(text), None)
        except (UnicodeDecodeError, csv.Error) as error:
            log.error("CSV_SYNTAX", f"The header cannot be read: {error}.", file=spec.file, row=1)
            return None
    if header is None:
        log.error("EMPTY_FILE", "The file is empty: it has no header row.", file=spec.file)
        return None
    return check_header(spec, header, log)


# --- values ---------------------------------------------------------------------------------------------


class Values:
    """Parsers for one file's values; each logs its own problem and returns None when a value is unusable."""

    def __init__(self, log: ProblemLog, file: str) -> None:
        self.log, self.file = log, file

    def required(self, row: int, column: str, value: str) -> bool:
        if value:
            return True
        self.log.error("REQUIRED", f"{column} is required.", file=self.file, row=row, column=column)
        return False

    def enum(self, row: int, column: str, value: str, allowed: dict[str, str]) -> str | None:
        """``allowed`` maps lower-case spellings to the canonical value (tolerated case: a warning once)."""
        if not value:
            return None
        canonical = allowed.get(value.lower())
        if canonical is None:
            values = sorted(set(allowed.values()))
            self.log.error(
                "INVALID_VALUE",
                f"{value!r} is not a valid {column} (expected one of {', '.join(values)}).",
                file=self.file,
                row=row,
                column=column,
            )
            return None
        if canonical != value:
            self.log.warning_once(
                "VALUE_CASE",
                f"{value!r} is read as {canonical!r} (reported once per column and value).",
                file=self.file,
                row=row,
                column=column,
                key=value,
            )
        return canonical

    def boolean(self, row: int, column: str, value: str) -> bool | None:
        word = self.enum(row, column, value, _BOOLEANS)
        return None if word is None else word == "true"

    def day(self, row: int, column: str, value: str) -> date | None:
        if not value:
            return None
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.log.error(
                "INVALID_DATE",
                f"{value!r} is not a date in the form YYYY-MM-DD.",
                file=self.file,
                row=row,
                column=column,
            )
            return None

    def timestamp(self, row: int, column: str, value: str) -> None:
        """dateLastModified: an ISO 8601 date-time (a bare date is accepted); only checked, not kept."""
        if not value:
            return
        try:
            if len(value) == 10:
                date.fromisoformat(value)
            else:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.log.error(
                "INVALID_DATE",
                f"{value!r} is not an ISO 8601 date-time (such as 2023-05-01T18:25:43.511Z).",
                file=self.file,
                row=row,
                column=column,
            )

    def integer(self, row: int, column: str, value: str, low: int, high: int) -> int | None:
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            self.log.error(
                "INVALID_VALUE",
                f"{value!r} is not a whole number from {low} to {high}.",
                file=self.file,
                row=row,
                column=column,
            )
            return None
        return number

    def email(self, row: int, column: str, value: str) -> str | None:
        """An email address, normalised; blank is None, an invalid one an error."""
        if not value:
            return None
        try:
            return validate_email(value)
        except IdentifierError as error:
            self.log.error(error.code, f"{error.message}.", file=self.file, row=row, column=column)
            return None

    def username(self, row: int, column: str, value: str) -> str | None:
        """A username an account can have, else None (blank; or unusable: no account, a warning says why)."""
        if not value:
            return None
        if username_problem(value) is not None:
            self.log.warning(
                "INVALID_USERNAME",
                f"{value!r} cannot be a username (3 to 64 letters, digits, '.', '_', '-', '@'): no account "
                "is created.",
                file=self.file,
                row=row,
                column=column,
            )
            return None
        return value

    def text(self, row: int, column: str, value: str, max_length: int) -> str | None:
        if not value:
            return None
        if _CONTROL.search(value):
            self.log.error(
                "INVALID_CHARACTERS",
                f"{column} must not contain tabs, line breaks or other control characters.",
                file=self.file,
                row=row,
                column=column,
            )
            return None
        if len(value) > max_length:
            self.log.error(
                "TOO_LONG",
                f"{column} must be at most {max_length} characters (it has {len(value)}).",
                file=self.file,
                row=row,
                column=column,
            )
            return None
        return value


_BOOLEANS = {"true": "true", "false": "false"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def split_list(value: str) -> list[str]:
    """A OneRoster list field: comma-separated, blanks dropped."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


_USER_ID = re.compile(r"\{\s*([^:{}]+?)\s*:\s*([^{}]*?)\s*\}")


def user_ids(value: str) -> dict[str, str]:
    """``{LDAP:12},{UPN:A123...}`` -> ``{"LDAP": "12", "UPN": "A123..."}`` (type upper-cased)."""
    return {kind.upper(): ident for kind, ident in _USER_ID.findall(value)}

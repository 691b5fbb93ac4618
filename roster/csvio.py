"""Reading one CSV file of a package: its header checked against the spec, then its rows, streamed.

Headers are read by name: a missing column is an error unless the spec lets it be left out, a misspelled one
is an error naming the expected column (``dataLastModified`` -> ``dateLastModified``), a column in the wrong
case or order is read with a warning, a column the spec does not know (an MIS's own ``admissionNumber``) is
ignored with a warning naming it (an error when the spec is strict), ``metadata.*`` extension columns are
ignored with a warning, unnamed trailing columns are ignored.

Rows are exact: a row with more fields than the header, or fewer than its named columns, is an error on
that row, never read shifted (an unquoted comma in a name moves every later value one column on, and the
moved values are often valid ones). Values are parsed by roster/values.py.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from roster.package import READ_ERRORS, Package
from roster.problems import ProblemLog

EXTENSION_PREFIX = "metadata."
MAX_RECORD_CHARS = 1_000_000
"""A record (one row, over however many lines its quoted values span) longer than this stops the file: no
roster row comes near it, and reading it would hold it whole in memory (``csv`` bounds a field, not a row)."""


class _RecordTooLong(Exception):
    pass


def _lines(text: IO[str], spent: list[int]) -> Iterator[str]:
    """The file's lines for ``csv.reader``, each read with a bound, raising :class:`_RecordTooLong` once the
    record being read passes :data:`MAX_RECORD_CHARS` (``spent[0]``: characters since the last record
    ended, which the caller resets)."""
    readline = text.readline
    while line := readline(MAX_RECORD_CHARS + 1):
        spent[0] += len(line)
        if spent[0] > MAX_RECORD_CHARS:
            raise _RecordTooLong
        yield line


@dataclass(frozen=True)
class TableSpec:
    file: str
    columns: tuple[str, ...]
    """Every column, in the order the format fixes."""
    required: frozenset[str] = frozenset()
    """Columns whose value schoolgraph needs on every row."""
    optional_columns: frozenset[str] = frozenset()
    """Columns that may be left out of the header altogether."""
    strict: bool = False
    """Whether a column the spec does not know refuses the file (else it is ignored with a warning)."""


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
    """A problem for each column not expected: misspelt (an error; the column is then no longer
    ``missing``) or unknown (an error when the spec is strict, else a warning). Whether none was an error."""
    by_lower = {c.lower(): c for c in spec.columns}
    ok = True
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
            ok = False
        elif spec.strict:
            log.error(
                "UNKNOWN_COLUMN",
                f"Column {name!r} is not a {spec.file} column (expected {', '.join(spec.columns)}).",
                file=spec.file,
                row=1,
                column=name,
            )
            ok = False
        else:
            log.warning(
                "UNKNOWN_COLUMN",
                f"Column {name!r} is not a {spec.file} column: it is ignored.",
                file=spec.file,
                row=1,
                column=name,
            )
    return ok


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
    the header, or fewer than its named columns, is an error naming the file, row and counts, and is not
    yielded: its values cannot be trusted to be in their columns. Only unnamed trailing columns may be
    missing from a record.
    """
    file = table.spec.file
    with package.open_text(file) as text:
        spent = [0]
        reader = csv.reader(_lines(text, spent))
        row_no = 1
        try:
            next(reader, None)
            named = max(table.index.values(), default=-1) + 1
            width = table.width
            for row in reader:
                spent[0] = 0
                row_no += 1
                fields = len(row)
                if fields != width:
                    if not row or (fields == 1 and not row[0].strip()):
                        continue
                    if fields > width or fields < named:
                        _report_width(log, file, row_no, fields, width)
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
        except _RecordTooLong:
            _report_record_too_long(log, file, row_no + 1)
        except READ_ERRORS as error:
            _report_unreadable(log, file, error)


def _report_record_too_long(log: ProblemLog, file: str, row_no: int) -> None:
    log.error(
        "RECORD_TOO_LONG",
        f"Row {row_no} of {file} is longer than {MAX_RECORD_CHARS:,} characters (is a quote not closed?): "
        "the file is not read further.",
        file=file,
        row=row_no,
    )


def _report_unreadable(log: ProblemLog, file: str, error: Exception) -> None:
    log.error(
        "DAMAGED_FILE",
        f"{file} cannot be read from the package ({error}): the zip is damaged.",
        file=file,
    )


def _report_width(log: ProblemLog, file: str, row_no: int, fields: int, width: int) -> None:
    if fields > width:
        log.error(
            "ROW_TOO_LONG",
            f"Row {row_no} of {file} has {fields} fields but the header has {width}: is a value with a "
            "comma missing its quotes? The row is not read.",
            file=file,
            row=row_no,
        )
    else:
        log.error(
            "ROW_TOO_SHORT",
            f"Row {row_no} of {file} has {fields} fields but the header has {width}. The row is not read.",
            file=file,
            row=row_no,
        )


def read_header_only(package: Package, spec: TableSpec, log: ProblemLog) -> Table | None:
    with package.open_text(spec.file) as text:
        try:
            header = next(csv.reader(_lines(text, [0])), None)
        except (UnicodeDecodeError, csv.Error) as error:
            log.error("CSV_SYNTAX", f"The header cannot be read: {error}.", file=spec.file, row=1)
            return None
        except _RecordTooLong:
            _report_record_too_long(log, spec.file, 1)
            return None
        except READ_ERRORS as error:
            _report_unreadable(log, spec.file, error)
            return None
    if header is None:
        log.error("EMPTY_FILE", "The file is empty: it has no header row.", file=spec.file)
        return None
    return check_header(spec, header, log)

"""The values of a roster file's cells: parsed, normalised and reported precisely.

Values are tolerated where a school would expect it: an enumeration in the wrong case (``Scheduled``) is
read with a warning given once per file, column and value; everything else that does not parse is an error
on its row and column (each parser logs its own problem and returns None).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from auth.parent_codes import username_problem
from common.identifiers import IdentifierError, validate_email
from roster.problems import ProblemLog


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

    def text(
        self, row: int, column: str, value: str, max_length: int, *, optional: bool = False
    ) -> str | None:
        """A one-line text of at most ``max_length`` characters, else None: an error on the row, or for an
        ``optional`` value (one schoolgraph can do without) a warning that it is left out."""
        if not value:
            return None
        problem = None
        if _CONTROL.search(value):
            problem = (
                "INVALID_CHARACTERS",
                f"{column} must not contain tabs, line breaks or other control characters",
            )
        elif len(value) > max_length:
            problem = "TOO_LONG", f"{column} must be at most {max_length} characters (it has {len(value)})"
        if problem is None:
            return value
        code, message = problem
        if optional:
            self.log.warning(code, f"{message}: it is left out.", file=self.file, row=row, column=column)
        else:
            self.log.error(code, f"{message}.", file=self.file, row=row, column=column)
        return None


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

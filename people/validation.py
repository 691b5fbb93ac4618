"""Field rules of the school admin's people operations: each cleans one given value or records why not.

A :data:`Cleaner` takes the problems being collected, the field's camelCase path in the mutation input
and the given value; it returns the value normalised (stripped, canonical identifier) and records every
problem on that path. :func:`clean` runs the cleaners of an input dataclass over the fields it was given
(:data:`~common.maybe.UNSET` ones are left out), so one call validates a whole create or update input.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import date, timedelta
from typing import Any, Final

from common.clock import years_before
from common.errors import Problems
from common.identifiers import IdentifierError, validate_email, validate_uln, validate_upn
from common.maybe import UNSET

MIN_PUPIL_AGE: Final = 2
MAX_PUPIL_AGE: Final = 25
EARLIEST_DATE_OF_BIRTH: Final = date(1990, 1, 1)
YEAR_GROUPS: Final = range(-2, 15)

Cleaner = Callable[[Problems, str, Any], Any]
"""Validates one given value: returns it normalised, or records problems on the field (camelCase path)."""


def camel(name: str) -> str:
    """The input field's name as GraphQL spells it (``date_of_birth`` -> ``dateOfBirth``)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def has_problem(problems: Problems, field: str) -> bool:
    return any(p.field == field for p in problems.items)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _missing(problems: Problems, field: str, label: str, value: Any, *, required: bool) -> bool:
    """Whether no value was given (None or blank); REQUIRED on the field if one had to be."""
    if not _blank(value):
        return False
    if required:
        problems.add(field, "REQUIRED", f"{label} is required.")
    return True


def text(label: str, max_length: int, *, required: bool = False) -> Cleaner:
    """Stripped text; blank is None (REQUIRED if required); no control characters; at most max_length."""

    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        if _missing(problems, field, label, value, required=required):
            return None
        assert value is not None
        value = value.strip()
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            problems.add(
                field, "INVALID_CHARACTERS", f"{label} must not contain tabs, line breaks or other controls."
            )
        elif len(value) > max_length:
            problems.add(
                field, "TOO_LONG", f"{label} must be at most {max_length} characters (it has {len(value)})."
            )
        return value

    return clean


def email(label: str, *, required: bool = False) -> Cleaner:
    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        if _missing(problems, field, label, value, required=required):
            return None
        try:
            return validate_email(value)
        except IdentifierError as error:
            problems.add(field, error.code, f"{label} is not valid: {error.message}.")
            return None

    return clean


def required(label: str) -> Cleaner:
    def clean(problems: Problems, field: str, value: Any) -> Any:
        if value is None:
            problems.add(field, "REQUIRED", f"{label} is required.")
        return value

    return clean


def choice(label: str, choices: Sequence[str]) -> Cleaner:
    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        if value is None:
            problems.add(field, "REQUIRED", f"{label} is required.")
        elif value not in choices:
            problems.add(field, "INVALID_VALUE", f"{label} must be one of {', '.join(choices)}.")
        return value

    return clean


def optional(problems: Problems, field: str, value: Any) -> Any:
    return value


def upn(problems: Problems, field: str, value: str | None) -> str | None:
    if _missing(problems, field, "The UPN", value, required=True):
        return None
    try:
        return validate_upn(value)
    except IdentifierError as error:
        problems.add(field, error.code, f"{error.message}.")
        return None


def uln(problems: Problems, field: str, value: str | None) -> str | None:
    try:
        return validate_uln(value)
    except IdentifierError as error:
        problems.add(field, error.code, f"{error.message}.")
        return None


def phone(problems: Problems, field: str, value: str | None) -> str | None:
    """A UK or international number as typed: digits with spaces, hyphens, dots, brackets, a leading +."""
    cleaned: str | None = text("The phone number", 40)(problems, field, value)
    if cleaned is None or has_problem(problems, field):
        return cleaned
    if not is_phone_number(cleaned):
        problems.add(
            field,
            "INVALID_PHONE",
            "The phone number must be 7 to 15 digits, optionally with spaces, hyphens, brackets and a "
            "leading +.",
        )
    return cleaned


PHONE_CHARACTERS: Final = frozenset("0123456789 -.()")


def is_phone_number(value: str) -> bool:
    """7 to 15 digits, optionally with spaces, hyphens, dots and brackets, and a leading + (the MIS import
    applies the same rule: roster/oneroster_rows.py)."""
    body = value[1:] if value.startswith("+") else value
    return set(body) <= PHONE_CHARACTERS and 7 <= sum(ch.isdigit() for ch in body) <= 15


def year_group(problems: Problems, field: str, value: int | None) -> int | None:
    if value is not None and value not in YEAR_GROUPS:
        problems.add(
            field,
            "OUT_OF_RANGE",
            f"The year group must be between {YEAR_GROUPS[0]} (nursery) and {YEAR_GROUPS[-1]}, or null "
            "for a mixed-age group.",
        )
    return value


def date_of_birth(today: date) -> Cleaner:
    """LL 6.3.2: a plausible date of birth for a pupil aged MIN_PUPIL_AGE to MAX_PUPIL_AGE today."""
    latest = years_before(today, MIN_PUPIL_AGE)
    earliest = max(EARLIEST_DATE_OF_BIRTH, years_before(today, MAX_PUPIL_AGE + 1) + timedelta(days=1))

    def clean(problems: Problems, field: str, value: date | None) -> date | None:
        if value is None:
            problems.add(field, "REQUIRED", "The date of birth is required.")
        elif value > today:
            problems.add(field, "INVALID_DATE_OF_BIRTH", f"The date of birth {value} is in the future.")
        elif not earliest <= value <= latest:
            problems.add(
                field,
                "INVALID_DATE_OF_BIRTH",
                f"The date of birth {value} would make the pupil younger than {MIN_PUPIL_AGE} or older "
                f"than {MAX_PUPIL_AGE}: it must be between {earliest} and {latest}.",
            )
        return value

    return clean


def leaving_date(today: date) -> Cleaner:
    """A leaving date for a deactivation, which takes effect now: today (when not given) or earlier."""

    def clean(problems: Problems, field: str, value: date | None) -> date:
        if value is None:
            return today
        if value > today:
            problems.add(
                field,
                "INVALID_DATE",
                f"The leaving date {value} is in the future, but deactivation ends access now: deactivate "
                "on the day they leave.",
            )
        return value

    return clean


def clean(problems: Problems, specs: dict[str, Cleaner], data: Any) -> dict[str, Any]:
    """The given fields of ``data`` that ``specs`` knows, cleaned; UNSET fields are left out."""
    cleaned: dict[str, Any] = {}
    for item in fields(data):
        value = getattr(data, item.name)
        if item.name in specs and value is not UNSET:
            cleaned[item.name] = specs[item.name](problems, camel(item.name), value)
    return cleaned

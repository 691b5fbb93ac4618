"""Keyset pagination: what a list query asks for, and opaque cursors over its sort key.

A cursor is the URL-safe base64 of a JSON list of strings: the sort key of the last row a page returned.
:func:`after_key` parses it back into the key's own types (a UUID compared with a UUID column, a date
with a date), so the database never compares a ``uuid`` with a ``varchar``. A list sorted by people's
names keys its cursor on the row's id alone and finds the name in the database (see people/queries.py):
cursors land in URLs and access logs, and must carry no one's name.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from common.errors import DomainError


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(k) for k in key]).encode()).decode()


def decode_cursor(cursor: str | None) -> list[str] | None:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DomainError.one("after", "INVALID_CURSOR", "The cursor is not one this server issued.")
    return value


@dataclass(frozen=True)
class Page:
    """What a connection query asks for: at most ``first`` rows after the ``after`` key."""

    first: int
    after: list[str] | None

    @classmethod
    def of(cls, first: int | None, after: str | None, *, maximum: int) -> Page:
        if first is not None and not 0 < first <= maximum:
            raise DomainError.one("first", "INVALID_PAGE_SIZE", f"first must be between 1 and {maximum}.")
        return cls(first=first or maximum, after=decode_cursor(after))


Parser = Callable[[str], Any]
UUID: Parser = uuid.UUID
DATE: Parser = date.fromisoformat
TIMESTAMP: Parser = datetime.fromisoformat
TEXT: Parser = str
INT: Parser = int


def after_key(page: Page, *parsers: Parser) -> tuple[Any, ...] | None:
    """The typed sort key after which the page starts, or None for the first page.

    A cursor of another list (wrong length) or one that does not parse is INVALID_CURSOR.
    """
    if page.after is None:
        return None
    if len(page.after) != len(parsers):
        raise DomainError.one("after", "INVALID_CURSOR", "The cursor does not belong to this list.")
    try:
        return tuple(parse(value) for parse, value in zip(parsers, page.after))
    except ValueError:
        raise DomainError.one(
            "after", "INVALID_CURSOR", "The cursor is not one this server issued."
        ) from None

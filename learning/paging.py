"""Keyset cursors of the learning lists: the page's ``after`` key parsed back into typed values."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from common.errors import DomainError
from common.pagination import Page

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

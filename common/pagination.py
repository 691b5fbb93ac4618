"""Keyset pagination: what a list query asks for, and opaque cursors over its sort key."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
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

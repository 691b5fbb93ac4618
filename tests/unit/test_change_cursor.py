"""The change feed's positions (partners.changes.Cursor): what a consumer is given back is what it gave,
the purged version included (migration 0031), and a position given out before 0031 still reads."""

from __future__ import annotations

import base64
import json

import pytest

from partners.changes import START, BadCursor, Cursor


def _given(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(0),
        Cursor(4_294_967_296 * 3 + 7, "users", "MIS-12", 4_294_967_296 * 3),
        Cursor(9, "classes", "é/ü"),
    ],
)
def test_a_position_reads_back_as_it_was_given(cursor: Cursor) -> None:
    assert Cursor.parse(cursor.encode()) == cursor


def test_a_bare_version_and_a_position_from_before_purged_versions_were_kept() -> None:
    assert Cursor.parse("0") == START
    assert Cursor.parse("123") == Cursor(123)
    assert Cursor.parse(_given([5, "users", "MIS-1"])) == Cursor(5, "users", "MIS-1", 0)


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        _given([5, "users"]),
        _given([5, "users", "MIS-1", 2, 3]),
        _given(["5", "users", "MIS-1"]),
        _given([5, "users", "MIS-1", "2"]),
        _given([5, "users", "MIS-1", True]),
        _given({"version": 5}),
    ],
)
def test_anything_else_is_not_a_position(text: str) -> None:
    with pytest.raises(BadCursor):
        Cursor.parse(text)

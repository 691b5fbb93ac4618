"""The one source of "now", so that tests and scheduled jobs can move time explicitly."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

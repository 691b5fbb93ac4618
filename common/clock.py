"""The one source of "now", and the two calendars that hang off it.

Dates in schoolgraph are of two kinds, and every ``date`` names which one it is:

* **A school's day** is the local date in England (``Europe/London``): a leaving date, a pupil's age, an
  assignment's due date, "today" for a judgement. :func:`school_today` gives it.
* **The platform's day** is the UTC date: licence terms, invoices, novation dates, suspensions, the jobs
  runner. :func:`platform_today` gives it.

Nothing else reads the host's clock. The running server asks its :class:`Clock` (``Runtime.clock``) for the
instant of each request; tests give it a :class:`FixedClock`, so a suite run at 23:59 behaves as one run at
noon, and services receive ``now`` as an argument rather than reading it themselves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

SCHOOL_TIMEZONE: Final = ZoneInfo("Europe/London")
"""Schools in England: "today" (a leaving date, an age) is the date in London."""


def utcnow() -> datetime:
    """The host's current instant, timezone-aware UTC. Only :class:`SystemClock` and defaults call it."""
    return datetime.now(UTC)


def school_today(now: datetime) -> date:
    """A school's day: the London date at the instant ``now`` (an aware datetime)."""
    return now.astimezone(SCHOOL_TIMEZONE).date()


def platform_today(now: datetime) -> date:
    """The platform's day: the UTC date at the instant ``now`` (an aware datetime)."""
    return now.astimezone(UTC).date()


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (28 February for 29 February in a year without it)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The host's clock: what a server in production runs on."""

    def now(self) -> datetime:
        return utcnow()


class FixedClock:
    """A clock that stands still until moved: tests and replays say exactly what "now" is."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FixedClock needs a timezone-aware instant")
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FixedClock needs a timezone-aware instant")
        self.instant = instant

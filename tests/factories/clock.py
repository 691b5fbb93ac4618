"""The suite's one clock: every fixture, factory and test reads "now" from :data:`CLOCK`, never the host.

:data:`INSTANT` is a term-time Wednesday at 10:00 UTC, weeks from a daylight-saving change and hours from
midnight, so a school's day (London) and the platform's day (UTC) are the same date and a test that moves
the clock by minutes or hours stays on it unless it means to leave it. The ``clock`` fixture hands out
this same object to build the test runtime, so the HTTP edge, the factories and the tests agree on "now";
a test that moves it (:meth:`FixedClock.advance`, :meth:`FixedClock.set`) has it put back afterwards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from common.clock import FixedClock, platform_today, school_today

INSTANT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
"""The suite's "now": Wednesday 18 November 2026, 10:00 UTC (10:00 in London too)."""

CLOCK = FixedClock(INSTANT)


def now() -> datetime:
    """The suite's current instant."""
    return CLOCK.now()


def school_day() -> date:
    """The suite's school day (London)."""
    return school_today(CLOCK.now())


def platform_day() -> date:
    """The suite's platform day (UTC)."""
    return platform_today(CLOCK.now())

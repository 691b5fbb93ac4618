"""The change-version triggers' cost on a bulk write, for the benches that write the fed tables
(``bench.roster``: groups and people, and the links and accounts their objects show; ``bench.learning``:
judgements).

The rows are COPYed again with a trigger (``stamp_change_version``, migrations 0011, 0015, 0017; or
``restamp_on_insert``, migration 0028, on the linking tables) and with it disabled, each inside a savepoint
rolled back after it (so every copy meets the same tables and indexes), alternating, ``rounds`` times each;
the fastest of each is compared. Rows the timed ones need (the persons a link points at) are COPYed first
in the same savepoint, untimed, with every trigger on. The caller's connection must be in a transaction;
nothing of it stays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]
"""Per table: its column names and the records to COPY."""


@dataclass(frozen=True)
class StampCost:
    rows: int
    with_trigger: float
    without_trigger: float
    trigger: str = "stamp_change_version"

    def describe(self, tables: str, whole_seconds: float | None = None, whole: str = "") -> str:
        cost = self.with_trigger - self.without_trigger
        share = "" if whole_seconds is None else f"; {cost / whole_seconds:.1%} of {whole}"
        return (
            f"change-version trigger ({self.trigger}) on {self.rows:,} rows of {tables}: COPY "
            f"{self.with_trigger:.3f} s with it, {self.without_trigger:.3f} s without (without/with "
            f"{self.without_trigger / self.with_trigger:.2f}x; {cost * 1e6 / max(self.rows, 1):.1f} us a "
            f"row{share})"
        )


async def stamp_cost(
    driver: Any,
    rows: Rows,
    rounds: int = 3,
    *,
    trigger: str = "stamp_change_version",
    before: Rows | None = None,
) -> StampCost:
    """``rows`` COPYed with ``trigger`` and without it (asyncpg ``driver``, in a transaction), timed, after
    ``before`` (untimed)."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds * 2):
        stamped = round_ % 2 == 0
        await driver.execute("SAVEPOINT stamp_cost")
        await _copy(driver, before or {})
        if not stamped:
            for table in rows:
                await driver.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER {trigger}')
        started = time.perf_counter()
        await _copy(driver, rows)
        timings[stamped].append(time.perf_counter() - started)
        await driver.execute("ROLLBACK TO SAVEPOINT stamp_cost")
    rows_count = sum(len(r) for _, r in rows.values())
    return StampCost(rows_count, min(timings[True]), min(timings[False]), trigger)


async def _copy(driver: Any, rows: Rows) -> None:
    for table, (columns, records) in rows.items():
        if records:
            await driver.copy_records_to_table(table, records=records, columns=columns)

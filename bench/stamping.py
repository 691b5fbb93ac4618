"""The change-version trigger's cost on a bulk write, for the benches that write the stamped tables
(``bench.roster``: groups and people; ``bench.learning``: judgements).

The rows are COPYed again with the ``stamp_change_version`` trigger (migrations 0011, 0015, 0017) and with
it disabled, each inside a savepoint rolled back after it (so every copy meets the same tables and indexes),
alternating, ``rounds`` times each; the fastest of each is compared. The caller's connection must be in a
transaction; nothing of it stays.
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

    def describe(self, tables: str, whole_seconds: float | None = None, whole: str = "") -> str:
        cost = self.with_trigger - self.without_trigger
        share = "" if whole_seconds is None else f"; {cost / whole_seconds:.1%} of {whole}"
        return (
            f"change-version trigger (stamp_change_version) on {self.rows:,} rows of {tables}: COPY "
            f"{self.with_trigger:.3f} s with it, {self.without_trigger:.3f} s without (without/with "
            f"{self.without_trigger / self.with_trigger:.2f}x; {cost * 1e6 / max(self.rows, 1):.1f} us a "
            f"row{share})"
        )


async def stamp_cost(driver: Any, rows: Rows, rounds: int = 3) -> StampCost:
    """``rows`` COPYed with the trigger and without it (asyncpg ``driver``, in a transaction), timed."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds * 2):
        stamped = round_ % 2 == 0
        await driver.execute("SAVEPOINT stamp_cost")
        if not stamped:
            for table in rows:
                await driver.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER stamp_change_version')
        started = time.perf_counter()
        for table, (columns, records) in rows.items():
            if records:
                await driver.copy_records_to_table(table, records=records, columns=columns)
        timings[stamped].append(time.perf_counter() - started)
        await driver.execute("ROLLBACK TO SAVEPOINT stamp_cost")
    return StampCost(sum(len(r) for _, r in rows.values()), min(timings[True]), min(timings[False]))

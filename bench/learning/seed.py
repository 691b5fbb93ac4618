"""The class-view bench's data: its scale, the trust it seeds with COPY, and the floor's one statement."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import URL

from bench import citus
from bench.stamping import stamp_cost
from common.identifiers import upn_check_letter
from learning import curriculum

BENCH_DATABASE = os.environ.get("BENCH_DATABASE_NAME") or "schoolgraph_bench_learning"
"""The bench's own database (recreated each run): ``BENCH_DATABASE_NAME`` when suites share a server."""
PASSWORD = "bench harbour lantern quietly"  # noqa: S105 - the bench's own throwaway accounts
GROUP_SIZE = 30
LADDERS_PER_PUPIL = 6
SUBJECTS = ("READING", "WRITING", "MATHS")

CLASS_VIEW = """
query ClassView($group: ID!, $ladder: ID!) {
  classProgress(groupId: $group, ladderId: $ladder) {
    group { id name }
    ladder { id title rungs { id code } }
    pupils { pupil { id forename surname } secureShare levels }
  }
}
"""

# The floor: the same JSON from one statement. Global ids are base64url("Type:uuid") without padding, as
# graph.core.relay.to_global_id makes them; the latest judgement per (pupil, rung) is the same DISTINCT ON.
FLOOR_SQL = """
WITH p AS (
    SELECT p.id, p.forename, p.surname
    FROM group_pupils gp
    JOIN pupils p ON p.school_id = gp.school_id AND p.id = gp.pupil_id
    WHERE gp.school_id = $1 AND gp.group_id = $2 AND p.active
),
r AS (SELECT id, position, code FROM curriculum_rungs WHERE ladder_id = $3),
lj AS (
    SELECT DISTINCT ON (pupil_id, rung_id) pupil_id, rung_id, level
    FROM judgements
    WHERE school_id = $1 AND ladder_id = $3 AND pupil_id IN (SELECT id FROM p)
    ORDER BY pupil_id, rung_id, assessed_on DESC, recorded_at DESC
),
rows AS (
    SELECT p.id, p.forename, p.surname, json_build_object(
               'pupil', json_build_object('id', bench_gid('Pupil', p.id), 'forename', p.forename,
                                          'surname', p.surname),
               'secureShare', round(count(*) FILTER (WHERE lj.level IN ('SECURE', 'GREATER_DEPTH'))::numeric
                                    / count(*), 4),
               'levels', json_agg(lj.level ORDER BY r.position)) AS row
    FROM p CROSS JOIN r LEFT JOIN lj ON lj.pupil_id = p.id AND lj.rung_id = r.id
    GROUP BY p.id, p.forename, p.surname
)
SELECT json_build_object('data', json_build_object('classProgress', json_build_object(
    'group', (SELECT json_build_object('id', bench_gid('Group', g.id), 'name', g.name)
              FROM groups g WHERE g.school_id = $1 AND g.id = $2),
    'ladder', (SELECT json_build_object(
                   'id', bench_gid('Ladder', l.id), 'title', l.title,
                   'rungs', (SELECT json_agg(json_build_object('id', bench_gid('Rung', r.id), 'code', r.code)
                                             ORDER BY r.position) FROM r))
               FROM curriculum_ladders l WHERE l.id = $3),
    'pupils', (SELECT coalesce(json_agg(rows.row ORDER BY rows.surname, rows.forename, rows.id), '[]'::json)
               FROM rows)
)))::text
"""

BENCH_GID_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_gid(kind text, id uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT rtrim(translate(encode(convert_to(kind || ':' || id::text, 'UTF8'), 'base64'), '+/', '-_'), '=')
$$
"""


@dataclass(frozen=True)
class Scale:
    schools: int
    pupils: int
    groups: int
    seconds: float
    concurrency: int
    sample: int
    rounds: int

    @classmethod
    def from_env(cls) -> Scale:
        quick = os.environ.get("BENCH_QUICK") == "1"

        def number(name: str, full: int, small: int) -> int:
            return int(os.environ.get(name) or (small if quick else full))

        return cls(
            schools=number("BENCH_SCHOOLS", 20, 2),
            pupils=number("BENCH_PUPILS", 1000, 300),
            groups=number("BENCH_GROUPS", 40, 10),
            seconds=float(os.environ.get("BENCH_SECONDS") or (3 if quick else 10)),
            concurrency=number("BENCH_CONCURRENCY", 16, 8),
            sample=number("BENCH_SAMPLE", 60, 20),
            rounds=number("BENCH_ROUNDS", 3, 1),
        )


@dataclass(frozen=True)
class ClassView:
    slug: str
    school_id: uuid.UUID
    group_id: uuid.UUID
    ladder_id: uuid.UUID
    teacher: str


# --- database ---------------------------------------------------------------------------------------------


def owner_url() -> URL:
    from common.settings import REPO_ROOT
    from server.database import _asyncpg, start_embedded

    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    owner = _asyncpg(configured) if configured else start_embedded(REPO_ROOT / ".data" / "bench")
    return owner


def dsn(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False)


async def recreate_database(owner: URL, database: str = BENCH_DATABASE) -> None:
    connection = await asyncpg.connect(dsn(owner))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    await citus.prepare(owner, database)  # on a Citus cluster only (BENCH_CITUS_WORKERS)


def _upn(n: int) -> str:
    body = f"9{n:011d}"
    return upn_check_letter(body) + body


def _ladder_codes(year: int) -> list[str]:
    other = year - 1 if year > 1 else year + 1
    return [f"Y{y}-{s}" for y in (year, other) for s in SUBJECTS]


def _year_of_group(g: int) -> int:
    return g % 6 + 1


def _groups_of_pupil(i: int, pupils: int, groups: int) -> list[int]:
    """Group g holds the pupils g*step .. g*step+29 (mod pupils): every group has 30, some pupils are in two."""
    step = max(1, pupils // groups)
    return [g for g in range(groups) if (i - g * step) % pupils < GROUP_SIZE]


async def seed(
    owner: URL, scale: Scale, password_hash: str, database: str = BENCH_DATABASE
) -> list[ClassView]:
    """Seed the trust with COPY into ``database``; returns the classes (school, group, its teacher, a ladder
    of its year)."""
    starter = {ladder.code: ladder for ladder in curriculum.starter_ladders()}
    rng = random.Random(20261123)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn(owner, database))
    views: list[ClassView] = []
    try:
        await connection.execute(BENCH_GID_FUNCTION)
        trust_id = uuid.uuid4()
        await connection.execute(
            "INSERT INTO trusts (id, slug, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)",
            trust_id,
            "bench-trust",
            "Bench Learning Trust",
            "MULTI_ACADEMY_TRUST",
            now,
        )
        for s in range(scale.schools):
            seeded = _School(connection, s, scale, now)
            await seeded.school(trust_id)
            groups = await seeded.staff_and_groups(password_hash)
            pupil_ids = await seeded.pupils(groups)
            judgements = list(_judgements(seeded.id, pupil_ids, scale, starter, rng, now))
            await _copy(connection, "judgements", JUDGEMENT_COLUMNS, judgements)
            if s == 0:
                # The same judgements again with fresh ids, with the stamping trigger and without.
                again = [(r[0], uuid.uuid4(), *r[2:]) for r in judgements]
                async with connection.transaction():
                    cost = await stamp_cost(connection, {"judgements": (JUDGEMENT_COLUMNS.split(), again)})
                print(cost.describe("judgements (one school)"))
            views += [
                ClassView(seeded.slug, seeded.id, group, curriculum.ladder_id(code), f"teacher{g + 1}")
                for g, group in enumerate(groups)
                for code in _ladder_codes(_year_of_group(g))[:3]
            ]
        # VACUUM too, as autovacuum would soon have: rows COPYed in are not yet all-visible, and every
        # index-only scan of the judgements would read their heap pages (every endpoint alike).
        await connection.execute("VACUUM ANALYZE")
        # Then a checkpoint: at 1,000 schools the seeding and the VACUUM write gigabytes of WAL, and the
        # checkpoint its size starts would otherwise write the pages out during the first loads (seen: one
        # of 69 s across the first round). Every endpoint then starts from the same quiet state. The
        # seeding connection may: it is a superuser's (:mod:`bench.learning`).
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return views


JUDGEMENT_COLUMNS = "school_id id pupil_id ladder_id rung_id level assessed_on recorded_by recorded_at"


async def _copy(connection: asyncpg.Connection, table: str, columns: str, records: Any) -> None:
    """COPY ``records`` into ``table``; ``columns`` are the column names separated by spaces."""
    await connection.copy_records_to_table(table, records=records, columns=columns.split())


class _School:
    """One bench school's rows, written by COPY table by table (as the owner, who bypasses RLS)."""

    def __init__(self, connection: asyncpg.Connection, number: int, scale: Scale, now: datetime) -> None:
        self.connection, self.number, self.scale, self.now = connection, number, scale, now
        self.id, self.slug = uuid.uuid4(), f"bench-school-{number + 1:02d}"

    async def school(self, trust_id: uuid.UUID) -> None:
        await self.connection.execute(
            "INSERT INTO schools (id, slug, urn, name, phase, status, created_at) "
            "VALUES ($1, $2, $3, $4, 'PRIMARY', 'ACTIVE', $5)",
            self.id,
            self.slug,
            f"{900000 + self.number}",
            f"Bench School {self.number + 1}",
            self.now,
        )
        await self.connection.execute(
            "INSERT INTO school_trust_memberships (school_id, id, trust_id, effective_from, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            self.id,
            uuid.uuid4(),
            trust_id,
            date(self.now.year - 1, 9, 1),
            self.now,
        )

    async def staff_and_groups(self, password_hash: str) -> list[uuid.UUID]:
        """A teacher, an account and a class per group; returns the groups' ids."""
        sid, now, count = self.id, self.now, self.scale.groups
        staff = [uuid.uuid4() for _ in range(count)]
        groups = [uuid.uuid4() for _ in range(count)]
        await _copy(
            self.connection,
            "staff",
            "school_id id forename surname work_email teaching active pupil_access created_at",
            [
                (
                    sid,
                    staff[t],
                    f"Teacher{t}",
                    f"Bench{t:03d}",
                    f"t{t}@{self.slug}.example",
                    True,
                    True,
                    "TAUGHT",
                    now,
                )
                for t in range(count)
            ],
        )
        await _copy(
            self.connection,
            "groups",
            "school_id id name type year_group active created_at",
            [(sid, groups[g], f"Class {g + 1}", "CLASS", _year_of_group(g), True, now) for g in range(count)],
        )
        await _copy(
            self.connection,
            "group_teachers",
            "school_id group_id staff_id created_at",
            [(sid, groups[g], staff[g], now) for g in range(count)],
        )
        await _copy(
            self.connection,
            "accounts",
            "school_id id username password_hash role status staff_id must_change_password failed_logins created_at",
            [
                (
                    sid,
                    uuid.uuid4(),
                    f"teacher{g + 1}",
                    password_hash,
                    "STAFF",
                    "ACTIVE",
                    staff[g],
                    False,
                    0,
                    now,
                )
                for g in range(count)
            ],
        )
        return groups

    async def pupils(self, groups: list[uuid.UUID]) -> list[uuid.UUID]:
        """The school's pupils and their class memberships; returns the pupils' ids."""
        sid, now, scale = self.id, self.now, self.scale
        pupil_ids = [uuid.uuid4() for _ in range(scale.pupils)]
        await _copy(
            self.connection,
            "pupils",
            "school_id id forename surname date_of_birth gender upn active created_at",
            [
                (
                    sid,
                    pid,
                    f"Pupil{i % 97}",
                    f"Surname{i:04d}",
                    date(2016, 1 + i % 12, 1 + i % 28),
                    ("FEMALE", "MALE")[i % 2],
                    _upn(self.number * 100_000 + i),
                    True,
                    now,
                )
                for i, pid in enumerate(pupil_ids)
            ],
        )
        await _copy(
            self.connection,
            "group_pupils",
            "school_id group_id pupil_id created_at",
            [
                (sid, groups[g], pid, now)
                for i, pid in enumerate(pupil_ids)
                for g in _groups_of_pupil(i, scale.pupils, scale.groups)
            ],
        )
        return pupil_ids


def _judgements(
    school_id: uuid.UUID,
    pupil_ids: list[uuid.UUID],
    scale: Scale,
    starter: dict[str, curriculum.StarterLadder],
    rng: random.Random,
    now: datetime,
) -> Iterator[tuple[Any, ...]]:
    """Judgements on 6 ladders per pupil: most rungs assessed, the early ones secure, some with history."""
    levels = ("NOT_YET", "WORKING_TOWARDS", "SECURE", "GREATER_DEPTH")
    recorder = uuid.uuid4()
    for i, pid in enumerate(pupil_ids):
        year = _year_of_group(_groups_of_pupil(i, scale.pupils, scale.groups)[0])
        for code in _ladder_codes(year)[:LADDERS_PER_PUPIL]:
            ladder = starter[code]
            ladder_id = curriculum.ladder_id(code)
            reach = rng.randint(2, len(ladder.rungs))
            for position, rung in enumerate(ladder.rungs):
                if position > reach:
                    break
                rung_id = curriculum.rung_id(rung.code)
                level = 2 + (rng.random() < 0.2) if position < reach - 2 else rng.randint(0, 2)
                when = now.date() - timedelta(days=rng.randint(1, 150))
                if level >= 2 and rng.random() < 0.4:  # an earlier, lower judgement: history
                    yield (school_id, uuid.uuid4(), pid, ladder_id, rung_id, levels[level - 1],
                           when - timedelta(days=30), recorder, now)  # fmt: skip
                yield (school_id, uuid.uuid4(), pid, ladder_id, rung_id, levels[level], when, recorder, now)

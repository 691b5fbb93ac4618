"""Query plans under row-level security stay the plans of one school, at 10 schools and at 1,000.

Every query filters ``school_id = $1`` through the scoping helper and row-level security adds its own
school predicate. PostgreSQL multiplied the two, so with many schools it believed each held a thousandth
of its rows and took whichever index led with ``school_id`` (the class view read judgements through the
school-and-ladder index, filtering about a thousand rows per pupil, and joined pupils through an unrelated
unique index). The tenant policy is now an opaque boolean to the estimator (migrations/rls.py) and the
latest-judgement read has its own index; this test asserts the class view's access paths, not a time.

It builds its own database on the test server (migrated like the suite's, seeded with COPY as the owner),
grows it from 10 schools to 1,000, and EXPLAINs the class view's one statement as the runtime role bound
to one school, exactly as a request runs it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import anyio
import asyncpg
import pytest
from sqlalchemy import URL
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from common.settings import Settings
from graph.core.relay import global_id_sql
from learning import curriculum
from learning.queries import ClassJsonShape, _class_json_stmt, _class_stmt
from server.database import DatabaseUrls, runtime_url_for
from server.migrate import upgrade
from tests.factories.schools import make_upn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.plain_only(
        reason="it builds a database of its own, which on a Citus cluster is a plain database of the "
        "coordinator (nothing distributed): its plans are plain PostgreSQL's, checked by `make test`; the "
        "routing on Citus is asserted by tests/test_citus.py"
    ),
]

GROUPS, PUPILS_PER_GROUP, LADDERS = 4, 10, 2
AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def _dsn(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    return (plain if database is None else plain.set(database=database)).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def plans_database(database_urls: DatabaseUrls, settings: Settings) -> AsyncIterator[URL]:
    # Named after the suite's database, so suites run side by side on one server never share it.
    database = f"{database_urls.owner.database or 'schoolgraph'}_plans"
    server = await asyncpg.connect(_dsn(database_urls.owner))
    try:
        await server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await server.execute(f'CREATE DATABASE "{database}"')
        owner = database_urls.owner.set(database=database)
        await anyio.to_thread.run_sync(upgrade, owner, settings)
        yield owner
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await server.close()


def _serials() -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n


async def _add_schools(owner: URL, count: int, serials: Iterator[int]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``count`` schools, each with GROUPS classes of PUPILS_PER_GROUP pupils, the first class judged on
    LADDERS ladders (every other rung twice), by COPY as the owner; returns (school, first class) of each."""
    ladders = curriculum.starter_ladders()[:LADDERS]
    rng = random.Random(count)
    connection = await asyncpg.connect(_dsn(owner))
    made = []
    try:
        schools, groups, pupils, members, judgements = [], [], [], [], []
        for _ in range(count):
            n = next(serials)
            school = uuid.uuid4()
            schools.append((school, f"plans-{n}", f"Plans School {n}", "PRIMARY", "ACTIVE", AT))
            for g in range(GROUPS):
                group = uuid.uuid4()
                groups.append((school, group, f"Class {g + 1}", "CLASS", 4, True, AT))
                if g == 0:
                    made.append((school, group))
                for i in range(PUPILS_PER_GROUP):
                    pupil, serial = uuid.uuid4(), (n * GROUPS + g) * PUPILS_PER_GROUP + i
                    pupils.append(
                        (school, pupil, f"P{i}", f"S{i:03d}", date(2017, 1, 1), "NOT_KNOWN", make_upn(serial),
                         True, AT)
                    )  # fmt: skip
                    members.append((school, group, pupil, AT))
                    if g:
                        continue
                    for ladder in ladders:
                        for position, rung in enumerate(ladder.rungs):
                            for days in (30, 10)[: 1 + position % 2]:
                                judgements.append(
                                    (school, uuid.uuid4(), pupil, curriculum.ladder_id(ladder.code),
                                     curriculum.rung_id(rung.code), rng.choice(("SECURE", "WORKING_TOWARDS")),
                                     date(2026, 11, 18 - days // 10), uuid.uuid4(), AT)
                                )  # fmt: skip
        copies = {
            "schools": (schools, ["id", "slug", "name", "phase", "status", "created_at"]),
            "groups": (groups, ["school_id", "id", "name", "type", "year_group", "active", "created_at"]),
            "pupils": (
                pupils,
                [
                    "school_id",
                    "id",
                    "forename",
                    "surname",
                    "date_of_birth",
                    "gender",
                    "upn",
                    "active",
                    "created_at",
                ],
            ),
            "group_pupils": (members, ["school_id", "group_id", "pupil_id", "created_at"]),
            "judgements": (
                judgements,
                [
                    "school_id",
                    "id",
                    "pupil_id",
                    "ladder_id",
                    "rung_id",
                    "level",
                    "assessed_on",
                    "recorded_by",
                    "recorded_at",
                ],
            ),
        }
        for table, (records, columns) in copies.items():
            await connection.copy_records_to_table(table, records=records, columns=columns)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return made


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def _class_view_plan(
    owner: URL,
    settings: Settings,
    school: uuid.UUID,
    group: uuid.UUID,
    *,
    compiled_view: bool = False,
    hide_restricted: bool = False,
) -> list[dict[str, Any]]:
    """The class view's statement EXPLAINed as the runtime role, bound to ``school`` as a request is; with
    ``compiled_view``, the statement of the compiled class view (the same rows folded into JSON); with
    ``hide_restricted``, the variant every caller but a school admin runs (restricted pupils left out)."""
    runtime = runtime_url_for(owner, settings)
    connection = await asyncpg.connect(_dsn(runtime))
    try:
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.school_ids', $1, true)", str(school))
            statement: Any = _class_stmt(
                scoped_pupils=False, closed_groups=False, hide_restricted=hide_restricted
            )
            if compiled_view:
                shape = ClassJsonShape(
                    (("name", "name"),), (("pupil", ("pupil", (("id", "id"),))), ("l", "levels"))
                )
                statement = _class_json_stmt(
                    shape,
                    global_id_sql,
                    scoped_pupils=False,
                    closed_groups=False,
                    hide_restricted=hide_restricted,
                )
            if compiled_view:
                # As the request runs it: compiled for asyncpg once (common.prepared), its literals fixed.
                made = statement.compiled_for(PGDialect_asyncpg())  # type: ignore[no-untyped-call]
                sql, names, fixed = made.sql, list(made.names), made.fixed
            else:
                compiled = statement.compile(compile_kwargs={"render_postcompile": True})
                (sql, names), fixed = _numbered(str(compiled)), dict(compiled.params)
            ladder = curriculum.starter_ladders()[0]
            values = {
                "school_id": school,
                "group_id": group,
                "ladder_id": curriculum.ladder_id(ladder.code),
                "rung_ids": [curriculum.rung_id(rung.code) for rung in ladder.rungs],
            }
            row = await connection.fetchval(
                f"EXPLAIN (FORMAT JSON) {sql}", *({**fixed, **values}[n] for n in names)
            )
    finally:
        await connection.close()
    return list(_nodes(json.loads(row)[0]["Plan"]))


def _numbered(sql: str) -> tuple[str, list[str]]:
    """``:name`` parameters (the default compiler's) as asyncpg's ``$n``, with the names in order."""
    import re

    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"(?<!:):(\w+)", number, sql), names


def _access(nodes: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, str]]:
    """relation -> (node type, index, index condition) of each scan in the plan. The compiled class view
    reads the judgements of each row of its ``class_rows`` CTE: its ``class_rows_<n>.id`` is the general
    statement's ``pupils.id``, and is written so."""
    import re

    return {
        node["Relation Name"]: (
            node["Node Type"],
            node.get("Index Name"),
            re.sub(r"\bclass_rows(_\d+)?\.id\b", "pupils.id", node.get("Index Cond", "")),
        )
        for node in nodes
        if "Relation Name" in node
    }


async def test_class_view_plans_are_one_schools_at_10_and_1000_schools(
    plans_database: URL, settings: Settings
) -> None:
    serials = _serials()
    first = await _add_schools(plans_database, 10, serials)
    for schools in (10, 1000):
        if schools == 1000:
            await _add_schools(plans_database, 990, serials)
        school, group = first[3]
        access = _access(await _class_view_plan(plans_database, settings, school, group))
        assert set(access) == {"groups", "group_pupils", "pupils", "judgements"}, (schools, access)
        # The compiled class view (graph/school/learning/compiled.py) folds the same statement into JSON:
        # its tables are read the same way.
        compiled = _access(
            await _class_view_plan(plans_database, settings, school, group, compiled_view=True)
        )
        assert compiled == access, (schools, compiled, access)
        # A teacher's class view leaves restricted pupils out (LL-S2 (xiii)): the same access paths, and
        # the restrictions read beside them, in both forms.
        hiding = _access(
            await _class_view_plan(plans_database, settings, school, group, hide_restricted=True)
        )
        assert set(hiding) == set(access) | {"processing_restrictions"}, (schools, hiding)
        assert {k: v for k, v in hiding.items() if k != "processing_restrictions"} == access, (
            schools,
            hiding,
        )
        compiled_hiding = _access(
            await _class_view_plan(
                plans_database, settings, school, group, compiled_view=True, hide_restricted=True
            )
        )
        assert compiled_hiding == hiding, (schools, compiled_hiding, hiding)
        # The latest-judgement read: an index-only range scan of one pupil's judgements on the ladder,
        # whatever the number of schools (the rows a class view reads, not a thousand per pupil).
        kind, index, condition = access["judgements"]
        assert index == "ix_judgements_school_id_ladder_id_pupil_id_latest", (schools, access)
        assert kind == "Index Only Scan", (schools, access)
        assert "pupil_id = pupils.id" in condition and "ladder_id" in condition, (schools, condition)
        if schools == 1000:
            # With a thousand schools' rows around it, each table through the index whose equality
            # prefix is exactly what the statement knows. (At 10 schools the tables are a few pages, and
            # reading them whole is as good a plan as any.)
            assert access["groups"][:2] == ("Index Scan", "pk_groups"), access
            assert access["group_pupils"][1] == "pk_group_pupils", access
            assert access["pupils"][:2] == ("Index Scan", "pk_pupils"), access
            assert "pupil_id" in access["pupils"][2] or "group_pupils.pupil_id" in access["pupils"][2], access

"""On Citus (``make test-citus``, ADR 0019): what migration 0016 made of the schema, and that a school's
request is routed to one shard group.

* The catalog: every tenant table (one with a ``school_id``, found in the catalog, so the tables of every
  migration are covered) is distributed by ``school_id`` in one colocation group, every other table but
  Alembic's is a reference table, and every shard of a tenant table has row-level security enabled and
  forced with the tenant policy.
* Routing: the hot statements, EXPLAINed as the runtime role bound to one school through the product's
  own binding, run as a single task (one shard), because the scoping helper filters ``school_id = $1``
  as well as row-level security; the same read relying on row-level security alone fans out to every
  shard (which is why the helper keeps the explicit filter).

Every test here is skipped on plain PostgreSQL, where migration 0016 does nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from learning import curriculum
from learning.queries import _class_stmt
from models import Pupil
from partners.oneroster import users
from partners.oneroster.params import parse_query
from tenants.context import bind, enter_school
from tenants.scoping import scoped
from tests.factories.schools import SchoolFactory

pytestmark = pytest.mark.citus_only


async def _tables(owner_engine: AsyncEngine) -> dict[str, bool]:
    """Every table of the public schema that no extension owns -> whether it has a ``school_id``."""
    async with owner_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    """
                    SELECT c.relname, EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
                                              AND a.attname = 'school_id' AND NOT a.attisdropped)
                    FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
                      AND NOT EXISTS (SELECT FROM pg_dist_shard s
                                      WHERE c.relname = s.logicalrelid::regclass::text || '_' || s.shardid)
                    """
                )
            )
        ).all()
    return {name: tenant for name, tenant in rows}


async def test_every_tenant_table_distributed_by_school_and_every_global_table_a_reference_table(
    owner_engine: AsyncEngine,
) -> None:
    tables = await _tables(owner_engine)
    async with owner_engine.connect() as connection:
        citus = {
            row[0]: row[1:]
            for row in (
                await connection.execute(
                    text(
                        "SELECT table_name::text, citus_table_type, distribution_column, colocation_id "
                        "FROM citus_tables"
                    )
                )
            ).all()
        }
    tenant = sorted(name for name, has_school in tables.items() if has_school)
    global_ = sorted(
        name for name, has_school in tables.items() if not has_school and name != "alembic_version"
    )
    assert len(tenant) > 40 and "pupils" in tenant and "audit_log" in tenant
    assert {"schools", "trusts"} <= set(global_)
    not_distributed = [t for t in tenant if citus.get(t, (None, None))[:2] != ("distributed", "school_id")]
    assert not_distributed == []
    assert len({citus[t][2] for t in tenant}) == 1, "every tenant table in one colocation group"
    assert [t for t in global_ if citus.get(t, (None,))[0] != "reference"] == []
    assert "alembic_version" not in citus


async def test_row_level_security_forced_with_the_tenant_policy_on_every_shard(
    owner_engine: AsyncEngine,
) -> None:
    tenant = sorted(name for name, has_school in (await _tables(owner_engine)).items() if has_school)
    async with owner_engine.connect() as connection:
        for table in tenant:
            results = (
                await connection.execute(
                    text(
                        "SELECT shardid, success, result FROM run_command_on_shards(:t, $cmd$"
                        "SELECT c.relrowsecurity AND c.relforcerowsecurity "
                        "AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid "
                        "AND p.polname = 'tenant_isolation') FROM pg_class c WHERE c.oid = '%s'::regclass"
                        "$cmd$)"
                    ),
                    {"t": table},
                )
            ).all()
            assert results, table
            assert [
                (table, r.shardid, r.result) for r in results if not (r.success and r.result == "t")
            ] == []


def _named(statement: Any) -> str:
    """A Core statement as SQL text with ``:name`` parameters (for ``text()``)."""
    return str(statement.compile(compile_kwargs={"render_postcompile": True}))


async def _task_count(engine: AsyncEngine, school: uuid.UUID, sql: str, params: dict[str, Any]) -> int:
    """EXPLAIN ``sql`` as the runtime role, the transaction bound to ``school`` by the product's binding;
    the number of tasks (shards) Citus plans for it."""
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school])
        plan = "\n".join(row[0] for row in (await session.execute(text(f"EXPLAIN {sql}"), params)).all())
    counts = [int(n) for n in re.findall(r"Task Count: (\d+)", plan)]
    assert counts, plan
    return max(counts)


async def test_a_schools_hot_statements_run_on_one_shard(engine: AsyncEngine, factory: SchoolFactory) -> None:
    school = await factory.school()
    group = next(iter(school.groups.values())).id
    class_view = _named(_class_stmt(scoped_pupils=False, closed_groups=False))
    params = {
        "school_id": school.id,
        "group_id": group,
        "ladder_id": curriculum.ladder_id(curriculum.starter_ladders()[0].code),
    }
    assert await _task_count(engine, school.id, class_view, params) == 1
    pupils = scoped(Pupil, school.id).order_by(Pupil.surname)
    assert await _task_count(engine, school.id, _named(pupils), {"school_id_1": school.id}) == 1


async def test_a_oneroster_person_page_runs_on_one_shard(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """Issue 14 (ADR 17, 19): every shape of the OneRoster person page statement (the full sync from the
    start, from a remembered position, at an offset with its total, under a filter and sort) names the
    school on every table it reads and joins them on it, so Citus routes it whole to the school's shard
    group; before, it was refused ("complex joins are only supported when all distributed tables are
    co-located") and the request answered 500."""
    school = await factory.school()
    params = {"school_id": school.id, "base": "https://provider/schools/x/ims/oneroster/v1p1", "after": "p"}
    shapes = [
        users.keyed_statement(role, after, offset, count).params(limit=10, through=20, offset=10)
        for role in (None, users.STUDENT, users.TEACHER)
        for after, offset, count in ((False, False, True), (True, False, False), (False, True, True))
    ]
    query = parse_query(
        {"filter": "familyName~'a' OR role='parent'", "sort": "givenName", "offset": "3"},
        filterable=users.FILTERABLE,
        selectable=(),
    )
    shapes += users.general_statements(None, query)
    for shape in shapes:
        state = shape.params(**params).compile(dialect=engine.dialect).construct_expanded_state()
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, [school.id])
            connection = await session.connection()
            args = tuple(state.parameters[name] for name in state.positiontup or ())
            plan = "\n".join(
                r[0] for r in await connection.exec_driver_sql("EXPLAIN " + state.statement, args)
            )
        assert [int(n) for n in re.findall(r"Task Count: (\d+)", plan)] == [1], plan


async def test_row_level_security_alone_fans_out_to_every_shard(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """Why the helper's explicit filter matters on Citus: the policy's ``school_id = ANY (<setting>)`` is
    not a value the planner can route by, so a read without it asks every shard (and still sees one
    school's rows only)."""
    school = await factory.school()
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        shards = int(
            (
                await session.execute(
                    text("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'pupils'::regclass")
                )
            ).scalar_one()
        )
        seen = set((await session.execute(select(Pupil.school_id))).scalars().all())
    assert seen == {school.id}
    assert shards > 1
    assert await _task_count(engine, school.id, "SELECT id FROM pupils", {}) == shards


async def test_the_binding_reaches_the_workers(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """The request path's binding (enter_school) makes the school's rows visible through the coordinator:
    with set_config alone the workers would see no school, and every distributed read would be empty."""
    school = await factory.school()
    async with AsyncSession(engine) as session, session.begin():
        tenant = await enter_school(session, school.slug)
        assert tenant is not None and tenant.id == school.id
        names = set((await session.execute(scoped(Pupil, school.id).with_only_columns(Pupil.id))).scalars())
    assert names == {p.id for p in school.pupils.values()}

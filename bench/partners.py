"""The OneRoster provider paging through a school's users against a raw SQL export of the same rows, in one run.

``make bench-partners`` (``python -m bench bench.partners``). In a scratch database on the server of
``DATABASE_URL`` (or the embedded PostgreSQL), migrated afresh and dropped at the end, it imports a
synthetic OneRoster package (:func:`bench.roster.generate`) of about ``BENCH_PARTNERS_USERS`` users
(default 10,000: pupils, one member of staff per 10 pupils, one parent per 5), registers a partner,
approves it with roster.read and gets a token from ``/oauth/token``. Then, over the app in process (ASGI,
the whole request path: tenant, token and approval check, rate limit, audit, JSON):

1. **OneRoster**: ``GET .../users?limit=L`` following ``Link: rel="next"`` until the last page, for each
   page size L in ``BENCH_PARTNERS_LIMITS`` (default 100 and 1000), timed end to end;
2. **raw SQL**: ``COPY (SELECT ...) TO STDOUT`` of the same users' sourcedId, names, username, email and
   role (the runtime role, bound to the school), timed around the COPY.

3. **raw SQL, the page's JSON**: ``COPY (SELECT ...) TO STDOUT`` of every user object the provider
   serves, field for field (:data:`RAW_OBJECTS`: one hand-written statement, hash joins over the
   school's rows, one object a line, unordered), after the run checked to be byte for byte the objects
   the pages served (a mismatch fails the bench): what a hand-written export of the same data costs.

4. **the floor of a stored rendering** (only with ``BENCH_PARTNERS_FLOOR=1``; ADR 17, "Speed", fourth
   round): the JSON export's objects (byte-checked above) put in a table of their own, ``(school_id,
   sourcedId, person, pupil, version, object text)`` with row-level security like a tenant table, and
   ``users`` paged again through the same request path with the keyed page read from it (an index range
   of ready text, restriction of processing and the roster stamp still read): what a provider serving
   stored renderings would cost at best, with none of the work that keeps them fresh; and a variant that
   also checks each row of the page against its person's row (active, same change version). Three
   passes of each variant and page size, alternated with three of the provider (whose seconds are
   printed too); the table shows each variant's fastest. The goal line is judged on the provider's own rows (the first pass) only. Then the request
   path's own cost: ``users?limit=1`` from the stored table, 30 times (median and fastest), and ten of
   it (a 10,000-user pass at limit=1000) against the export.

All count the same rows; the ratio OneRoster/raw (rows per second) is the figure to watch (goal: at
least 0.5); the ratio against the JSON export (column "vs JSON export") says how much of the gap is the
data the page carries (every field, the agents' references, the org) rather than the provider. The partner's rate limit is raised for the run (it would otherwise be what is measured). Each
side's rows are counted in the bytes received, neither is parsed: the export's lines, the page's user
objects (each opens with ``{"sourcedId":``; an agent or org reference opens with ``{"href":``). Until
2026-12-03 the bench decoded each page with the standard library's ``json`` (about 20-25 ms for a page
of 1,000 users on the shared machine, orjson hardly less: as long as a third of the request), a
consumer's cost the export's side did not pay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bench.roster import URN, _create_database, _import, _school, generate

console = Console(width=120)
SLUG = "bench-partners"

RAW_USERS = """
  SELECT coalesce(s.source_id, s.id::text), s.forename, s.surname, coalesce(a.username, ''),
         coalesce(s.work_email, ''), CASE WHEN s.teaching THEN 'teacher' ELSE 'administrator' END
    FROM staff s LEFT JOIN accounts a ON a.school_id = s.school_id AND a.staff_id = s.id
   WHERE s.school_id = '{school}' AND s.active
  UNION ALL
  SELECT coalesce(p.source_id, p.id::text), p.forename, p.surname, coalesce(a.username, ''),
         coalesce(p.email, ''), 'student'
    FROM pupils p LEFT JOIN accounts a ON a.school_id = p.school_id AND a.pupil_id = p.id
   WHERE p.school_id = '{school}' AND p.active
  UNION ALL
  SELECT coalesce(c.source_id, c.id::text), c.forename, c.surname, coalesce(a.username, ''),
         coalesce(c.email, ''), 'parent'
    FROM contacts c LEFT JOIN accounts a ON a.school_id = c.school_id AND a.contact_id = c.id
   WHERE c.school_id = '{school}' AND c.active
"""
"""The same users the provider serves, as plain SQL: what a hand-written export would run (wrapped in
``COPY (...) TO STDOUT`` by asyncpg)."""


RAW_OBJECTS = """
  WITH org AS (
    SELECT concat('],"orgs":[{{"href":', to_json('{base}/orgs/' || o.id), ',"sourcedId":', to_json(o.id),
                  ',"type":"org"}}],"grades":[]}}') AS tail
      FROM (SELECT coalesce((SELECT org_sourced_id FROM roster_sources WHERE school_id = '{school}'),
                            'schoolgraph-{school}') AS id) o
  ), restricted AS (
    SELECT subject_id FROM processing_restrictions
     WHERE school_id = '{school}' AND kind = 'RESTRICTION' AND lifted_at IS NULL
  )
  SELECT concat('{{"sourcedId":', to_json(coalesce(s.source_id, s.id::text)), ',"status":"active","dateLastModified":',
         to_json(to_char(coalesce(s.updated_at, s.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
         ',"username":', to_json(coalesce(a.username, '')), ',"userIds":[],"enabledUser":"true","givenName":',
         to_json(s.forename), ',"familyName":', to_json(s.surname), ',"middleName":"","role":',
         to_json(CASE WHEN s.staff_role IN ('teacher', 'aide', 'administrator', 'proctor') THEN s.staff_role
                      WHEN s.staff_role IN ('principal', 'siteAdministrator', 'districtAdministrator',
                                            'systemAdministrator', 'counselor') THEN 'administrator'
                      WHEN s.teaching THEN 'teacher' ELSE 'administrator' END),
         ',"identifier":"","email":', to_json(coalesce(s.work_email, '')), ',"sms":"","phone":"","agents":[',
         (SELECT tail FROM org))
    FROM staff s LEFT JOIN accounts a ON a.school_id = s.school_id AND a.staff_id = s.id
   WHERE s.school_id = '{school}' AND s.active AND s.id NOT IN (SELECT subject_id FROM restricted)
  UNION ALL
  SELECT concat('{{"sourcedId":', to_json(coalesce(p.source_id, p.id::text)), ',"status":"active","dateLastModified":',
         to_json(to_char(coalesce(p.updated_at, p.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
         ',"username":', to_json(coalesce(a.username, '')), ',"userIds":[',
         concat_ws(',', CASE WHEN p.upn <> '' THEN concat('{{"type":"UPN","identifier":', to_json(p.upn), '}}') END,
                        CASE WHEN p.uln <> '' THEN concat('{{"type":"ULN","identifier":', to_json(p.uln), '}}') END),
         '],"enabledUser":"true","givenName":', to_json(p.forename), ',"familyName":', to_json(p.surname),
         ',"middleName":"","role":"student","identifier":"","email":', to_json(coalesce(p.email, '')),
         ',"sms":"","phone":"","agents":[', coalesce(g.refs, ''), (SELECT tail FROM org))
    FROM pupils p LEFT JOIN accounts a ON a.school_id = p.school_id AND a.pupil_id = p.id
    LEFT JOIN (
      SELECT l.pupil_id, string_agg(concat('{{"href":', to_json('{base}/users/' || coalesce(c.source_id, c.id::text)),
               ',"sourcedId":', to_json(coalesce(c.source_id, c.id::text)), ',"type":"user"}}'), ','
               ORDER BY coalesce(c.source_id, c.id::text)) AS refs
        FROM pupil_contacts l JOIN contacts c ON c.school_id = l.school_id AND c.id = l.contact_id AND c.active
       WHERE l.school_id = '{school}' GROUP BY l.pupil_id
    ) g ON g.pupil_id = p.id
   WHERE p.school_id = '{school}' AND p.active AND p.id NOT IN (SELECT subject_id FROM restricted)
  UNION ALL
  SELECT concat('{{"sourcedId":', to_json(coalesce(c.source_id, c.id::text)), ',"status":"active","dateLastModified":',
         to_json(to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
         ',"username":', to_json(coalesce(a.username, '')), ',"userIds":[],"enabledUser":"true","givenName":',
         to_json(c.forename), ',"familyName":', to_json(c.surname), ',"middleName":"","role":',
         to_json(CASE coalesce(g.relation, 'PARENT') WHEN 'PARENT' THEN 'parent' WHEN 'GUARDIAN' THEN 'guardian'
                      WHEN 'RELATIVE' THEN 'relative' ELSE 'guardian' END),
         ',"identifier":"","email":', to_json(coalesce(c.email, '')), ',"sms":"","phone":',
         to_json(coalesce(c.phone, '')), ',"agents":[', coalesce(g.refs, ''), (SELECT tail FROM org))
    FROM contacts c LEFT JOIN accounts a ON a.school_id = c.school_id AND a.contact_id = c.id
    LEFT JOIN (
      SELECT l.contact_id, min(l.relationship) AS relation,
             string_agg(concat('{{"href":', to_json('{base}/users/' || coalesce(p.source_id, p.id::text)),
               ',"sourcedId":', to_json(coalesce(p.source_id, p.id::text)), ',"type":"user"}}'), ','
               ORDER BY coalesce(p.source_id, p.id::text)) FILTER (WHERE p.active) AS refs
        FROM pupil_contacts l JOIN pupils p ON p.school_id = l.school_id AND p.id = l.pupil_id
       WHERE l.school_id = '{school}' GROUP BY l.contact_id
    ) g ON g.contact_id = c.id
   WHERE c.school_id = '{school}' AND c.active AND c.id NOT IN (SELECT subject_id FROM restricted)
"""
"""The page's data as plain SQL: every user object the provider serves, field for field and byte for byte
(checked against the pages after the run), one per line, unordered, as a hand-written export of the same
JSON would build it in one statement (set-wise: hash joins over the school's rows). The second reference
(the goal is judged against :data:`RAW_USERS`)."""


USER = b'{"sourcedId":'
"""How each user object of a page opens (its first key; the references in it open with ``{"href":``)."""


def _env_ints(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = os.environ.get(name)
    return tuple(int(v) for v in raw.split(",")) if raw else default


async def run(
    runtime_url: URL, package: Path, limits: tuple[int, ...], owner_url: URL | None = None
) -> dict[str, Any]:
    from auth.tokens import SigningKeys
    from common.clock import SystemClock
    from common.settings import Settings
    from server.app import create_app
    from server.collector import settle
    from server.database import create_engine
    from server.demo import seed_partner
    from server.runtime import build_runtime

    settings = dataclasses.replace(Settings(), partner_rate_limit=1_000_000, argon2_time_cost=1)
    engine = create_engine(runtime_url, settings, pool_size=2)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            school = await _school(session, SLUG, URN)
        imported = await _import(engine, school, package)
        if imported["report"].outcome != "COMMITTED":
            raise SystemExit(f"the import was {imported['report'].outcome}")
        runtime = build_runtime(settings, engine, SigningKeys.generate(), clock=SystemClock())
        partner = await seed_partner(
            engine,
            runtime.auth.hasher,
            runtime.clock.now(),
            overlap=settings.partner_secret_overlap,
            school=SLUG,
        )
        transport = httpx.ASGITransport(app=create_app(runtime))
        settle()  # the app is built: collected and frozen as `schoolgraph serve` does (server.collector)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            token = (
                await client.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "school": SLUG},
                    auth=(partner.client_id, partner.client_secret),
                )
            ).json()["access_token"]
            client.headers["authorization"] = f"Bearer {token}"
            pages = {limit: await _page_through(client, limit) for limit in limits}
            raw = await _raw(engine, school)
            base = f"http://bench/schools/{SLUG}/ims/oneroster/v1p1"
            objects = await _raw(engine, school, RAW_OBJECTS, base=base)
            floor: dict[str, dict[str, Any]] = {}
            fixed: list[float] = []
            if owner_url is not None:
                await _store_objects(owner_url, settings, school, base)
                floor = await _floor_pages(client, limits)
                fixed = await _fixed_cost(client)
    finally:
        await engine.dispose()
    return {"pages": pages, "raw": raw, "objects": objects, "floor": floor} | (
        {"fixed": fixed} if floor else {}
    )


STORED = "bench_stored_users"
"""The floor's table (:func:`_store_objects`): one row per user the provider serves, its object as text."""


STORE = """
  INSERT INTO {table}
  SELECT '{school}'::uuid, o.sid, coalesce(p.id, s.id, c.id), p.id,
         coalesce(p.changed_version, s.changed_version, c.changed_version), o.object
    FROM (SELECT x.object, x.object::json->>'sourcedId' AS sid FROM ({objects}) x(object)) o
    LEFT JOIN pupils p ON p.school_id = '{school}' AND coalesce(p.source_id, p.id::text) = o.sid
    LEFT JOIN staff s ON s.school_id = '{school}' AND coalesce(s.source_id, s.id::text) = o.sid
    LEFT JOIN contacts c ON c.school_id = '{school}' AND coalesce(c.source_id, c.id::text) = o.sid
"""
"""The floor's table filled with :data:`RAW_OBJECTS`' objects, each with its person (and pupil) and the
person's change version when it was stored."""


async def _store_objects(owner_url: URL, settings: Any, school: uuid.UUID, base: str) -> None:
    """As the owner: :data:`STORED` filled with :data:`RAW_OBJECTS` (the objects the pages served, byte for
    byte), keyed by ``(school_id, sourcedId)`` in the byte order the provider pages in, each with its
    person's id (a pupil's, for the pupil access report's event); row-level security enabled and forced
    with the tenant policy the pupils table has, granted to the runtime role, analysed."""
    from sqlalchemy import text

    from server.database import create_engine

    engine = create_engine(owner_url, settings, pool_size=1)
    sql = RAW_OBJECTS.format(school=school, base=base)
    try:
        async with engine.begin() as c:
            await c.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school)})
            await c.execute(text("SET LOCAL statement_timeout = 0"))  # the owner's, on a loaded machine
            policy = (
                await c.execute(
                    text(
                        "SELECT qual FROM pg_policies WHERE tablename = 'pupils' AND policyname = 'tenant_isolation'"
                    )
                )
            ).scalar_one()
            await c.execute(
                text(
                    f'CREATE TABLE {STORED} (school_id uuid NOT NULL, sid text COLLATE "C" NOT NULL, '
                    "person_id uuid NOT NULL, pupil_id uuid, version bigint NOT NULL, object text NOT NULL, "
                    "PRIMARY KEY (school_id, sid))"
                )
            )
            await c.execute(text(STORE.format(table=STORED, school=school, objects=sql)))
            await c.execute(text(f"ALTER TABLE {STORED} ENABLE ROW LEVEL SECURITY"))
            await c.execute(text(f"ALTER TABLE {STORED} FORCE ROW LEVEL SECURITY"))
            await c.execute(
                text(f"CREATE POLICY tenant_isolation ON {STORED} USING ({policy}) WITH CHECK ({policy})")
            )
            await c.execute(text(f'GRANT SELECT ON {STORED} TO "{settings.app_role}"'))
            await c.execute(text(f"ANALYZE {STORED}"))
    finally:
        await engine.dispose()


@functools.lru_cache(maxsize=64)
def _stored_page(after: bool, offset: int, limit: int, count: bool, checked: bool) -> Any:
    """The keyed page read from :data:`STORED`: an index range of ready text from a position (or at an
    offset), the persons under a current restriction left out, with the roster stamp the provider's page
    carries (so remembered positions behave as the provider's). With ``checked`` each of the page's rows
    is then joined to its person's row (by primary key) and served only while the person is active and at
    the version it was stored at: the read-time check a stored rendering needs (the rendering of stale
    rows in their place is not measured: here none is stale). Compiled once per shape and size, its
    constants in its text, as the provider's keyed statement is (:class:`common.prepared.Prepared`)."""
    from sqlalchemy import column, func, select, table
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    from common.prepared import Prepared
    from models import Contact, Pupil, Staff
    from partners.oneroster import users
    from people.processing import visible_to_all
    from tenants.scoping import in_school

    stored = table(
        STORED,
        column("school_id"),
        column("sid"),
        column("person_id"),
        column("pupil_id"),
        column("version"),
        column("object"),
    )
    sid = stored.c.sid
    rows = select(sid, stored.c.pupil_id, stored.c.object).where(
        in_school(stored.c, users.SCHOOL), visible_to_all(stored.c, stored.c.person_id)
    )
    if after:
        rows = rows.where(sid > users.AFTER)
    if checked:
        rows = rows.add_columns(stored.c.person_id, stored.c.version)
    p = rows.order_by(sid).offset(0 if after else offset).limit(limit).subquery("p")
    if checked:  # the page's rows, each checked against its person's row by primary key (a probe a row)
        version = func.coalesce(
            *(
                select(model.changed_version)
                .where(in_school(model, users.SCHOOL), model.id == p.c.person_id, model.active)
                .correlate(p)
                .scalar_subquery()
                for model in (Pupil, Contact, Staff)
            )
        )
        p = select(p.c.sid, p.c.pupil_id, p.c.object).where(version == p.c.version).subquery("c")
    columns = [
        users.stamp_sql(users.SCHOOL).label("stamp"),
        func.string_agg(p.c.object, aggregate_order_by(users.COMMA, p.c.sid)).label("objects"),
        func.array_agg(p.c.pupil_id).filter(p.c.pupil_id.is_not(None)).label("pupils"),
        func.count().label("count"),
        func.max(p.c.sid).label("last"),
    ]
    if count:
        total = select(func.count()).select_from(stored).where(in_school(stored.c, users.SCHOOL))
        columns.append(total.scalar_subquery().label("total"))
    return Prepared(users._inline_constants(select(*columns).select_from(p)))


def _stored_reader(checked: bool) -> Any:
    """:func:`partners.oneroster.users.read_keyed` read from :data:`STORED` (``users`` only)."""

    async def read(
        session: Any,
        school_id: uuid.UUID,
        role: str | None,
        *,
        base: str,
        after: str | None,
        offset: int,
        limit: int,
        count: bool,
    ) -> Any:
        from partners.oneroster import users

        params: dict[str, Any] = {"school_id": school_id}
        if after is not None:
            params["after"] = after
        statement = _stored_page(after is not None, 0 if after is not None else offset, limit, count, checked)
        row = (await statement.execute(await session.connection(), params)).one()
        return users.UserPage(
            users._objects(row.objects),
            row.count,
            list(row.pupils or []),
            row.total if count else None,
            row.stamp,
            row.last,
        )

    return read


FLOORS = {"stored text": False, "stored text, versions checked": True}
"""The floor's variants: the label of each and whether its page checks each row's version."""


async def _floor_pages(client: httpx.AsyncClient, limits: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Each page size paged with the keyed page read from :data:`STORED` (each variant of :data:`FLOORS`)
    and by the provider, alternated, three rounds (the provider restored after each): each variant's
    fastest pass, with every pass's seconds (``passes``) and the provider's in the same rounds."""
    from partners.oneroster import users

    served = users.read_keyed
    found: dict[str, dict[str, Any]] = {}
    for limit in limits:
        passes: dict[str, list[dict[str, Any]]] = {label: [] for label in FLOORS}
        provider: list[float] = []
        for _ in range(3):
            for label, checked in FLOORS.items():
                users.read_keyed = _stored_reader(checked)
                try:
                    passes[label].append(await _page_through(client, limit))
                finally:
                    users.read_keyed = served
            provider.append((await _page_through(client, limit))["seconds"])
        for label, made in passes.items():
            best = min(made, key=lambda f: f["seconds"])
            found[f"{label}, limit={limit}"] = best | {
                "passes": [f["seconds"] for f in made],
                "provider": provider,
            }
    return found


async def _fixed_cost(client: httpx.AsyncClient, times: int = 30) -> list[float]:
    """The request path's own cost: ``users?limit=1`` (a first page of one user, with its count) read from
    :data:`STORED`, ``times`` times after a warm-up; the seconds of each, sorted."""
    from partners.oneroster import users

    served = users.read_keyed
    users.read_keyed = _stored_reader(False)
    url = f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit=1"
    seconds: list[float] = []
    try:
        for n in range(times + 5):
            started = time.perf_counter()
            (await client.get(url)).raise_for_status()
            if n >= 5:
                seconds.append(time.perf_counter() - started)
    finally:
        users.read_keyed = served
    return sorted(seconds)


async def _page_through(client: httpx.AsyncClient, limit: int) -> dict[str, Any]:
    url: str | None = f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit={limit}"
    rows = requests = 0
    bodies: list[bytes] = []
    started = time.perf_counter()
    while url:
        response = await client.get(url)
        response.raise_for_status()
        rows += response.content.count(USER)
        bodies.append(response.content)
        requests += 1
        nexts = [p for p in response.headers.get("link", "").split(", ") if 'rel="next"' in p]
        url = nexts[0].split(";")[0].strip("<>") if nexts else None
    seconds = time.perf_counter() - started
    objects = sorted(orjson.dumps(o) for body in bodies for o in orjson.loads(body)["users"])
    return {"rows": rows, "requests": requests, "seconds": seconds, "objects": objects}


async def _raw(engine: Any, school: uuid.UUID, sql: str = RAW_USERS, base: str = "") -> dict[str, Any]:
    """``COPY (sql) TO STDOUT`` as the runtime role bound to the school, timed around the COPY: CSV for
    :data:`RAW_USERS`, text (one JSON object a line) for :data:`RAW_OBJECTS`."""
    from tenants.context import bind

    text = sql.format(school=school, base=base)
    async with engine.connect() as connection:
        await connection.begin()
        await bind(AsyncSession(bind=connection), [school])
        raw = await connection.get_raw_connection()
        out = io.BytesIO()
        started = time.perf_counter()
        await raw.driver_connection.copy_from_query(
            text, output=out, format="csv" if sql is RAW_USERS else "text"
        )
        seconds = time.perf_counter() - started
        await connection.rollback()
    lines = out.getvalue().splitlines()
    # COPY's text format doubles a backslash (the only escape a JSON text's line can need)
    objects = sorted(line.replace(b"\\\\", b"\\") for line in lines) if sql is RAW_OBJECTS else []
    return {"rows": len(lines), "seconds": seconds, "objects": objects}


def main() -> int:
    from common.settings import load_settings
    from server.database import resolve_urls
    from server.migrate import upgrade

    users = int(os.environ.get("BENCH_PARTNERS_USERS", "10000"))
    limits = _env_ints("BENCH_PARTNERS_LIMITS", (100, 1000))
    pupils = max(1, round(users / 1.3))  # + a member of staff per 10 pupils + a parent per 5
    settings = load_settings()
    urls = resolve_urls(settings)
    name = f"schoolgraph_bench_partners_{os.getpid()}"
    owner = urls.owner.set(database=name)
    runtime = urls.runtime.set(database=name)
    with tempfile.TemporaryDirectory(prefix="bench-partners-") as folder:
        package = Path(folder) / "school-oneroster.zip"
        generate(package, pupils, 10, 5)
        asyncio.run(_create_database(urls.owner, name))
        try:
            upgrade(owner, settings)
            floor = os.environ.get("BENCH_PARTNERS_FLOOR") == "1"
            result = asyncio.run(run(runtime, package, limits, owner if floor else None))
        finally:
            asyncio.run(_create_database(urls.owner, name, drop_only=True))
    return _print(result)


def _print(result: dict[str, Any]) -> int:
    raw, same = result["raw"], result["objects"]
    raw_rate = raw["rows"] / raw["seconds"]
    same_rate = same["rows"] / same["seconds"]
    table = Table(
        title="bench.partners: OneRoster users, paged over HTTP, vs a raw SQL export (same rows, same run)"
    )
    for column in ("", "rows", "requests", "seconds", "rows/s", "ratio", "vs JSON export"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "raw SQL (COPY ... TO STDOUT)",
        f"{raw['rows']:,}",
        "1",
        f"{raw['seconds']:.3f}",
        f"{raw_rate:,.0f}",
        "1.00",
        "",
    )
    table.add_row(
        "raw SQL, the page's JSON (COPY)",
        f"{same['rows']:,}",
        "1",
        f"{same['seconds']:.3f}",
        f"{same_rate:,.0f}",
        f"{same_rate / raw_rate:.2f}x",
        "1.00",
    )
    status = 0

    def add_row(label: str, page: dict[str, Any]) -> None:
        rate = page["rows"] / page["seconds"]
        table.add_row(
            label,
            f"{page['rows']:,}",
            f"{page['requests']:,}",
            f"{page['seconds']:.3f}",
            f"{rate:,.0f}",
            f"{rate / raw_rate:.2f}x",
            f"{rate / same_rate:.2f}x",
        )

    for limit, page in result["pages"].items():
        add_row(f"OneRoster users?limit={limit}", page)
        if page["rows"] != raw["rows"]:
            console.print(
                f"[red]limit {limit}: {page['rows']:,} users served, {raw['rows']:,} exported[/red]"
            )
            status = 1
        if page["objects"] != same["objects"]:
            differ = sum(a != b for a, b in zip(page["objects"], same["objects"], strict=False))
            console.print(
                f"[red]limit {limit}: the served objects are not the JSON export's "
                f"({len(page['objects']):,} and {len(same['objects']):,}, {differ:,} differ)[/red]"
            )
            status = 1
    for label, page in result["floor"].items():
        add_row(f"floor: {label} (best of 3)", page)
        if page["objects"] != same["objects"] or page["rows"] != raw["rows"]:
            console.print(f"[red]floor, {label}: the stored objects served are not the JSON export's[/red]")
            status = 1
    console.print(table)
    for label, page in result["floor"].items():
        console.print(
            f"{label}, alternated passes (s): floor "
            + " / ".join(f"{s:.3f}" for s in page["passes"])
            + "; provider "
            + " / ".join(f"{s:.3f}" for s in page["provider"])
        )
    if result.get("fixed"):
        fixed = result["fixed"]
        console.print(
            f"the request path alone (users?limit=1 from stored text, {len(fixed)} requests): median "
            f"{fixed[len(fixed) // 2] * 1000:.1f} ms, fastest {fixed[0] * 1000:.1f} ms; ten of them are "
            f"{10 * fixed[len(fixed) // 2] / raw['seconds']:.1f}x the raw export"
        )
    best_rate = max(p["rows"] / p["seconds"] for p in result["pages"].values())
    best = best_rate / raw_rate
    colour = "green" if best >= 0.5 else "yellow"
    console.print(f"[bold {colour}]best ratio OneRoster/raw = {best:.2f}x[/bold {colour}] (goal >= 0.5x)")
    console.print(
        f"best ratio OneRoster/JSON export = {best_rate / same_rate:.2f}x (the same objects, byte for byte)"
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())

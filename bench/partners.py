"""The OneRoster provider paging through a school's users against a raw SQL export of the same rows, in one run.

``make bench-partners`` (``python -m bench bench.partners``). In a scratch database on the server of
``DATABASE_URL`` (or the embedded PostgreSQL), migrated afresh and dropped at the end, it imports a
synthetic OneRoster package (:func:`bench.roster.generate`) of about ``BENCH_PARTNERS_USERS`` users
(default 10,000: pupils, one member of staff per 10 pupils, one parent per 5), registers a partner,
approves it with roster.read. Then it serves the app as ``schoolgraph serve`` does, in a child process
(uvicorn, :func:`bench.learning.servers.serve_app`), gets a token from its ``/oauth/token``, and pages over
real HTTP (the whole request path: tenant, token and approval check, rate limit, audit, JSON) with the
light client of :mod:`bench.loadgen` (prebuilt requests, keep-alive, one at a time; its own CPU printed):

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
   ``users`` paged again through the same request path, from a server of its own whose keyed page is read
   from it (an index range
   of ready text, restriction of processing and the roster stamp still read): what a provider serving
   stored renderings would cost at best, with none of the work that keeps them fresh; and a variant that
   also checks each row of the page against its person's row (active, same change version). Three
   passes of each variant and page size, alternated with three of the provider (whose seconds are
   printed too); the table shows each variant's fastest. The goal line is judged on the provider's own rows (the first pass) only. Then the request
   path's own cost: ``users?limit=1`` from the stored table, 30 times (median and fastest), and ten of
   it (a 10,000-user pass at limit=1000) against the export.

With ``BENCH_INSTRUCTIONS=1`` it counts instead of timing: the provider runs under callgrind, and the
instructions it executes per request of the first page of ``users`` at sizes 1 and 100 are printed
(:func:`_instructions`), a figure that does not drift with the machine's load as seconds do (ADR 13,
eighth pass).

All count the same rows; the ratio OneRoster/raw (rows per second) is the figure to watch (goal: at
least 0.5); the ratio against the JSON export (column "vs JSON export") says how much of the gap is the
data the page carries (every field, the agents' references, the org) rather than the provider. The partner's rate limit is raised for the run (it would otherwise be what is measured). Each
side's rows are counted in the bytes received, neither is parsed: the export's lines, the page's user
objects (each opens with ``{"sourcedId":``; an agent or org reference opens with ``{"href":``). Until
2026-12-03 the bench decoded each page with the standard library's ``json`` (about 20-25 ms for a page
of 1,000 users on the shared machine, orjson hardly less: as long as a third of the request), a
consumer's cost the export's side did not pay. Until 2026-12-04 it paged through the app in its own
process with httpx's ASGI transport, whose client work (a few milliseconds a request: issue 18) ran on
the server's event loop and was counted as the provider's.
"""

from __future__ import annotations

import asyncio
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
import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bench.learning import instructions
from bench.learning.servers import free_port, serve_app, stop, wait_for
from bench.loadgen import read_message, request_bytes
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
    owner_url: URL, runtime_url: URL, package: Path, limits: tuple[int, ...], floor: bool
) -> dict[str, Any]:
    """Import the package into the bench database (``runtime_url``'s) and register and approve the partner;
    then serve the app in child processes (the provider; with ``floor`` also one per variant of
    :data:`FLOORS`), page through them over HTTP and export the users both ways (:func:`_served`)."""
    from auth.passwords import PasswordHasher
    from auth.tokens import SigningKeys
    from common.clock import SystemClock
    from common.settings import Settings
    from server.database import create_engine
    from server.demo import seed_partner

    settings = Settings()
    engine = create_engine(runtime_url, settings, pool_size=2)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            school = await _school(session, SLUG, URN)
        imported = await _import(engine, school, package)
        if imported["report"].outcome != "COMMITTED":
            raise SystemExit(f"the import was {imported['report'].outcome}")
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=8, parallelism=1)
        partner = await seed_partner(
            engine, hasher, SystemClock().now(), overlap=settings.partner_secret_overlap, school=SLUG
        )
        keys = SigningKeys.generate()
        with tempfile.TemporaryDirectory(prefix="bench-partners-serve-") as data_dir:
            return await _served(
                owner_url, runtime_url, engine, school, partner, keys, data_dir, limits, floor
            )
    finally:
        await engine.dispose()


async def _served(
    owner_url: URL,
    runtime_url: URL,
    engine: Any,
    school: uuid.UUID,
    partner: Any,
    keys: Any,
    data_dir: str,
    limits: tuple[int, ...],
    floor: bool,
) -> dict[str, Any]:
    """The servers started; the provider's pages read over HTTP, then the two exports (after the pages, so
    that the rows they read have been read once already, as the pages' had been by the import), then,
    with ``floor``, the floor's table filled and its pages read."""
    from common.settings import Settings

    env = {
        **os.environ,
        "BENCH_DATABASE_URL": owner_url.set(database=None).render_as_string(hide_password=False),
        "BENCH_DATABASE_NAME": runtime_url.database or "",
        "SCHOOLGRAPH_SIGNING_KEYS": keys.to_json(),
        "SCHOOLGRAPH_DATA_DIR": data_dir,
        # The partner's rate limit raised for the run (it would otherwise be what is measured).
        "SCHOOLGRAPH_PARTNER_RATE_LIMIT": "1000000",
        "SCHOOLGRAPH_LOG_FORMAT": "json",
    }
    counting = os.environ.get("BENCH_INSTRUCTIONS") == "1"
    variants = ["provider", *(FLOORS if floor and not counting else ())]
    ports = {variant: free_port() for variant in variants}
    out = Path(data_dir) / "callgrind"
    wrapper = (
        ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.out", f"--log-file={out}.log")
        if counting
        else ()
    )
    processes = {variant: _start(variant, ports[variant], env, wrapper) for variant in variants}
    try:
        for variant, process in processes.items():
            await wait_for(f"http://127.0.0.1:{ports[variant]}/healthz", process, seconds=600)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['provider']}") as client:
            answer = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "school": SLUG},
                auth=(partner.client_id, partner.client_secret),
            )
            answer.raise_for_status()
        token = answer.json()["access_token"]
        if counting:
            return {
                "instructions": await _instructions(ports["provider"], processes["provider"].pid, token, out)
            }
        pages = {limit: await _passes(ports["provider"], token, limit) for limit in limits}
        raw = await _raw(engine, school)
        objects = await _raw(engine, school, RAW_OBJECTS, base=BASE)
        if not floor:
            return {"pages": pages, "raw": raw, "objects": objects, "floor": {}}
        await _store_objects(owner_url, Settings(), school, BASE)
        found = await _floor_pages(ports, token, limits)
        stored = next(iter(FLOORS))
        fixed = await _fixed_cost(ports[stored], psutil.Process(processes[stored].pid), token)
        return {"pages": pages, "raw": raw, "objects": objects, "floor": found, "fixed": fixed}
    finally:
        stop(processes.values(), seconds=60)


INSTRUCTION_LIMITS = (1, 100)
"""The pages counted with ``BENCH_INSTRUCTIONS=1``: the request path nearly alone, and the default page."""


async def _instructions(port: int, pid: int, token: str, out: Path) -> dict[int, float]:
    """``BENCH_INSTRUCTIONS=1``: the provider run under callgrind (:mod:`bench.learning.instructions`' method:
    ``BENCH_INSTRUCTION_REQUESTS``, 300, of each page to warm up, the counters zeroed, the same again
    counted, the audit sequencer's work waited for): instructions per request of the first page of
    ``users`` at each size of :data:`INSTRUCTION_LIMITS` (with its count, as a consumer's first request)."""
    requests = int(os.environ.get("BENCH_INSTRUCTION_REQUESTS") or 300)
    counted: dict[int, float] = {}
    for limit in INSTRUCTION_LIMITS:
        sequence = [_get(token, f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit={limit}")] * requests
        await instructions.send_all(port, sequence)
        await asyncio.sleep(instructions.SEQUENCER_WAIT)
        await instructions.control("-z", pid)
        await instructions.send_all(port, sequence)
        await asyncio.sleep(instructions.SEQUENCER_WAIT)
        await instructions.control("-d", pid)
        counted[limit] = instructions.last_dump(out.parent, out.name) / requests
    return counted


HOST = "bench"
"""The ``Host`` every request names: the objects' references are built from it, as from a real
consumer's, and the JSON export builds them from :data:`BASE`."""
BASE = f"http://{HOST}/schools/{SLUG}/ims/oneroster/v1p1"


def _start(variant: str, port: int, env: dict[str, str], wrapper: tuple[str, ...] = ()) -> Any:
    """The app in a child process (:func:`serve`; run by ``wrapper``, a command that takes the server's as
    its last arguments, when given), its request log written as in production but not shown."""
    import subprocess
    import sys

    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*wrapper, sys.executable, "-m", "bench.partners", "serve", str(port), variant],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )


def serve(port: int, variant: str) -> None:
    """The app as ``schoolgraph serve`` builds it (:func:`bench.learning.servers.serve_app`, on the bench
    database its environment names); for a floor variant, with the keyed page read from :data:`STORED`."""
    if variant != "provider":
        from partners.oneroster import users

        users.read_keyed = _stored_reader(FLOORS[variant])
    serve_app(port)


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


async def _floor_pages(
    ports: dict[str, int], token: str, limits: tuple[int, ...]
) -> dict[str, dict[str, Any]]:
    """Each page size paged from each variant of :data:`FLOORS`'s server and the provider's, alternated,
    three rounds: each variant's fastest pass, with every pass's seconds (``passes``) and the provider's in
    the same rounds."""
    found: dict[str, dict[str, Any]] = {}
    for limit in limits:
        passes: dict[str, list[dict[str, Any]]] = {label: [] for label in FLOORS}
        provider: list[float] = []
        for _ in range(3):
            for label in FLOORS:
                passes[label].append(await _page_through(ports[label], token, limit))
            provider.append((await _page_through(ports["provider"], token, limit))["seconds"])
        for label, made in passes.items():
            best = min(made, key=lambda f: f["seconds"])
            found[f"{label}, limit={limit}"] = best | {
                "passes": [f["seconds"] for f in made],
                "provider": provider,
            }
    return found


def _get(token: str, url: str) -> bytes:
    """``GET url`` as one prebuilt HTTP/1.1 request (keep-alive, no compression asked), with the token."""
    return request_bytes("GET", url, host=HOST, headers={"Authorization": f"Bearer {token}"})


async def _fixed_cost(port: int, server: psutil.Process, token: str, times: int = 30) -> dict[str, Any]:
    """The request path's own cost: ``users?limit=1`` (a first page of one user, with its count) read from
    :data:`STORED`, ``times`` times after a warm-up, on one connection: the seconds of each, sorted
    (``seconds``), and the server's CPU per request in milliseconds (``server_cpu_ms``)."""
    request = _get(token, f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit=1")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seconds: list[float] = []
    cpu = 0.0
    try:
        for n in range(times + 5):
            if n == 5:
                cpu = sum(server.cpu_times()[:2])
            started = time.perf_counter()
            writer.write(request)
            status, _, body = await read_message(reader)
            if status != 200:
                raise SystemExit(f"users?limit=1: HTTP {status}: {body[:300]!r}")
            if n >= 5:
                seconds.append(time.perf_counter() - started)
        cpu = sum(server.cpu_times()[:2]) - cpu
    finally:
        writer.close()
    return {"seconds": sorted(seconds), "server_cpu_ms": cpu / times * 1000}


PASSES = 3
"""Timed passes at each page size, after one that is not timed."""


async def _passes(port: int, token: str, limit: int) -> dict[str, Any]:
    """One untimed pass (the server compiles the page's statement for this page size once, and each
    pooled connection plans it once: a server's first sync, not its steady state), then :data:`PASSES`
    timed ones: the median pass, with every timed pass's seconds (``passes``)."""
    await _page_through(port, token, limit)
    made = sorted(
        [await _page_through(port, token, limit) for _ in range(PASSES)], key=lambda f: f["seconds"]
    )
    return made[len(made) // 2] | {"passes": [f["seconds"] for f in made]}


async def _page_through(port: int, token: str, limit: int) -> dict[str, Any]:
    """``users?limit=limit`` and every page after it (``Link: rel="next"``), one request at a time on one
    keep-alive connection, timed from the first request's write to the last page's last byte; with the
    generator's own CPU (``client_cpu``, seconds) and every user object served (``objects``, for the
    comparison after the run, not timed)."""
    url: str | None = f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit={limit}"
    rows = requests = 0
    bodies: list[bytes] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        while url:
            writer.write(_get(token, url))
            status, headers, body = await read_message(reader)
            if status != 200:
                raise SystemExit(f"{url}: HTTP {status}: {body[:300]!r}")
            rows += body.count(USER)
            bodies.append(body)
            requests += 1
            nexts = [p for p in headers.get(b"link", b"").decode().split(", ") if 'rel="next"' in p]
            url = nexts[0].split(";")[0].strip("<>").removeprefix(f"http://{HOST}") if nexts else None
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - cpu
    finally:
        writer.close()
    objects = sorted(orjson.dumps(o) for body in bodies for o in orjson.loads(body)["users"])
    return {
        "rows": rows,
        "requests": requests,
        "seconds": seconds,
        "client_cpu": client_cpu,
        "objects": objects,
    }


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
    if os.environ.get("BENCH_INSTRUCTIONS") == "1" and instructions.available() is not None:
        console.print(f"bench.partners: no instruction counts: {instructions.available()}")
        return 1
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
            result = asyncio.run(run(owner, runtime, package, limits, floor))
        finally:
            asyncio.run(_create_database(urls.owner, name, drop_only=True))
    if "instructions" in result:
        console.print(
            f"bench.partners: {users:,} users, instructions per request of the provider (callgrind)"
        )
        for limit, count in result["instructions"].items():
            console.print(
                f"  users?limit={limit} (the first page, with its count): {count / 1e6:.3f} million"
            )
        return 0
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
        add_row(f"OneRoster users?limit={limit} (median of {len(page['passes'])})", page)
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
    console.print(
        "OneRoster passes (s): "
        + "; ".join(
            f"limit={limit} " + " / ".join(f"{s:.3f}" for s in page["passes"])
            for limit, page in result["pages"].items()
        )
    )
    console.print(
        "the client's own CPU per request (it pages one request at a time): "
        + ", ".join(
            f"limit={limit} {page['client_cpu'] / page['requests'] * 1000:.2f} ms"
            for limit, page in result["pages"].items()
        )
    )
    if result.get("fixed"):
        fixed, server_cpu = result["fixed"]["seconds"], result["fixed"]["server_cpu_ms"]
        console.print(
            f"the request path alone (users?limit=1 from stored text, {len(fixed)} requests): median "
            f"{fixed[len(fixed) // 2] * 1000:.1f} ms, fastest {fixed[0] * 1000:.1f} ms; ten of them are "
            f"{10 * fixed[len(fixed) // 2] / raw['seconds']:.1f}x the raw export; the server's CPU "
            f"{server_cpu:.2f} ms a request"
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
    import sys

    if sys.argv[1:2] == ["serve"]:  # a server of the run (:func:`_start`)
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(main())

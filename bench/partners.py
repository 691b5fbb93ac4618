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

Both count the same rows; the ratio OneRoster/raw (rows per second) is the figure to watch (goal: at
least 0.5). The partner's rate limit is raised for the run (it would otherwise be what is measured). Each
side's rows are counted in the bytes received, neither is parsed: the export's lines, the page's user
objects (each opens with ``{"sourcedId":``; an agent or org reference opens with ``{"href":``). Until
2026-12-03 the bench decoded each page with the standard library's ``json`` (about 20-25 ms for a page
of 1,000 users on the shared machine, orjson hardly less: as long as a third of the request), a
consumer's cost the export's side did not pay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bench.roster import URN, _create_database, _import, _school, generate

console = Console()
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


USER = b'{"sourcedId":'
"""How each user object of a page opens (its first key; the references in it open with ``{"href":``)."""


def _env_ints(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = os.environ.get(name)
    return tuple(int(v) for v in raw.split(",")) if raw else default


async def run(runtime_url: URL, package: Path, limits: tuple[int, ...]) -> dict[str, Any]:
    from auth.tokens import SigningKeys
    from common.clock import SystemClock
    from common.settings import Settings
    from server.app import create_app
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
    finally:
        await engine.dispose()
    return {"pages": pages, "raw": raw}


async def _page_through(client: httpx.AsyncClient, limit: int) -> dict[str, Any]:
    url: str | None = f"/schools/{SLUG}/ims/oneroster/v1p1/users?limit={limit}"
    rows = requests = 0
    started = time.perf_counter()
    while url:
        response = await client.get(url)
        response.raise_for_status()
        rows += response.content.count(USER)
        requests += 1
        nexts = [p for p in response.headers.get("link", "").split(", ") if 'rel="next"' in p]
        url = nexts[0].split(";")[0].strip("<>") if nexts else None
    return {"rows": rows, "requests": requests, "seconds": time.perf_counter() - started}


async def _raw(engine: Any, school: uuid.UUID) -> dict[str, Any]:
    from tenants.context import bind

    async with engine.connect() as connection:
        await connection.begin()
        await bind(AsyncSession(bind=connection), [school])
        raw = await connection.get_raw_connection()
        out = io.BytesIO()
        started = time.perf_counter()
        await raw.driver_connection.copy_from_query(RAW_USERS.format(school=school), output=out, format="csv")
        seconds = time.perf_counter() - started
        await connection.rollback()
    rows = out.getvalue().count(b"\n")
    return {"rows": rows, "seconds": seconds}


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
            result = asyncio.run(run(runtime, package, limits))
        finally:
            asyncio.run(_create_database(urls.owner, name, drop_only=True))
    return _print(result)


def _print(result: dict[str, Any]) -> int:
    raw = result["raw"]
    raw_rate = raw["rows"] / raw["seconds"]
    table = Table(
        title="bench.partners: OneRoster users, paged over HTTP, vs a raw SQL export (same rows, same run)"
    )
    for column in ("", "rows", "requests", "seconds", "rows/s", "ratio"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "raw SQL (COPY ... TO STDOUT)",
        f"{raw['rows']:,}",
        "1",
        f"{raw['seconds']:.3f}",
        f"{raw_rate:,.0f}",
        "1.00",
    )
    status = 0
    for limit, page in result["pages"].items():
        rate = page["rows"] / page["seconds"]
        table.add_row(
            f"OneRoster users?limit={limit}",
            f"{page['rows']:,}",
            f"{page['requests']:,}",
            f"{page['seconds']:.3f}",
            f"{rate:,.0f}",
            f"{rate / raw_rate:.2f}x",
        )
        if page["rows"] != raw["rows"]:
            console.print(
                f"[red]limit {limit}: {page['rows']:,} users served, {raw['rows']:,} exported[/red]"
            )
            status = 1
    console.print(table)
    best = max(p["rows"] / p["seconds"] for p in result["pages"].values()) / raw_rate
    colour = "green" if best >= 0.5 else "yellow"
    console.print(f"[bold {colour}]best ratio OneRoster/raw = {best:.2f}x[/bold {colour}] (goal >= 0.5x)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

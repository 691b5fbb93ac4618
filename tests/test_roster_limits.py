"""Roster packages read with limits: a zip bomb, a zip that lies about its sizes, a row without end and a
zip of too many entries are refused with a clear problem, in bounded CPU time and memory.

Bounds are on the process's own counters (CPU time, peak resident memory), generous against what reading
the bomb whole would cost (gigabytes), never on the wall clock of a shared machine.
"""

from __future__ import annotations

import io
import resource
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories.people import new_school
from tests.factories.roster import oneroster, problems, run_import, set_org, upload, zip_bomb, zip_bytes
from tests.factories.schools import SchoolFactory, gql, login

CPU_SECONDS = 10.0
PEAK_GROWTH_MB = 200


@contextmanager
def bounded() -> Iterator[None]:
    """Assert the block used under :data:`CPU_SECONDS` of CPU and grew the peak RSS by under
    :data:`PEAK_GROWTH_MB` (ru_maxrss is in KiB on Linux)."""
    cpu, peak = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    assert time.process_time() - cpu < CPU_SECONDS
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024 < PEAK_GROWTH_MB


async def _school(engine: AsyncEngine, factory: SchoolFactory) -> Any:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    return school


async def test_a_zip_bomb_is_refused_before_it_is_read(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """A 4 MB zip whose users.csv expands to 2 GiB is refused from its declared sizes alone."""
    school = await _school(engine, factory)
    bomb = zip_bomb("users.csv", b"sourcedId\r\n", b"x" * 1024 * 1024, 2048)
    with bounded():
        report = await run_import(engine, school.id, bomb)
    assert report.outcome == "REFUSED"
    assert problems(report) == [(None, None, None, "FILE_TOO_COMPRESSED")]


async def test_a_zip_that_lies_about_its_size_is_read_no_further(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """A manifest.csv declared as 3 MB that holds 2 GiB is read to its declared size and no further, where
    its CRC fails: a damaged file, and nothing imported."""
    school = await _school(engine, factory)
    bomb = zip_bomb("manifest.csv", b"propertyName,value\r\n", b"\r\n" * 512 * 1024, 2048, declared=3_000_000)
    with bounded():
        report = await run_import(engine, school.id, bomb)
    assert report.outcome == "REFUSED"
    assert ("manifest.csv", None, None, "DAMAGED_FILE") in problems(report)


async def test_a_row_without_end_stops_the_file(
    engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """A users.csv whose second row is 50 MB long (an unclosed quote, or no line breaks) is an error on that
    row, read no further than the limit, in a folder package (no compression to bound it)."""
    school = await _school(engine, factory)
    folder = tmp_path / "package"
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(oneroster())) as archive:
        archive.extractall(folder)
    users = (folder / "users.csv").read_bytes()
    with (folder / "users.csv").open("ab") as out:
        out.write(b'"')
        for _ in range(50):
            out.write(b"x" * 1024 * 1024)
    assert users.count(b"\n") == 1
    with bounded():
        report = await run_import(engine, school.id, folder)
    assert report.outcome == "REFUSED"
    assert problems(report) == [("users.csv", 2, None, "RECORD_TOO_LONG")]


async def test_a_zip_of_too_many_entries_is_refused(engine: AsyncEngine, factory: SchoolFactory) -> None:
    """A zip of 10,001 entries is refused without reading any of them."""
    school = await _school(engine, factory)
    package = zip_bytes({f"f{i}.txt": "" for i in range(10_001)})
    with bounded():
        report = await run_import(engine, school.id, package)
    assert problems(report) == [(None, None, None, "TOO_MANY_FILES")]


async def test_a_zip_bomb_uploaded_by_a_school_admin_is_refused_and_the_server_answers(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """The hostile upload over HTTP: a 4 MB zip that expands to 2 GiB, sent to importRoster (dry run) by a
    school admin, is refused with its problem in bounded CPU and memory, nothing is imported, and a small
    query is answered straight after."""
    school = await _school(engine, factory)
    admin = await login(client, school.slug, "admin")
    bomb = zip_bomb("users.csv", b"sourcedId\r\n", b"x" * 1024 * 1024, 2048)
    with bounded():
        body = await upload(client, school.slug, admin, bomb, dry_run=True)
    payload = body["data"]["importRoster"]
    assert payload["rosterImport"]["outcome"] == "REFUSED"
    assert [p["code"] for p in payload["problems"]] == ["FILE_TOO_COMPRESSED"]
    assert [e["code"] for e in payload["errors"]] == ["ROSTER_REFUSED"]
    after = await gql(client, school.slug, "{ viewer { username } }", token=admin)
    assert after == {"data": {"viewer": {"username": "admin"}}}

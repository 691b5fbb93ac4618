"""Helpers for roster tests: packages built in memory, imports in their own transaction, table fingerprints."""

from __future__ import annotations

import csv
import io
import json
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import REPO_ROOT
from roster import service
from roster.export import export_oneroster
from roster.oneroster import SPECS_11, SPECS_12
from roster.schoolgraph_csv import SPECS
from server.cli.common import command_trail
from tenants.context import bind
from tests.factories import clock
from tests.factories.schools import gql

PACKAGES = (REPO_ROOT.parent / "shared" / "data" / "oneroster").resolve()
"""Third-party OneRoster packages beside the repo: an extra conformance set, used only when present."""
CLI = service.Importer(name="test")
NEW_PASSWORD = "a long enough pass phrase for the roster"
"""The password imported accounts choose when they activate."""

ATTEMPT_ONLY = {"roster_imports", "audit_log"}
"""What a dry run or a refused import writes: its history entry and its audit entries (pending: the
sequencer, not the request, moves the head), no roster data."""


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def user(
    sid: str,
    role: str,
    given: str,
    family: str,
    *,
    username: str | None = None,
    email: str | None = None,
    org: str = "org-1",
    agents: str = "",
    user_ids: str = "",
    identifier: str = "",
    status: str = "",
) -> dict[str, str]:
    return {
        "sourcedId": sid,
        "status": status,
        "enabledUser": "true",
        "orgSourcedIds": org,
        "role": role,
        "username": username if username is not None else f"user.{sid}",
        "userIds": user_ids,
        "givenName": given,
        "familyName": family,
        "identifier": identifier,
        "email": email or "",
        "agentSourcedIds": agents,
    }


def oneroster(
    *,
    users: Sequence[dict[str, str]] = (),
    classes: Sequence[dict[str, str]] = (),
    enrollments: Sequence[dict[str, str]] = (),
    sessions: Sequence[dict[str, str]] = (),
    demographics: Sequence[dict[str, str]] = (),
    orgs: Sequence[dict[str, str]] = ({"sourcedId": "org-1", "name": "Test School", "type": "school"},),
    mode: str = "bulk",
    absent: Sequence[str] = (),
    version: str = "1.1",
) -> bytes:
    """A OneRoster package: each row a dict of the columns it fills; every file present unless ``absent``."""
    specs = SPECS_12 if version == "1.2" else SPECS_11
    content = {
        "orgs.csv": orgs,
        "users.csv": users,
        "classes.csv": classes,
        "enrollments.csv": enrollments,
        "academicSessions.csv": sessions,
        "demographics.csv": demographics,
    }
    files = {}
    manifest = [("manifest.version", "1.0"), ("oneroster.version", version)]
    for name, rows in content.items():
        if name in absent or (name == "demographics.csv" and not rows):
            manifest.append((f"file.{name[:-4]}", "absent"))
            continue
        manifest.append((f"file.{name[:-4]}", mode))
        files[name] = csv_text(specs[name], ([row.get(c, "") for c in specs[name]] for row in rows))
    files["manifest.csv"] = csv_text(("propertyName", "value"), manifest)
    return zip_bytes(files)


def klass(
    sid: str, title: str, *, kind: str = "scheduled", org: str = "org-1", terms: str = ""
) -> dict[str, str]:
    return {
        "sourcedId": sid,
        "title": title,
        "classType": kind,
        "schoolSourcedId": org,
        "termSourcedIds": terms,
    }


def enrol(
    sid: str, klass_id: str, user_id: str, role: str = "student", *, org: str = "org-1", status: str = ""
) -> dict[str, str]:
    return {
        "sourcedId": sid,
        "status": status,
        "classSourcedId": klass_id,
        "schoolSourcedId": org,
        "userSourcedId": user_id,
        "role": role,
    }


def rename_column(package: bytes, file: str, column: str, written: str) -> bytes:
    """``package`` with ``file``'s header naming ``column`` as ``written`` (a misspelled header)."""
    source = zipfile.ZipFile(io.BytesIO(package))
    files = {name: source.read(name).decode() for name in source.namelist()}
    header, rest = files[file].split("\r\n", 1)
    files[file] = ",".join(written if c == column else c for c in header.split(",")) + "\r\n" + rest
    return zip_bytes(files)


def with_file(package: bytes, name: str, content: str | None, *, mode: str = "bulk") -> bytes:
    """``package`` with file ``name`` replaced or added (declared ``mode`` in the manifest), or removed and
    declared absent when ``content`` is None."""
    source = zipfile.ZipFile(io.BytesIO(package))
    files = {n: source.read(n).decode() for n in source.namelist()}
    key = f"file.{name[:-4]}"
    manifest = [line.split(",", 1) for line in files["manifest.csv"].split("\r\n")[1:] if line]
    manifest = [[k, v] for k, v in manifest if k != key]
    manifest.append([key, "absent" if content is None else mode])
    files["manifest.csv"] = csv_text(("propertyName", "value"), manifest)
    files.pop(name, None)
    if content is not None:
        files[name] = content
    return zip_bytes(files)


def zip_bomb(name: str, head: bytes, repeat: bytes, times: int, *, declared: int | None = None) -> bytes:
    """A zip of one member: ``head`` then ``repeat`` ``times`` times, deflated without ever being held whole
    (full flushes make each repeat's compressed bytes the same, so they are written once and repeated).
    ``declared``: the uncompressed size the central directory claims (a lie when given). The CRC is the
    content's only for members under 64 MiB, which may be read; a larger one is refused unread."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    chunk = deflate.compress(repeat) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = first + chunk * times + deflate.flush(zlib.Z_FINISH)
    size = len(head) + len(repeat) * times
    crc = zlib.crc32(head)
    if size < 64 * 1024**2:
        for _ in range(times):
            crc = zlib.crc32(repeat, crc)
    encoded = name.encode()
    fields = (20, 0, 8, 0, 0, crc, len(data), size if declared is None else declared, len(encoded), 0)
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields) + encoded
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0) + encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def own_layout(files: dict[str, Sequence[dict[str, Any]]], *, urn: str = "", slug: str = "") -> bytes:
    """schoolgraph's own CSV layout: school.csv plus the given files, every column of each."""
    out = {"school.csv": csv_text(("urn", "slug", "name"), [(urn, slug, "Test")])}
    for name, rows in files.items():
        columns = SPECS[name].columns
        out[name] = csv_text(columns, ([row.get(c, "") for c in columns] for row in rows))
    return zip_bytes(out)


async def set_org(engine: AsyncEngine, school_id: uuid.UUID, org: str) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        await service.set_org(session, school_id, org, by=None, now=clock.now())


async def set_urn(owner_engine: AsyncEngine, school_id: uuid.UUID, urn: str) -> None:
    async with owner_engine.begin() as connection:
        await connection.execute(
            text("UPDATE schools SET urn = :u WHERE id = :i"), {"u": urn, "i": school_id}
        )


async def run_import(
    engine: AsyncEngine,
    school_id: uuid.UUID,
    package: bytes | Path,
    *,
    mode: str = "auto",
    dry_run: bool = False,
    by: service.Importer = CLI,
    tmp: Path | None = None,
) -> service.ImportReport:
    """Import in a transaction of its own (committed), as the command line does: with its audit trail."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school_id])
        trail = command_trail(session, school_id)
        ref = await service.school_ref(session, school_id)
        options = service.ImportOptions(mode=mode, dry_run=dry_run)
        if isinstance(package, Path):
            report = await service.import_path(session, ref, package, by=by, options=options, now=clock.now())
        else:
            report = await service.import_stream(
                session, ref, io.BytesIO(package), "package.zip", by=by, options=options, now=clock.now()
            )
        await trail.write(session, now=clock.now())
        return report


async def export(engine: AsyncEngine, school_id: uuid.UUID) -> bytes:
    out = io.BytesIO()
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        trail = command_trail(session, school_id)
        await export_oneroster(session, await service.school_ref(session, school_id), out)
        await trail.write(session, now=clock.now())
    return out.getvalue()


VOCABULARY_11 = {
    ("users.csv", "role"): {"administrator", "aide", "guardian", "parent", "proctor", "relative", "student",
                            "teacher"},
    ("users.csv", "enabledUser"): {"true", "false"},
    ("demographics.csv", "sex"): {"", "male", "female"},
    ("enrollments.csv", "role"): {"administrator", "proctor", "student", "teacher"},
    ("classes.csv", "classType"): {"homeroom", "scheduled"},
    ("academicSessions.csv", "type"): {"gradingPeriod", "semester", "schoolYear", "term"},
    ("orgs.csv", "type"): {"department", "school", "district", "local", "state", "national"},
}  # fmt: skip
"""The OneRoster 1.1 CSV vocabulary, written out from the 1.1 tables (not from roster/, which it checks)."""


def oneroster_11_violations(archive: zipfile.ZipFile) -> list[str]:
    """What in a package breaks OneRoster 1.1: headers, row widths, required values, the vocabulary, and
    enrollments naming classes and users the package does not have. Empty when it conforms."""
    found: list[str] = []
    ids: dict[str, set[str]] = {}
    for file, columns in SPECS_11.items():
        if file not in archive.namelist():
            continue
        reader = csv.reader(io.StringIO(archive.read(file).decode("utf-8")))
        if tuple(next(reader)) != columns:
            found.append(f"{file}: the header is not the 1.1 header")
            continue
        ids[file] = set()
        for number, row in enumerate(reader, start=2):
            if len(row) != len(columns):
                found.append(f"{file} row {number}: {len(row)} fields")
                continue
            record = dict(zip(columns, row, strict=True))
            ids[file].add(record["sourcedId"])
            found += [
                f"{file} row {number}: {column} {record[column]!r}"
                for (name, column), allowed in VOCABULARY_11.items()
                if name == file and record[column] not in allowed
            ]
            if file == "enrollments.csv":
                found += [
                    f"{file} row {number}: {column} {record[column]!r} is not in {target}"
                    for column, target in (("classSourcedId", "classes.csv"), ("userSourcedId", "users.csv"))
                    if record[column] not in ids.get(target, set())
                ]
    return found


async def fingerprint(owner_engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    """Every table of the public schema: (row count, md5 of its rows in order). As the owner (superuser in
    tests), so row-level security does not hide anything."""
    result: dict[str, tuple[int, str]] = {}
    async with owner_engine.connect() as connection:
        tables = (
            await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            )
        ).scalars()
        for table in list(tables):
            row = (
                await connection.execute(
                    text(
                        f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \"{table}\" t"
                    )
                )
            ).one()
            result[table] = (int(row[0]), str(row[1]))
    return result


def problems(
    report: service.ImportReport, *codes: str
) -> list[tuple[str | None, int | None, str | None, str]]:
    """(file, row, column, code) of the report's problems, of the given codes (all when none given)."""
    return [(p.file, p.row, p.column, p.code) for p in report.problems if not codes or p.code in codes]


def counts(report: service.ImportReport) -> dict[str, dict[str, int]]:
    return {k: v.as_dict() for k, v in report.counts.items() if v.changes or v.unchanged}


async def upload(
    client: httpx.AsyncClient,
    slug: str,
    token: str | None,
    package: bytes,
    *,
    dry_run: bool = False,
    mode: str = "AUTO",
    strict: bool = False,
    selection: str = "rosterImport { id outcome changes counts { entity create update deactivate unchanged } } "
    "problems { severity code file row column message expected } errors { field code message }",
) -> dict[str, Any]:
    """importRoster through the GraphQL multipart request spec, as a browser would send it."""
    query = (
        "mutation($file: Upload!, $dry: Boolean!, $mode: ImportMode!, $strict: Boolean!) { importRoster(input: "
        f"{{file: $file, dryRun: $dry, mode: $mode, strict: $strict}}) {{ {selection} }} }}"
    )
    variables = {"file": None, "dry": dry_run, "mode": mode, "strict": strict}
    operations = {"query": query, "variables": variables}
    response = await client.post(
        f"/schools/{slug}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("roster.zip", package, "application/zip")},
        headers={"authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- activation of imported accounts, through the API --------------------------------------------------


async def imported_accounts(client: httpx.AsyncClient, slug: str, admin: str) -> dict[str, dict[str, Any]]:
    """Imported accounts (usernames with a dot) as the school admin lists them, by username."""
    body = await gql(
        client,
        slug,
        "{ staff(first: 100) { edges { node { account { id username status } } } } "
        "pupils(first: 100) { edges { node { account { id username status } contacts { account { id username status } } } } } }",
        token=admin,
    )
    assert "errors" not in body, body
    found: dict[str, dict[str, Any]] = {}
    for edge in body["data"]["staff"]["edges"] + body["data"]["pupils"]["edges"]:
        for account in [edge["node"]["account"], *(c["account"] for c in edge["node"].get("contacts") or [])]:
            if account and "." in account["username"]:
                found[account["username"]] = account
    return found


async def activation_codes(
    client: httpx.AsyncClient, slug: str, admin: str, ids: list[str]
) -> dict[str, str]:
    """One-time activation codes a school admin issues for these accounts, by username."""
    body = await gql(
        client,
        slug,
        "mutation($ids: [ID!]!) { issueActivationCodes(input: {accountIds: $ids}) { codes { account { username } "
        "code expiresAt } errors { field code } } }",
        {"ids": ids},
        token=admin,
    )
    payload = body["data"]["issueActivationCodes"]
    assert payload["errors"] == [], payload
    return {c["account"]["username"]: c["code"] for c in payload["codes"]}


async def activate(
    client: httpx.AsyncClient, slug: str, username: str, code: str, password: str = NEW_PASSWORD
) -> dict[str, Any]:
    """Activate an imported account with its code, as its owner does: the payload (token or errors)."""
    body = await gql(
        client,
        slug,
        "mutation($u: String!, $c: String!, $p: String!) { activateImportedAccount(input: {username: $u, "
        "activationCode: $c, password: $p}) { accessToken errors { field code } } }",
        {"u": username, "c": code, "p": password},
    )
    result: dict[str, Any] = body["data"]["activateImportedAccount"]
    return result

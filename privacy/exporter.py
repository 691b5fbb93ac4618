"""The subject access export (LL 5.1.1, LL 5.1.4, LRS 6.6, LRS 6.8): everything held about one person, driven
by the registry, as JSON plus a CSV per table, each file marked PROTECT in its first line, packed in an
AES-256 encrypted zip.

Every table a link of the registry reaches from the person (their record, their accounts, the audit entries
where they are actor or target) is read with every column but one-way credentials (password and code hashes,
named in the manifest as withheld), together with the files they submitted. :func:`collect` reads,
:func:`render` makes the files, :func:`encrypted_zip` packs them; the same packing serves the termination
handover (``subscriptions.termination``).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyzipper
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import metadata
from privacy.registry import REGISTRY, SCHOOL_SUBJECTS, Category, Subject, TableEntry
from privacy.subjects import Person
from storage.files import FileStore
from tenants.scoping import in_school

MARKING = "PROTECT"
"""The classification every exported file carries in its first line (LRS 6.6)."""
MARKING_LINE = f"{MARKING} - personal data; handle under the Learning Records Service user agreement"


CONTEXT: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "group_pupils": (("group_id", "groups", ("id", "name", "type", "year_group", "subject")),),
    "group_teachers": (("group_id", "groups", ("id", "name", "type", "year_group", "subject")),),
    "submissions": (("assignment_id", "assignments", ("id", "title", "kind", "instructions", "due_on")),),
}
"""What a person's rows point at that a reader needs to make sense of them (the groups they are in, the
assignments they answered): ``table: ((column, referenced table, its columns), ...)``, exported under
``context`` (operational rows of the school, not the person's own)."""


def tables_for(kind: Subject) -> list[TableEntry]:
    """The tables a person of ``kind`` is reached in: those with a link to them, their accounts or any id."""
    assert kind in SCHOOL_SUBJECTS
    wanted = (kind, Subject.ACCOUNT, Subject.PERSON)
    return [
        t for t in REGISTRY.values() if t.platform is None and any(link.subject in wanted for link in t.links)
    ]


def exported_columns(table: TableEntry) -> tuple[str, ...]:
    """Every column but one-way credentials."""
    return tuple(c for c, category in table.columns.items() if category is not Category.CREDENTIALS)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


@dataclass
class Collected:
    person: Person
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    """Submitted files: ``files/<file id>-<file name>``: their bytes."""
    context: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


async def collect(session: AsyncSession, person: Person, store: FileStore | None = None) -> Collected:
    """Every row held about the person (one SELECT per table reached), and their submitted files."""
    found = Collected(person)
    for entry in tables_for(person.kind):
        table = metadata.tables[entry.name]
        matches = [
            table.c[link.column].in_(list(ids))
            for link in entry.links
            if (ids := person.ids_for(link.subject))
        ]
        if not matches:
            continue
        columns = [table.c[c] for c in exported_columns(entry)]
        stmt = select(*columns).where(in_school(table.c, person.school_id), or_(*matches))
        rows = (await session.execute(stmt)).mappings().all()
        if rows:
            found.tables[entry.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    for name, references in CONTEXT.items():
        for column, referenced, wanted in references:
            referenced_ids = {uuid.UUID(row[column]) for row in found.tables.get(name, []) if row.get(column)}
            if not referenced_ids:
                continue
            target = metadata.tables[referenced]
            stmt = select(*(target.c[c] for c in wanted)).where(
                in_school(target.c, person.school_id), target.c.id.in_(list(referenced_ids))
            )
            rows = (await session.execute(stmt)).mappings().all()
            found.context.setdefault(referenced, []).extend(
                {k: _plain(v) for k, v in r.items()} for r in rows
            )
    if store is not None:
        file_ids = {
            row[entry.files]
            for entry in tables_for(person.kind)
            if entry.files
            for row in found.tables.get(entry.name, [])
            if row.get(entry.files)
        }
        if file_ids:
            stored = metadata.tables["stored_files"]
            stored_rows = await session.execute(
                select(stored.c.id, stored.c.storage_key, stored.c.file_name).where(
                    in_school(stored.c, person.school_id), stored.c.id.in_(list(file_ids))
                )
            )
            for row in stored_rows:
                found.files[f"files/{row.id}-{row.file_name}"] = await store.get(row.storage_key)
    return found


def _json(payload: Mapping[str, Any]) -> bytes:
    body = json.dumps(payload, indent=2, ensure_ascii=False)
    # The marking on the first line, and still one JSON document.
    return (f'{{"marking": "{MARKING}",' + body[1:] + "\n").encode()


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    out.write(MARKING_LINE + "\n")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()})
    return out.getvalue().encode()


def render(found: Collected, *, now: datetime, request_id: uuid.UUID) -> dict[str, bytes]:
    """The export's files: ``subject-access.json`` (everything), ``<table>.csv`` each, and the files."""
    person = found.person
    withheld = {entry.name: list(entry.withheld) for entry in tables_for(person.kind) if entry.withheld}
    payload = {
        "request": str(request_id),
        "generated_at": now.isoformat(),
        "subject": {"type": person.kind.value, "id": str(person.id), "name": person.name},
        "withheld": {"reason": "one-way hashes of credentials, which identify nothing", "columns": withheld},
        "tables": found.tables,
        "context": found.context,
        "files": sorted(found.files),
    }
    files = {"subject-access.json": _json(payload)}
    for name, rows in found.tables.items():
        files[f"{name}.csv"] = _csv(rows)
    files.update(found.files)
    return files


def plain_zip(files: Mapping[str, bytes]) -> bytes:
    """The files in an unencrypted zip (the staged export, which never leaves the server)."""
    buffer = io.BytesIO()
    with pyzipper.ZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with pyzipper.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def encrypted_zip(files: Mapping[str, bytes], password: str) -> bytes:
    """The files in a zip encrypted with AES-256 (WinZip AE-2, which 7-Zip and pyzipper read), marked
    PROTECT in its comment too (LRS 6.6, LRS 6.8)."""
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        archive.comment = MARKING_LINE.encode()
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()

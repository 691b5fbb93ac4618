"""The subject access export (LL 5.1.1, LL 5.1.4, LRS 6.6, LRS 6.8): everything held about one person, driven
by the registry, as JSON plus a CSV per table, each file marked PROTECT in its first line, packed in an
AES-256 encrypted zip.

Every table a link of the registry reaches from the person (their record, their accounts, the audit entries
where they are actor or target) is read with every column but one-way credentials (password and code hashes,
named in the manifest as withheld), together with the files they submitted. :func:`collect` reads,
:func:`render` makes the files, :func:`seal` packs them.

:func:`seal` is the one packing of every export that leaves the server (this one and the termination
export, ``subscriptions.termination``): the files go, when the export is built, into an AES-256 zip under a
fresh password, so no plain copy is ever kept. Nobody is there to be shown the password when a background
step builds the export, so it is kept *sealed* until release: encrypted (AES-GCM) under the server's export
key (:func:`export_key`, a file outside the database, ``SCHOOLGRAPH_EXPORT_KEY_FILE``), bound to the
archive's SHA-256, on the export's row. Releasing it (:func:`unseal`) shows the password once to the admin
who released it and clears the sealed copy: from then on it is stored nowhere (LRS 6.8). Reading an export
before its release takes the database row, the archive and the key file together. The key is rotated with
:class:`ExportKeys`: previous keys still unseal until :mod:`privacy.rotation` re-seals what they sealed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyzipper
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from common.settings import Settings
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


EXPORT_KEY_FILE = "export-key"
"""The export key's file under the data directory, unless ``SCHOOLGRAPH_EXPORT_KEY_FILE`` names another."""


def export_key_path(data_dir: Path, configured: Path | None = None) -> Path:
    """``configured``, or ``<data_dir>/export-key``."""
    return configured or data_dir / EXPORT_KEY_FILE


def export_key(data_dir: Path, configured: Path | None = None) -> bytes:
    """The server's export key (32 bytes) at :func:`export_key_path`, made (0600) on first use. Production
    names a file outside the data directory, so the archives and the key never sit together."""
    path = export_key_path(data_dir, configured)
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            key = path.read_bytes()
        else:
            key = secrets.token_bytes(32)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    if len(key) != 32:
        raise ValueError(f"{path}: an export key is 32 bytes, not {len(key)}")
    return key


def export_key_of(settings: Settings) -> bytes:
    """The current export key the server's settings name (:func:`export_key`): the one that seals."""
    return export_key(settings.data_dir, settings.export_key_file)


@dataclass(frozen=True)
class ExportKeys:
    """The keys that open a seal: the current one (it alone seals) and the previous ones, kept while a
    rotation is under way (``SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES``) until ``schoolgraph exports reseal``
    has re-sealed every pending export under the current key (:mod:`privacy.rotation`)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __iter__(self) -> Iterator[bytes]:
        yield self.current
        yield from self.previous


def previous_export_key(path: Path) -> bytes:
    """A previous export key: read, never made (``EXPORT_KEY_UNREADABLE`` if it is missing or not a key)."""
    try:
        key = path.read_bytes()
    except OSError:
        key = b""
    if len(key) != 32:
        raise DomainError.one(
            None,
            "EXPORT_KEY_UNREADABLE",
            "A previous export key (SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES) is missing or is not a 32-byte key: "
            "the platform operator must restore it or remove it from the setting.",
        )
    return key


def export_keys_of(settings: Settings) -> ExportKeys:
    """The current export key and the previous ones the settings name: what a release unseals with."""
    return ExportKeys(
        export_key_of(settings), tuple(previous_export_key(p) for p in settings.export_previous_key_files)
    )


@dataclass(frozen=True)
class Sealed:
    """An export packed for release: the encrypted archive and its password sealed under the export key."""

    archive: bytes
    sha256: str
    """The archive's SHA-256 (hex): recorded with it, and bound into the seal."""
    sealed_password: bytes


def seal_password(password: str, sha256: str, key: bytes) -> bytes:
    """``password`` encrypted (AES-GCM, a fresh nonce) under ``key``, bound to the archive's ``sha256``."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, password.encode(), sha256.encode())


def seal(files: Mapping[str, bytes], key: bytes) -> Sealed:
    """Pack ``files`` into an AES-256 zip (:func:`encrypted_zip`) under a fresh password, and seal that
    password under ``key`` (the current export key) for :func:`unseal` at release."""
    password = secrets.token_urlsafe(18)
    archive = encrypted_zip(files, password)
    sha256 = hashlib.sha256(archive).hexdigest()
    return Sealed(archive, sha256, seal_password(password, sha256, key))


def unseal(sealed_password: bytes, sha256: str, keys: ExportKeys) -> str:
    """The archive's password (the caller shows it once and clears ``sealed_password``), opened with the
    current key or a previous one; ``EXPORT_KEY_MISMATCH`` when none of them sealed it, or it was sealed for
    another archive."""
    nonce, body = sealed_password[:12], sealed_password[12:]
    for key in keys:
        try:
            return AESGCM(key).decrypt(nonce, body, sha256.encode()).decode()
        except InvalidTag:
            continue
    raise DomainError.one(
        None,
        "EXPORT_KEY_MISMATCH",
        "None of this server's export keys sealed this export (SCHOOLGRAPH_EXPORT_KEY_FILE must name the key "
        "the jobs runner used, or SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES keep it during a rotation): the "
        "platform operator must restore it.",
    )


def reseal(sealed_password: bytes, sha256: str, keys: ExportKeys) -> bytes:
    """The same password sealed anew under the current key (``EXPORT_KEY_MISMATCH`` as :func:`unseal`)."""
    return seal_password(unseal(sealed_password, sha256, keys), sha256, keys.current)

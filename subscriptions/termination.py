"""Terminating a school: access ends at once; its data is exported for return, then destroyed, with a record
(LL 5.1.3, LL-A 6.3.7, LL-A 9.3).

Two steps, on purpose in two places:

1. :func:`terminate` (an operator, on the platform endpoint, as the runtime role): the school is refused
   from now on (403 ``TERMINATED``), every session is revoked, open suspensions and novations are closed,
   its licence cover ends, and a PENDING destruction record names the day of destruction.
2. :func:`destroy` (``schoolgraph jobs run``, as the table owner): in ONE transaction, every tenant row of
   the school is written to a JSON export under the data directory, then really DELETEd from every table
   that has a ``school_id`` column (the catalog is the list, so tables added later are included), children
   before parents; the export and the school's files are then packed into an AES-256 zip marked PROTECT
   under a fresh password, sealed under the server's export key until its recipient releases it
   (``privacy.exporter.seal``, LRS 6.6, LRS 6.8): no plain copy stays on disk. The destruction record gets
   the row counts per table, the archive's path and SHA-256, the sealed password, and the time. The audit
   log refuses DELETE by trigger (append-only): the owner disables that trigger for its own transaction
   only, and enables it again before committing (docs/adr/0009-termination-and-destruction.md).

The web server never holds the owner's credentials, so it cannot destroy anything; the runner that can is
the one that has them. The ``schools`` row itself stays (TERMINATED), so the slug stays reserved and
answers 403, and the destruction record keeps a school to point at.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import anyio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from auth.service import revoke_sessions
from common.errors import DomainError, Problems
from common.events import emit_for_school
from learning.achievements import export_rows
from models import Account, School
from models.licensing import OPEN_NOVATION, DestructionRecord, Novation, Suspension
from models.platform import SuperUser
from models.privacy import TerminationPreference
from privacy.exporter import Sealed, seal
from subscriptions.licences import end_school_cover
from subscriptions.trusts import current_trust_ids
from tenants.context import bind, bound
from tenants.scoping import in_school, same_school

RETURN_WINDOW = timedelta(days=30)
"""How long a returned export stays downloadable after the destruction (LL 5.1.3; subscriptions/handover.py)."""
TERMINATION_REASONS = ("END_OF_LICENCE", "NON_PAYMENT", "AT_LICENSEE_REQUEST", "BREACH")
SECRET_COLUMNS = ("password_hash", "token_hash", "code_hash", "credential_hash")
"""Left out of the export: credentials are not User Data to return, and a copy of them is only a risk."""

_TENANT_TABLES = text(
    """
    SELECT c.oid, c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'school_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)
_FOREIGN_KEYS = text(
    "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid"
)
# User triggers that fire on DELETE (tgtype bit 3), like the audit log's append-only guard.
_DELETE_TRIGGERS = text(
    "SELECT tgrelid, tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' AND (tgtype & 8) <> 0"
)


async def terminate(
    session: AsyncSession,
    school_id: uuid.UUID,
    *,
    reason: str,
    confirm_slug: str,
    destroy_on: date,
    by: uuid.UUID | None,
    today: date,
    now: datetime,
) -> DestructionRecord:
    school = await session.get(School, school_id, with_for_update=True)
    if school is None:
        raise DomainError.one("schoolId", "NOT_FOUND", "No such school.")
    problems = Problems()
    if school.status == "TERMINATED":
        problems.add("schoolId", "SCHOOL_TERMINATED", f"{school.name} is terminated already.")
    if reason not in TERMINATION_REASONS:
        problems.add("reason", "INVALID_REASON", f"reason must be one of {', '.join(TERMINATION_REASONS)}.")
    if confirm_slug != school.slug:
        problems.add("confirmSlug", "CONFIRMATION_MISMATCH", "Type the school's slug to confirm.")
    if destroy_on < today:
        problems.add("destroyOn", "IN_THE_PAST", "Destruction cannot be scheduled in the past.")
    problems.raise_if_any()
    school.status, school.status_reason = "TERMINATED", reason
    async with bound(session, [school_id]):
        await revoke_sessions(session, school_id, reason="SCHOOL_TERMINATED", now=now)
    for suspension in (
        await session.execute(
            select(Suspension).where(Suspension.tenant_id == school_id, Suspension.lifted_at.is_(None))  # type: ignore[union-attr]
        )
    ).scalars():
        suspension.lifted_at, suspension.lift_reason = now, "TERMINATED"
    for novation in (
        await session.execute(
            select(Novation).where(Novation.tenant_id == school_id, Novation.status.in_(OPEN_NOVATION))  # type: ignore[attr-defined]
        )
    ).scalars():
        novation.status, novation.closed_by_type, novation.closed_at = "WITHDRAWN", "SYSTEM", now
        novation.close_reason = "The school was terminated."
    async with bound(session, [school_id]):  # the memberships go with the data: keep who to return it to
        trust_id = (await current_trust_ids(session, [school_id], today)).get(school_id)
        preferred = await session.get(TerminationPreference, school_id)  # a Super-User's standing choice
        holder = await credential_holder(session, school_id, preferred)
    await end_school_cover(session, school_id, on=today, status="TERMINATED")
    record = DestructionRecord(
        trust_id=trust_id,
        handover=None if preferred is None else preferred.choice,
        handover_by=None if preferred is None else preferred.chosen_by,
        handover_at=None if preferred is None else preferred.chosen_at,
        # The Super-User's handover credential (its digest): its holder releases and downloads the export.
        credential_hash=None if holder is None or preferred is None else preferred.credential_hash,
        credential_holder=holder,
        tenant_id=school_id,
        school_slug=school.slug,
        school_name=school.name,
        reason=reason,
        requested_by=by,
        requested_at=now,
        destroy_on=destroy_on,
    )
    session.add(record)
    await session.flush()
    await emit_for_school(
        session,
        school_id,
        "school.terminated",
        target_type="School",
        target_id=school_id,
        detail={"reason": reason, "destroyOn": str(destroy_on)},
    )
    return record


async def credential_holder(
    session: AsyncSession, school_id: uuid.UUID, preferred: TerminationPreference | None
) -> uuid.UUID | None:
    """Who the school's handover credential was issued to, if it is honoured: only while they are still one
    of its Super-Users with an active account when the school is terminated (one who left, was disabled or
    was replaced gets nothing; the trust's admins, if any, still can)."""
    if preferred is None or preferred.credential_hash is None or preferred.chosen_by is None:
        return None
    holder: uuid.UUID | None = await session.scalar(
        select(SuperUser.account_id)
        .join(Account, same_school(Account, SuperUser) & (Account.id == SuperUser.account_id))
        .where(
            in_school(SuperUser, school_id),
            SuperUser.account_id == preferred.chosen_by,
            Account.status == "ACTIVE",
        )
    )
    return holder


def due(today: date) -> object:
    return (DestructionRecord.status == "PENDING") & (DestructionRecord.destroy_on <= today)


def _delete_order(tables: dict[int, str], edges: list[tuple[int, int]]) -> list[str]:
    """Tables ordered so that every referencing (child) table comes before the table it references."""
    children: dict[int, set[int]] = defaultdict(set)
    for child, parent in edges:
        if child in tables and parent in tables:
            children[parent].add(child)
    order: list[str] = []
    state: dict[int, int] = {}

    def visit(oid: int) -> None:
        if state.get(oid) == 2:
            return
        if state.get(oid) == 1:
            raise RuntimeError(f"foreign keys form a cycle through {tables[oid]}: cannot order the deletes")
        state[oid] = 1
        for child in sorted(children[oid], key=tables.__getitem__):
            visit(child)
        state[oid] = 2
        order.append(tables[oid])

    for oid in sorted(tables, key=tables.__getitem__):
        visit(oid)
    # ``order`` lists each table after all its children: deleting in that order never orphans a row.
    return order


def _ident(name: str) -> str:
    """A quoted SQL identifier (names here come from the catalog, never from input)."""
    return '"' + name.replace('"', '""') + '"'


async def destroy(
    owner_session: AsyncSession, record: DestructionRecord, *, data_dir: Path, key: bytes, now: datetime
) -> DestructionRecord:
    """Export then delete every tenant row of the school, in the owner's transaction (locked record)."""
    school_id = record.tenant_id
    # Destruction of a large school outlives the request timeout; the lock wait is bounded instead.
    await owner_session.execute(text("SET LOCAL statement_timeout = 0"))
    await owner_session.execute(text("SET LOCAL lock_timeout = '60s'"))
    # Row-level security is FORCEd, for the owner too: binding to this one school is a second guarantee
    # that nothing of any other school can be read or deleted here.
    await bind(owner_session, [school_id])
    tables = {int(oid): str(name) for oid, name in (await owner_session.execute(_TENANT_TABLES)).all()}
    edges = [(int(c), int(p)) for c, p in (await owner_session.execute(_FOREIGN_KEYS)).all()]
    order = _delete_order(tables, edges)
    triggers = [
        (tables[int(rel)], str(name))
        for rel, name in (await owner_session.execute(_DELETE_TRIGGERS)).all()
        if int(rel) in tables
    ]

    exports = data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = exports / f"{record.school_slug}-{school_id}-{now:%Y%m%dT%H%M%SZ}.json"
    files = exported_files_dir(path)
    archive = path.with_suffix(".zip")
    try:
        await _write_export(owner_session, record, sorted(tables.values()), path, now=now)
        # The school's uploaded files (content, submitted work) go with the export; the originals are
        # removed only after this transaction commits (purge_files), so a failure here loses nothing.
        originals = school_files_dir(data_dir, school_id)
        if originals.is_dir():
            shutil.copytree(originals, files)
        counts = await _delete_rows(owner_session, school_id, order, triggers)
        await _check_none_left(owner_session, school_id, order)
        sealed = await anyio.to_thread.run_sync(_seal, path, files, archive, key)
    except BaseException:
        archive.unlink(missing_ok=True)
        raise
    finally:  # the plain export and the copied files: in the archive now, or not wanted
        path.unlink(missing_ok=True)
        shutil.rmtree(files, ignore_errors=True)
    record.status = "DESTROYED"
    record.destroyed_at = now
    record.return_until = now.date() + RETURN_WINDOW  # the handover (subscriptions/handover.py)
    record.row_counts = dict(sorted(counts.items()))
    record.total_rows = sum(counts.values())
    record.export_path = str(archive)
    record.export_sha256 = record.archive_sha256 = sealed.sha256
    record.export_bytes = len(sealed.archive)
    record.sealed_password = sealed.sealed_password
    await owner_session.flush()
    return record


def _seal(export: Path, files: Path, archive: Path, key: bytes) -> Sealed:
    """Pack the export (its first line carries the PROTECT marking) and the copied files into a new archive
    (0600, never overwritten), synced to disk."""
    contents = {"termination-export.json": export.read_bytes()}
    if files.is_dir():
        for file in sorted(p for p in files.rglob("*") if p.is_file()):
            contents[f"files/{file.relative_to(files)}"] = file.read_bytes()
    sealed = seal(contents, key)
    fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed.archive)
        handle.flush()
        os.fsync(handle.fileno())
    return sealed


async def _write_export(
    owner_session: AsyncSession, record: DestructionRecord, tables: list[str], path: Path, *, now: datetime
) -> str:
    """Write the school's rows of ``tables`` and its learner records to a new file (0600, never
    overwritten), synced to disk; its SHA-256 in hex. The caller removes the file if anything fails."""
    school_id = record.tenant_id
    digest = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:

        def write(chunk: str) -> None:
            handle.write(chunk)
            digest.update(chunk.encode("utf-8"))

        header = {
            "school": {"id": str(school_id), "slug": record.school_slug, "name": record.school_name},
            "exported_at": now.isoformat(),
            "classification": "OFFICIAL-SENSITIVE [PROTECT]",
        }
        write(json.dumps(header)[:-1] + ', "tables": {')
        for i, table in enumerate(tables):
            select_rows = (
                f"SELECT (to_jsonb(t) - CAST(:secret AS text[]))::text FROM {_ident(table)} t "  # noqa: S608 - a catalog name, quoted
                "WHERE t.school_id = :school"
            )
            rows = (
                await owner_session.execute(
                    text(select_rows), {"school": school_id, "secret": list(SECRET_COLUMNS)}
                )
            ).scalars()
            write(("," if i else "") + json.dumps(table) + ": [")
            for j, row in enumerate(rows):
                write(("," if j else "") + row)
            write("]")
        # Records of achievement as a reader wants them (with the pupil's UPN and ULN), besides the
        # raw tables: the learner's record travels with the school's data (LL 5.1.4, LRS).
        records = await export_rows(owner_session, school_id)
        write('}, "learner_records": ' + json.dumps(records, default=str) + "}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


async def _delete_rows(
    owner_session: AsyncSession, school_id: uuid.UUID, order: list[str], triggers: list[tuple[str, str]]
) -> dict[str, int]:
    """DELETE the school's rows from each table in ``order``, with the DELETE ``triggers`` (table, name)
    disabled meanwhile; the rows deleted per table."""
    counts: dict[str, int] = {}
    for table, trigger in triggers:
        await owner_session.execute(text(f"ALTER TABLE {_ident(table)} DISABLE TRIGGER {_ident(trigger)}"))
    for table in order:
        delete = f"DELETE FROM {_ident(table)} WHERE school_id = :school"  # noqa: S608 - a catalog name, quoted
        result = await owner_session.execute(text(delete), {"school": school_id})
        counts[table] = int(result.rowcount)  # type: ignore[attr-defined]
    for table, trigger in triggers:
        await owner_session.execute(text(f"ALTER TABLE {_ident(table)} ENABLE TRIGGER {_ident(trigger)}"))
    return counts


async def _check_none_left(owner_session: AsyncSession, school_id: uuid.UUID, tables: list[str]) -> None:
    """Raise (so the transaction rolls back) if any row of the school survived in any of ``tables``."""
    for table in tables:
        count = f"SELECT count(*) FROM {_ident(table)} WHERE school_id = :school"  # noqa: S608 - a catalog name, quoted
        left = (await owner_session.execute(text(count), {"school": school_id})).scalar_one()
        if left:
            raise RuntimeError(f"{table}: {left} rows of the school survived its destruction")


def school_files_dir(data_dir: Path, school_id: uuid.UUID) -> Path:
    """Where the local file store keeps a school's files (keys are ``<school id>/<sha256>``)."""
    return data_dir / "files" / str(school_id)


def exported_files_dir(export: Path) -> Path:
    """The directory beside an export that holds the school's files."""
    return export.with_suffix(".files")


def purge_files(data_dir: Path, school_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Delete the stored files of destroyed schools (their copies are in the export); the schools whose
    files were still there. Idempotent: the jobs run it after every destruction step."""
    purged = []
    for school_id in school_ids:
        directory = school_files_dir(data_dir, school_id)
        if directory.is_dir():
            shutil.rmtree(directory)
            purged.append(school_id)
    return purged

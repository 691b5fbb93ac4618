"""Subject access requests (LL 5.1.1, LL 5.1.4, LL-S2 (xii), LRS 6.6, LRS 6.8).

A school admin opens one for a pupil, member of staff or contact; a parent, or a pupil of 13 or over, opens
one for themself from their own account, into the admins' queue. It is due a calendar month after it was
opened (the statutory deadline), and is overdue after that until released.

OPEN -> READY: the ``subject_access`` jobs step builds the export in the background (``privacy.exporter``:
JSON plus a CSV per table, every file marked PROTECT) straight into an AES-256 encrypted zip under a fresh
password, sealed under the server's export key on the request until release (``privacy.exporter.seal``): no
plain copy is ever written. READY -> RELEASED: an admin releases it; the password is unsealed, returned to
that admin once and cleared from the row, so it is stored nowhere after. The archive is downloadable by the
school's admins for :data:`DOWNLOAD_DAYS` days (``GET /schools/{slug}/subject-access/{id}``), then the same
jobs step purges it (PURGED). Opening, building, releasing and every download are audited.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import anyio
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal, Role
from common.clock import school_today
from common.errors import DomainError, Problem
from common.events import emit, emit_for_school
from models import Pupil
from models.privacy import SubjectAccessRequest
from privacy import exporter, retention, subjects
from privacy.consent import needs_parental_consent
from privacy.registry import Subject
from storage.files import FileStore
from tenants.scoping import in_school, scoped

DOWNLOAD_DAYS = retention.EXPORT_DAYS
PENDING = ("OPEN", "READY")


def due_date(opened_on: date) -> date:
    """A calendar month after ``opened_on`` (the last day of the next month when it is shorter)."""
    year, month = (opened_on.year + 1, 1) if opened_on.month == 12 else (opened_on.year, opened_on.month + 1)
    return date(year, month, min(opened_on.day, calendar.monthrange(year, month)[1]))


def exports_dir(data_dir: Path, school_id: uuid.UUID) -> Path:
    """Where a school's staged and released subject access exports are kept (never in the file store)."""
    return data_dir / "subject-access" / str(school_id)


def _staged(data_dir: Path, row: SubjectAccessRequest) -> Path:
    """Where an export built before exports were sealed at build was staged (purged like the archive)."""
    return exports_dir(data_dir, row.school_id) / f"{row.id}.staged.zip"


def _archive(data_dir: Path, row: SubjectAccessRequest) -> Path:
    return exports_dir(data_dir, row.school_id) / f"{row.id}.zip"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _open(
    session: AsyncSession, principal: Principal, person: subjects.Person, channel: str, *, now: datetime
) -> SubjectAccessRequest:
    pending = await session.scalar(
        scoped(SubjectAccessRequest, person.school_id).where(
            SubjectAccessRequest.subject_id == person.id,
            SubjectAccessRequest.status.in_(PENDING),  # type: ignore[attr-defined]
        )
    )
    if pending is not None:
        raise DomainError.one(
            "personId", "ALREADY_OPEN", "A request for this person is already in the admins' queue."
        )
    opened_on = school_today(now)
    row = SubjectAccessRequest(
        school_id=person.school_id,
        subject_type=person.kind.value,
        subject_id=person.id,
        channel=channel,
        requested_by=principal.account_id,
        opened_at=now,
        due_on=due_date(opened_on),
    )
    session.add(row)
    await emit(
        session,
        "subject_access.requested",
        target_type="SubjectAccessRequest",
        target_id=row.id,
        detail={"channel": channel, "subjectType": person.kind.value, "dueOn": str(row.due_on)},
    )
    return row


async def open_request(
    session: AsyncSession, principal: Principal, kind: Subject, person_id: uuid.UUID, *, now: datetime
) -> SubjectAccessRequest:
    """A school admin opens a request for a person of the school."""
    person = await subjects.find(session, principal.school_id, kind, person_id)
    return await _open(session, principal, person, "ADMIN", now=now)


async def open_own(session: AsyncSession, principal: Principal, *, now: datetime) -> SubjectAccessRequest:
    """A parent, or a pupil of 13 or over, asks for their own data (``UNDER_13`` for a younger pupil: their
    parent asks for them)."""
    if principal.role is Role.PARENT and principal.contact_id is not None:
        person = await subjects.find(session, principal.school_id, Subject.CONTACT, principal.contact_id)
    elif principal.role is Role.PUPIL and principal.pupil_id is not None:
        born = await session.scalar(
            select(Pupil.date_of_birth).where(
                in_school(Pupil, principal.school_id), Pupil.id == principal.pupil_id
            )
        )
        if needs_parental_consent(born, school_today(now)):
            raise DomainError.one(
                None, "UNDER_13", "Under 13, a parent asks for a pupil's data: ask your parent or the school."
            )
        person = await subjects.find(session, principal.school_id, Subject.PUPIL, principal.pupil_id)
    else:
        raise DomainError.one(None, "NOT_A_SUBJECT", "Only parents and pupils ask for their own data here.")
    return await _open(session, principal, person, "SELF", now=now)


async def build(
    session: AsyncSession,
    row: SubjectAccessRequest,
    *,
    data_dir: Path,
    store: FileStore,
    key: bytes,
    now: datetime,
) -> int:
    """Build the export of an OPEN request, encrypted, its password sealed under ``key`` (the jobs step);
    returns its number of files."""
    person = await subjects.find(session, row.school_id, Subject(row.subject_type), row.subject_id)
    found = await exporter.collect(session, person, store)
    files = exporter.render(found, now=now, request_id=row.id)
    sealed = await anyio.to_thread.run_sync(exporter.seal, files, key)
    await anyio.to_thread.run_sync(_write, _archive(data_dir, row), sealed.archive)
    row.status, row.built_at, row.staged_key = "READY", now, _archive(data_dir, row).name
    row.archive_sha256, row.archive_bytes = sealed.sha256, len(sealed.archive)
    row.sealed_password = sealed.sealed_password
    await emit_for_school(
        session,
        row.school_id,
        "subject_access.built",
        target_type="SubjectAccessRequest",
        target_id=row.id,
        detail={"files": len(files), "tables": len(found.tables)},
    )
    return len(files)


@dataclass(frozen=True)
class Released:
    request: SubjectAccessRequest
    password: str
    """Shown once to the admin who released it; never stored."""


async def _get(session: AsyncSession, school_id: uuid.UUID, request_id: uuid.UUID) -> SubjectAccessRequest:
    row: SubjectAccessRequest | None = (
        await session.execute(
            scoped(SubjectAccessRequest, school_id)
            .where(SubjectAccessRequest.id == request_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise DomainError.one("requestId", "NOT_FOUND", "No such subject access request at this school.")
    return row


async def release(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    *,
    keys: exporter.ExportKeys,
    now: datetime,
) -> Released:
    """Release a READY export for :data:`DOWNLOAD_DAYS` days (or the shorter period the school set,
    ``subject_access_exports``): its password (AES-256, LRS 6.8) unsealed for
    this admin, once, and cleared from the row."""
    row = await _get(session, principal.school_id, request_id)
    if row.status != "READY":
        raise DomainError.one(
            "requestId",
            "NOT_READY" if row.status == "OPEN" else "ALREADY_RELEASED",
            "The export is still being built."
            if row.status == "OPEN"
            else "The export was already released.",
        )
    assert row.sealed_password is not None and row.archive_sha256 is not None
    password = exporter.unseal(row.sealed_password, row.archive_sha256, keys)
    row.status, row.released_by, row.released_at = "RELEASED", principal.account_id, now
    row.staged_key, row.archive_key, row.sealed_password = None, row.staged_key, None
    row.expires_at = now + timedelta(days=await retention.export_days(session, principal.school_id))
    await emit(
        session,
        "subject_access.released",
        target_type="SubjectAccessRequest",
        target_id=row.id,
        detail={"sha256": row.archive_sha256, "expiresAt": row.expires_at.isoformat()},
    )
    return Released(row, password)


class Gone(DomainError):
    """The archive was purged, or its download window closed."""


async def download(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, data_dir: Path, now: datetime
) -> tuple[SubjectAccessRequest, bytes]:
    """The released archive (audited), for a school admin, within its window."""
    row = await _get(session, principal.school_id, request_id)
    if row.status == "PURGED" or (row.status == "RELEASED" and row.expires_at and row.expires_at <= now):
        raise Gone([Problem(None, "EXPIRED", "The download window has closed; the export was purged.")])
    if row.status != "RELEASED":
        raise DomainError.one("requestId", "NOT_RELEASED", "Release the export first.")
    data = await anyio.to_thread.run_sync(_archive(data_dir, row).read_bytes)
    row.downloads += 1
    await emit(
        session,
        "subject_access.downloaded",
        target_type="SubjectAccessRequest",
        target_id=row.id,
        detail={"sha256": row.archive_sha256},
    )
    return row, data


def scoped_open(school_id: uuid.UUID) -> Select[SubjectAccessRequest]:
    """Requests waiting to be built."""
    return scoped(SubjectAccessRequest, school_id).where(SubjectAccessRequest.status == "OPEN")


def purge_due(school_id: uuid.UUID, now: datetime) -> Select[SubjectAccessRequest]:
    """Released requests whose download window has closed."""
    return scoped(SubjectAccessRequest, school_id).where(
        SubjectAccessRequest.status == "RELEASED",
        SubjectAccessRequest.expires_at <= now,
    )


async def purge(session: AsyncSession, row: SubjectAccessRequest, *, data_dir: Path, now: datetime) -> None:
    """Delete every copy of the export (staged and archive); the request is kept, PURGED."""
    for path in (_staged(data_dir, row), _archive(data_dir, row)):
        await anyio.to_thread.run_sync(_remove, path)
    row.status, row.purged_at, row.archive_key, row.staged_key = "PURGED", now, None, None
    row.sealed_password = None
    await emit_for_school(
        session, row.school_id, "subject_access.purged", target_type="SubjectAccessRequest", target_id=row.id
    )


async def sweep(session: AsyncSession, school_id: uuid.UUID, *, data_dir: Path) -> int:
    """Remove every file in the school's exports folder that no READY or RELEASED request owns: the export
    of a person erased since (LL 5.1.6: the erasure deleted the request, never the file before its commit)
    or what an interrupted build left. Returns how many; reads the database only when the folder has files.
    """
    folder = exports_dir(data_dir, school_id)
    names = await anyio.to_thread.run_sync(lambda: sorted(p.name for p in folder.glob("*")))
    if not names:
        return 0
    live = scoped(SubjectAccessRequest, school_id).where(
        SubjectAccessRequest.status.in_(("READY", "RELEASED"))  # type: ignore[attr-defined]
    )
    owned = {
        path.name
        for row in (await session.execute(live)).scalars()
        for path in (_staged(data_dir, row), _archive(data_dir, row))
    }
    orphans = [folder / name for name in names if name not in owned]
    for path in orphans:
        await anyio.to_thread.run_sync(_remove, path)
    return len(orphans)


async def requests(
    session: AsyncSession, school_id: uuid.UUID, *, overdue_on: date | None = None, limit: int = 200
) -> list[SubjectAccessRequest]:
    """The school's requests, oldest due first; with ``overdue_on``, only those still not released by then
    past their due date (the overdue report)."""
    stmt = scoped(SubjectAccessRequest, school_id)
    if overdue_on is not None:
        stmt = stmt.where(
            SubjectAccessRequest.status.in_(PENDING),  # type: ignore[attr-defined]
            SubjectAccessRequest.due_on < overdue_on,
        )
    stmt = stmt.order_by(SubjectAccessRequest.due_on, SubjectAccessRequest.id).limit(limit)
    return list((await session.execute(stmt)).scalars())

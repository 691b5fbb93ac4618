"""The termination handover (LL 5.1.3, LL-A 6.3.7, LL-A 9.3): return or delete, then every copy purged.

At termination the school's trust is kept on the destruction record (the memberships go with the school's
data). The trust's admins choose RETURN or DELETE (:func:`choose`; they may change their mind until the
copies are purged). The ``destructions`` jobs step exports and destroys the data as before, packing the
export and the school's copied files into an AES-256 encrypted zip marked PROTECT (LRS 6.6, LRS 6.8) whose
password is sealed under the server's export key, and sets ``return_until`` (``termination.RETURN_WINDOW``
after the destruction). On RETURN a trust admin releases the export (:func:`release`): the password is
unsealed, returned to them once and cleared from the record (stored nowhere after); the archive is
downloadable by the trust's admins (``GET /trusts/{slug}/termination-exports/{school id}``) until ``return_until``. The
``handovers`` jobs step then purges every copy (the export, the copied files, the archive) at once on DELETE,
or after ``return_until`` otherwise, and stamps ``copies_purged_at`` on the record.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import anyio
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from auth.trust_admins import TrustAdminPrincipal
from common.errors import DomainError, Problem
from common.events import emit
from models.licensing import DestructionRecord
from models.platform import SuperUser
from models.privacy import TerminationPreference
from privacy.exporter import unseal
from subscriptions.termination import exported_files_dir
from tenants.scoping import in_school

CHOICES = ("RETURN", "DELETE")


def archive_of(record: DestructionRecord) -> Path | None:
    return None if record.export_path is None else Path(record.export_path).with_suffix(".zip")


async def _record(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID
) -> DestructionRecord:
    record: DestructionRecord | None = (
        await session.execute(
            select(DestructionRecord)
            .where(DestructionRecord.tenant_id == school_id, DestructionRecord.trust_id == principal.trust_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if record is None:
        raise DomainError.one("schoolId", "NOT_FOUND", "No terminated school of this trust with this id.")
    if record.copies_purged_at is not None:
        raise DomainError.one(
            "schoolId", "ALREADY_PURGED", "Every copy of this school's data has been purged."
        )
    return record


async def choose(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID, choice: str, *, now: datetime
) -> DestructionRecord:
    """Record RETURN or DELETE for a terminated school of the admin's trust."""
    if choice not in CHOICES:
        raise DomainError.one("choice", "INVALID_CHOICE", "Choose RETURN or DELETE.")
    record = await _record(session, principal, school_id)
    record.handover, record.handover_by, record.handover_at = choice, principal.account_id, now
    await emit(
        session,
        "termination.handover_chosen",
        target_type="DestructionRecord",
        target_id=record.id,
        detail={"choice": choice},
    )
    return record


@dataclass(frozen=True)
class Released:
    record: DestructionRecord
    password: str


async def release(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID, *, key: bytes, now: datetime
) -> Released:
    """Release a destroyed school's encrypted export for return: its password, unsealed with ``key``, is
    returned once and cleared from the record."""
    record = await _record(session, principal, school_id)
    if record.handover != "RETURN":
        raise DomainError.one("schoolId", "NOT_RETURNED", "Choose RETURN first.")
    if record.status != "DESTROYED" or record.export_path is None:
        raise DomainError.one("schoolId", "NOT_READY", "The export is made when the data is destroyed.")
    if record.released_at is not None:
        raise DomainError.one("schoolId", "ALREADY_RELEASED", "The export was already released.")
    if record.sealed_password is None or record.archive_sha256 is None:
        raise DomainError.one("schoolId", "NOT_READY", "The export was not sealed at destruction.")
    password = unseal(record.sealed_password, record.archive_sha256, key)
    record.sealed_password, record.released_at = None, now
    await emit(
        session,
        "termination.export_released",
        target_type="DestructionRecord",
        target_id=record.id,
        detail={"sha256": record.archive_sha256, "returnUntil": str(record.return_until)},
    )
    return Released(record, password)


class Gone(DomainError):
    """The return window closed, or the copies were purged."""


async def download(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID, *, today: date
) -> bytes:
    try:
        record = await _record(session, principal, school_id)
    except DomainError as error:
        if error.problems[0].code == "ALREADY_PURGED":
            raise Gone(error.problems) from None
        raise
    if record.return_until is not None and today > record.return_until:
        raise Gone([Problem(None, "EXPIRED", "The return window has closed.")])
    archive = archive_of(record)
    if record.released_at is None or archive is None:
        raise DomainError.one("schoolId", "NOT_RELEASED", "Release the export first.")
    data = await anyio.to_thread.run_sync(archive.read_bytes)
    await emit(
        session,
        "termination.export_downloaded",
        target_type="DestructionRecord",
        target_id=record.id,
        detail={"sha256": record.archive_sha256},
    )
    return data


def purge_due(today: date) -> Select[DestructionRecord]:
    """Destroyed schools whose copies are to go: on DELETE at once, otherwise after the return window."""
    return select(DestructionRecord).where(
        DestructionRecord.status == "DESTROYED",
        DestructionRecord.copies_purged_at.is_(None),  # type: ignore[union-attr]
        or_(DestructionRecord.handover == "DELETE", DestructionRecord.return_until < today),
    )


def _remove(record: DestructionRecord) -> None:
    if record.export_path is None:
        return
    export = Path(record.export_path)
    export.unlink(missing_ok=True)
    shutil.rmtree(exported_files_dir(export), ignore_errors=True)
    archive = archive_of(record)
    if archive is not None:
        archive.unlink(missing_ok=True)


async def purge_copies(record: DestructionRecord, *, now: datetime) -> None:
    """Delete every copy (export, copied files, archive) and say so on the record."""
    await anyio.to_thread.run_sync(_remove, record)
    record.copies_purged_at, record.sealed_password = now, None


async def prefer(
    session: AsyncSession, principal: Principal, choice: str, *, now: datetime
) -> TerminationPreference:
    """A Super-User of the school records, in advance, RETURN or DELETE for its data at termination
    (``NOT_A_SUPER_USER`` for any other admin)."""
    if choice not in CHOICES:
        raise DomainError.one("choice", "INVALID_CHOICE", "Choose RETURN or DELETE.")
    nominated = await session.scalar(
        select(SuperUser.account_id).where(
            in_school(SuperUser, principal.school_id), SuperUser.account_id == principal.account_id
        )
    )
    if nominated is None:
        raise DomainError.one(None, "NOT_A_SUPER_USER", "Only the school's Super-Users choose this.")
    row = await session.get(TerminationPreference, principal.school_id, with_for_update=True)
    if row is None:
        row = TerminationPreference(school_id=principal.school_id, choice=choice, chosen_at=now)
        session.add(row)
    row.choice, row.chosen_by, row.chosen_at = choice, principal.account_id, now
    await emit(session, "termination.handover_preferred", target_type="School", target_id=principal.school_id,
               detail={"choice": choice})  # fmt: skip
    return row


async def preference_of(session: AsyncSession, school_id: uuid.UUID) -> TerminationPreference | None:
    """The Super-Users' standing choice (the session bound to the school)."""
    return await session.get(TerminationPreference, school_id)

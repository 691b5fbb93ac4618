"""The termination handover (LL 5.1.3, LL-A 6.3.7, LL-A 9.3): return or delete, then every copy purged.

Who the export is returned to is settled before the school is terminated, since nobody of a terminated school
can sign in and its accounts are destroyed with its data:

* a Super-User of the school chooses RETURN in advance (:func:`prefer`) and is given a *handover credential*,
  shown to them once and kept only as its SHA-256 (on ``termination_preferences``; choosing again issues a
  new one and voids the old, DELETE voids it). Termination copies the choice, the credential's hash and its
  holder onto the destruction record. The holder releases the export and downloads it at the school's own
  route (``POST /schools/{slug}/termination-export/release``, ``GET /schools/{slug}/termination-export``,
  ``server.termination_http``), with the credential as the bearer token: for a school in a trust or not;
* the school's trust, kept on the destruction record at termination (the memberships go with the school's
  data): its admins choose or change RETURN/DELETE (:func:`choose`) until the copies are purged, and release
  and download the export at the trust's route.

The ``destructions`` jobs step exports and destroys the data as before, packing the export and the school's
copied files into an AES-256 encrypted zip marked PROTECT (LRS 6.6, LRS 6.8) whose password is sealed under
the server's export key, and sets ``return_until`` (``termination.RETURN_WINDOW`` after the destruction). On
RETURN the first release (:func:`release`, by a trust admin or the credential's holder) unseals the password,
returns it that once and clears it from the record (stored nowhere after); the archive is downloadable by
either until ``return_until``. The ``handovers`` jobs step then purges every copy (the export, the copied
files, the archive) at once on DELETE, or after ``return_until`` otherwise, and stamps ``copies_purged_at``
on the record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
from privacy.exporter import ExportKeys, unseal
from subscriptions.termination import credential_holder, exported_files_dir
from tenants.scoping import in_school

CHOICES = ("RETURN", "DELETE")
RELEASE_PATH = "/termination-export/release"
DOWNLOAD_PATH = "/termination-export"
"""The holder's routes, after ``/schools/{slug}`` (``server.termination_http``)."""


def archive_of(record: DestructionRecord) -> Path | None:
    return None if record.export_path is None else Path(record.export_path).with_suffix(".zip")


CREDENTIAL_PREFIX = "sgh_"
"""How a handover credential starts (so that one pasted in the wrong place is recognisable)."""


def credential_digest(credential: str) -> bytes:
    """What is stored of a handover credential: its SHA-256 (a 256-bit random secret needs no slow hash)."""
    return hashlib.sha256(credential.encode()).digest()


def new_credential() -> tuple[str, bytes]:
    """A fresh handover credential (shown once) and its digest (stored)."""
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    return credential, credential_digest(credential)


async def _locked(session: AsyncSession, *where: object) -> DestructionRecord | None:
    record: DestructionRecord | None = (
        await session.execute(select(DestructionRecord).where(*where).with_for_update())
    ).scalar_one_or_none()
    return record


def _not_purged(record: DestructionRecord) -> DestructionRecord:
    if record.copies_purged_at is not None:
        raise DomainError.one(
            "schoolId", "ALREADY_PURGED", "Every copy of this school's data has been purged."
        )
    return record


async def _trust_record(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID
) -> DestructionRecord:
    """The destruction record of a terminated school of the admin's trust (locked): ``NOT_FOUND`` otherwise."""
    record = await _locked(
        session, DestructionRecord.tenant_id == school_id, DestructionRecord.trust_id == principal.trust_id
    )
    if record is None:
        raise DomainError.one("schoolId", "NOT_FOUND", "No terminated school of this trust with this id.")
    return record


async def held_record(
    session: AsyncSession, school_id: uuid.UUID, credential: str
) -> DestructionRecord | None:
    """The school's destruction record (locked) if ``credential`` is the handover credential issued for it;
    None for any other credential, or a school not terminated. Compared in constant time."""
    record = await _locked(session, DestructionRecord.tenant_id == school_id)
    if record is None or record.credential_hash is None:
        return None
    if not hmac.compare_digest(record.credential_hash, credential_digest(credential)):
        return None
    return record


async def choose(
    session: AsyncSession, principal: TrustAdminPrincipal, school_id: uuid.UUID, choice: str, *, now: datetime
) -> DestructionRecord:
    """Record RETURN or DELETE for a terminated school of the admin's trust."""
    if choice not in CHOICES:
        raise DomainError.one("choice", "INVALID_CHOICE", "Choose RETURN or DELETE.")
    record = _not_purged(await _trust_record(session, principal, school_id))
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
    session: AsyncSession,
    principal: TrustAdminPrincipal,
    school_id: uuid.UUID,
    *,
    keys: ExportKeys,
    now: datetime,
) -> Released:
    """A trust admin releases a destroyed school of the trust's encrypted export (:func:`release_record`)."""
    return await release_record(
        session, await _trust_record(session, principal, school_id), keys=keys, now=now
    )


async def release_record(
    session: AsyncSession, record: DestructionRecord, *, keys: ExportKeys, now: datetime
) -> Released:
    """Release the destroyed school's encrypted export for return (the record locked, its recipient
    established by the caller): its password, unsealed with ``keys``, is returned once and cleared from the
    record. ``NOT_RETURNED``, ``NOT_READY``, ``ALREADY_RELEASED``, ``ALREADY_PURGED`` otherwise; audited
    as ``termination.export_released`` by whoever the session's trail names."""
    _not_purged(record)
    if record.handover != "RETURN":
        raise DomainError.one("schoolId", "NOT_RETURNED", "Choose RETURN first.")
    if record.status != "DESTROYED" or record.export_path is None:
        raise DomainError.one("schoolId", "NOT_READY", "The export is made when the data is destroyed.")
    if record.released_at is not None:
        raise DomainError.one("schoolId", "ALREADY_RELEASED", "The export was already released.")
    if record.sealed_password is None or record.archive_sha256 is None:
        raise DomainError.one("schoolId", "NOT_READY", "The export was not sealed at destruction.")
    password = unseal(record.sealed_password, record.archive_sha256, keys)
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
    """A trust admin downloads a released export of a school of the trust (:func:`download_record`)."""
    return await download_record(session, await _trust_record(session, principal, school_id), today=today)


async def download_record(session: AsyncSession, record: DestructionRecord, *, today: date) -> bytes:
    """The released archive (audited ``termination.export_downloaded``), until the return window closes:
    :class:`Gone` after it or once purged, ``NOT_RELEASED`` before the release."""
    if record.copies_purged_at is not None:
        raise Gone(
            [Problem("schoolId", "ALREADY_PURGED", "Every copy of this school's data has been purged.")]
        )
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


@dataclass(frozen=True)
class Preferred:
    row: TerminationPreference
    credential: str | None
    """On RETURN, the new handover credential: shown this once, stored only as its digest."""


async def prefer(session: AsyncSession, principal: Principal, choice: str, *, now: datetime) -> Preferred:
    """A Super-User of the school records, in advance, RETURN or DELETE for its data at termination
    (``NOT_A_SUPER_USER`` for any other admin). RETURN issues them a new handover credential (any earlier one
    stops working); DELETE voids it."""
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
    replaced = row.credential_hash is not None
    credential, digest = new_credential() if choice == "RETURN" else (None, None)
    row.choice, row.chosen_by, row.chosen_at = choice, principal.account_id, now
    row.credential_hash, row.credential_issued_at = digest, None if digest is None else now
    await emit(session, "termination.handover_preferred", target_type="School", target_id=principal.school_id,
               detail={"choice": choice, "credentialIssued": credential is not None,
                       "credentialVoided": replaced})  # fmt: skip
    return Preferred(row, credential)


@dataclass(frozen=True)
class Standing:
    """The school's standing choice, and whether its handover credential would be honoured today."""

    row: TerminationPreference
    credential_honoured: bool


async def standing(session: AsyncSession, school_id: uuid.UUID) -> Standing | None:
    """The Super-Users' standing choice (the session bound to the school), with whether a termination now
    would honour its credential (its holder still a Super-User with an active account)."""
    row = await session.get(TerminationPreference, school_id)
    if row is None:
        return None
    return Standing(row, await credential_holder(session, school_id, row) is not None)

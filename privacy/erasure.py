"""Erasure, the right to be forgotten (LL 5.1.6, LL-S2 (xii)): a school admin erases a pupil, member of staff
or contact, with a reason and a confirmation (the person's full name typed back).

Driven by the registry alone (``privacy.registry``): in one transaction every :class:`~privacy.registry.Link`
that holds one of the person's ids (their record's, their accounts') does what it says: the person's own
rows are deleted, another record's link is emptied or replaced by the erasure record's pseudonymous
``reference``, and the audit log's personal columns (the username at the time, the client address; outside
the hash chain) are blanked, so ``schoolgraph audit verify`` still passes. Deleting the accounts deletes their
sessions: whoever was signed in as the person is signed out at once. Stored files of deleted rows (submitted
work) are listed on the record and removed from the store after the commit (the ``erasure_files`` jobs
step), never before: a rolled-back erasure leaves every file in place.

The record keeps no id, name or number of the person: only their kind, the reason, who erased and when, the
row counts, and a SHA-256 of the school and the person's id, by which a second erasure is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.errors import DomainError, Problems
from common.events import emit_for_school
from models import metadata
from models.privacy import ERASURE_REASON_MAX, ErasureRecord
from privacy import subjects
from privacy.registry import REGISTRY, TABLES, Erase, Link, Subject, TableEntry
from privacy.subjects import Person
from storage.files import FileStore
from tenants.scoping import in_school, scoped

PEOPLE_LAST = ("accounts", "pupils", "staff", "contacts")
"""Erased after every other table (their rows are what the others' foreign keys point at), in this order."""


def column_fates(table: TableEntry) -> dict[str, Erase]:
    """What an erasure does to each column it reaches: every column of a row it deletes, and each link
    (with the columns that describe it) it empties, replaces or blanks."""
    fates: dict[str, Erase] = {}
    if any(link.erase is Erase.DELETE_ROW for link in table.links):
        fates = dict.fromkeys(table.columns, Erase.DELETE_ROW)
    for link in table.links:
        for column in (link.column, *link.also):
            fates.setdefault(column, link.erase)
    return fates


def _order() -> list[TableEntry]:
    others = [t for t in TABLES if t.name not in PEOPLE_LAST]
    return others + [REGISTRY[name] for name in PEOPLE_LAST]


def _reached(table: TableEntry) -> bool:
    return table.platform is None and any(link.erase is not Erase.KEEP for link in table.links)


@dataclass(frozen=True)
class Erasure:
    kind: Subject
    person_id: uuid.UUID
    reason: str
    confirm_name: str


async def erase(
    session: AsyncSession, principal: Principal, request: Erasure, *, now: datetime
) -> ErasureRecord:
    """Erase the person (one transaction: the caller's). Refused with ``NOT_FOUND``, ``ALREADY_ERASED``,
    ``CONFIRMATION_MISMATCH``, ``REASON_REQUIRED``/``TOO_LONG`` or ``CANNOT_ERASE_SELF``, writing nothing."""
    school_id = principal.school_id
    problems = Problems()
    reason = request.reason.strip()
    if not reason:
        problems.add("reason", "REASON_REQUIRED", "Say why the person is erased (it is kept on the record).")
    elif len(reason) > ERASURE_REASON_MAX:
        problems.add("reason", "TOO_LONG", f"The reason is at most {ERASURE_REASON_MAX} characters.")
    problems.raise_if_any()
    digest = subjects.digest(school_id, request.person_id)
    erased = await session.scalar(
        select(exists().where(in_school(ErasureRecord, school_id), ErasureRecord.subject_digest == digest))
    )
    if erased:
        raise DomainError.one("personId", "ALREADY_ERASED", "This person has already been erased.")
    person = await subjects.find(session, school_id, request.kind, request.person_id)
    if " ".join(request.confirm_name.split()).casefold() != person.name.casefold():
        raise DomainError.one(
            "confirmName",
            "CONFIRMATION_MISMATCH",
            "Type the person's full name (forename surname) to confirm.",
        )
    if principal.account_id in person.account_ids:
        raise DomainError.one("personId", "CANNOT_ERASE_SELF", "An admin cannot erase themself.")

    return await erase_person(session, person, reason=reason, erased_by=principal.account_id, now=now)


async def erase_person(
    session: AsyncSession, person: Person, *, reason: str, erased_by: uuid.UUID | None, now: datetime
) -> ErasureRecord:
    """The erasure itself, without the caller's checks (:func:`erase` for an admin's; the retention step for
    leavers past their time): every link applied, the files listed, the record written and audited."""
    record = ErasureRecord(
        school_id=person.school_id,
        subject_type=person.kind.value,
        reference=uuid.uuid4(),
        subject_digest=subjects.digest(person.school_id, person.id),
        reason=reason,
        erased_by=erased_by,
        erased_at=now,
    )
    files = await _files_of(session, person)
    counts = await apply(session, person, record.reference)
    counts.update(await _delete_files(session, person.school_id, files))
    keys = sorted(files.values())
    record.row_counts = {table: n for table, n in sorted(counts.items()) if n}
    record.total_rows = sum(record.row_counts.values())
    record.files_pending = keys
    session.add(record)
    await emit_for_school(
        session,
        person.school_id,
        "person.erased",
        target_type="Erasure",
        target_id=record.id,
        detail={"subjectType": person.kind.value, "rows": record.total_rows, "files": len(keys)},
    )
    return record


def _table(name: str) -> Table:
    return metadata.tables[name]


def _match(table: Table, link: Link, ids: Iterable[uuid.UUID], school_id: uuid.UUID) -> Any:
    return and_(in_school(table.c, school_id), table.c[link.column].in_(list(ids)))


async def apply(session: AsyncSession, person: Person, reference: uuid.UUID) -> dict[str, int]:
    """Every link of the registry that holds one of the person's ids, applied; rows touched per table."""
    counts: dict[str, int] = {}
    for entry in _order():
        if not _reached(entry):
            continue
        table = _table(entry.name)
        for link in entry.links:
            ids = person.ids_for(link.subject)
            if not ids or link.erase is Erase.KEEP:
                continue
            where = _match(table, link, ids, person.school_id)
            if link.erase is Erase.DELETE_ROW:
                result = await session.execute(delete(table).where(where))
            elif link.erase is Erase.BLANK:
                described = or_(*(table.c[c].is_not(None) for c in link.also))
                values = dict.fromkeys(link.also)
                result = await session.execute(update(table).where(where, described).values(values))
            else:
                value = reference if link.erase is Erase.PSEUDONYMISE else None
                values = {link.column: value}
                for column in link.also:
                    values[column] = None if table.c[column].nullable else f"erased:{reference}"
                result = await session.execute(update(table).where(where).values(values))
            counts[entry.name] = counts.get(entry.name, 0) + int(result.rowcount)  # type: ignore[attr-defined]
    return counts


async def _files_of(session: AsyncSession, person: Person) -> dict[uuid.UUID, str]:
    """The stored files (id: storage key) of rows the erasure deletes (a pupil's submitted work)."""
    stored = _table("stored_files")
    found: dict[uuid.UUID, str] = {}
    for entry in TABLES:
        if entry.files is None:
            continue
        table = _table(entry.name)
        for link in entry.links:
            ids = person.ids_for(link.subject)
            if link.erase is not Erase.DELETE_ROW or not ids:
                continue
            file_ids = select(table.c[entry.files]).where(
                _match(table, link, ids, person.school_id), table.c[entry.files].is_not(None)
            )
            rows = await session.execute(
                select(stored.c.id, stored.c.storage_key).where(
                    in_school(stored.c, person.school_id), stored.c.id.in_(file_ids)
                )
            )
            found.update({row.id: row.storage_key for row in rows})
    return found


async def _delete_files(
    session: AsyncSession, school_id: uuid.UUID, files: dict[uuid.UUID, str]
) -> dict[str, int]:
    if not files:
        return {}
    stored = _table("stored_files")
    result = await session.execute(
        delete(stored).where(in_school(stored.c, school_id), stored.c.id.in_(list(files)))
    )
    return {"stored_files": int(result.rowcount)}  # type: ignore[attr-defined]


async def purge_files(
    session: AsyncSession, store: FileStore, record: ErasureRecord, *, now: datetime
) -> int:
    """Remove the erased rows' files from the store (after the erasure committed), keeping any a remaining
    row still references (storage is content-addressed); stamps the record. Returns the files removed."""
    stored = _table("stored_files")
    still = set(
        (
            await session.execute(
                select(stored.c.storage_key).where(
                    in_school(stored.c, record.school_id), stored.c.storage_key.in_(record.files_pending)
                )
            )
        ).scalars()
    )
    removed = 0
    for key in record.files_pending:
        if key not in still:
            await store.delete(key)
            removed += 1
    record.files_deleted_at = now
    await session.flush()
    return removed


def pending_files(school_id: uuid.UUID) -> Any:
    """The school's erasure records whose files are still to be removed from the store."""
    return scoped(ErasureRecord, school_id).where(
        ErasureRecord.files_deleted_at.is_(None),  # type: ignore[union-attr]
        func.cardinality(ErasureRecord.files_pending) > 0,
    )

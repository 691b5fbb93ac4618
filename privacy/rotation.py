"""Rotating the export key (LRS 6.8): every pending seal re-sealed under the current key, in one transaction.

An export's password is sealed under the server's export key from its build to its release
(:func:`privacy.exporter.seal`): on a subject access request that is READY, and on a destruction record
until its export is released or purged. To rotate, the operator makes a new key the current one
(``SCHOOLGRAPH_EXPORT_KEY_FILE``) and names the old one in ``SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES``: the
server seals with the new key and still unseals with both. :func:`reseal_pending` (``schoolgraph exports
reseal``) then re-seals every pending password under the current key, in one transaction over every
school (bound to all of them, as row-level security asks), and records it in the platform log; after it the
old key can be removed. A seal that none of the keys opens is left as it is and named in the result (the
key that made it is not among those the server was given): the operator restores that key and runs the
command again, or knows that export can no longer be released.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError
from common.events import emit
from models import School
from models.licensing import DestructionRecord
from models.privacy import SubjectAccessRequest
from privacy.exporter import ExportKeys, reseal
from tenants.context import bind
from tenants.scoping import scoped


@dataclass
class Resealed:
    """What a re-sealing did: how many seals of each table now open with the current key, and the rows
    (table, id) whose seal none of the keys opens (left as they were)."""

    subject_access_requests: int = 0
    destruction_records: int = 0
    unopened: list[tuple[str, uuid.UUID]] = field(default_factory=list)


async def reseal_pending(session: AsyncSession, keys: ExportKeys) -> Resealed:
    """Re-seal every pending sealed password under ``keys.current`` in the session's transaction (rows
    locked); audited as ``exports.resealed`` in the trail attached to the session."""
    await bind(session, (await session.execute(select(School.id))).scalars().all())
    done = Resealed()
    sealed = SubjectAccessRequest.sealed_password.is_not(None)  # type: ignore[union-attr]
    # The schools with a pending subject access seal (an unlocked read), then each school's rows locked by
    # a statement scoped to it: on Citus one shard group each (a locking read may not fan out).
    schools = (
        await session.execute(select(SubjectAccessRequest.school_id).where(sealed).distinct())
    ).scalars()
    pending: list[SubjectAccessRequest | DestructionRecord] = []
    for school_id in sorted(schools.all()):
        stmt = scoped(SubjectAccessRequest, school_id).where(sealed).order_by(SubjectAccessRequest.id)
        pending += (await session.execute(stmt.with_for_update())).scalars().all()
    records = (
        select(DestructionRecord)
        .where(DestructionRecord.sealed_password.is_not(None))  # type: ignore[union-attr]
        .order_by(DestructionRecord.id)
        .with_for_update()
    )
    pending += (await session.execute(records)).scalars().all()
    for row in pending:
        assert row.sealed_password is not None and row.archive_sha256 is not None
        try:
            row.sealed_password = reseal(row.sealed_password, row.archive_sha256, keys)
        except DomainError:
            done.unopened.append((row.__tablename__, row.id))
            continue
        if isinstance(row, SubjectAccessRequest):
            done.subject_access_requests += 1
        else:
            done.destruction_records += 1
    await emit(
        session,
        "exports.resealed",
        detail={
            "subjectAccessRequests": done.subject_access_requests,
            "destructionRecords": done.destruction_records,
            "previousKeys": len(keys.previous),
            "unopened": [f"{table}:{row_id}" for table, row_id in done.unopened],
        },
    )
    return done

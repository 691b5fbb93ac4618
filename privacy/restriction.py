"""Restriction of processing (LL-S2 (xiii), LL-S2 (xii)) and objection to statistical use (LL-A 5.2).

A school admin restricts a person's processing (with a reason) and lifts it; while it is in force their
data is read-only (writes refused with ``RESTRICTED``), seen by school admins only, and left out of every
aggregate. A school admin records a person's objection, or a parent objects for their child under 13; an
objecting person is left out of every aggregate. Both are ``processing_restrictions`` rows, kept as the
history after they are lifted; every change is audited.

The predicates other packages ask (partner feeds too) are ``people.processing``'s, re-exported here:
:func:`counted` (may this person be in an aggregate or a feed?), :func:`visible_to_all` and
:func:`refuse_if_restricted`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal, Role
from common.clock import school_today
from common.errors import DomainError
from common.events import emit
from models import Pupil
from models.privacy import ERASURE_REASON_MAX, ProcessingRestriction
from people.processing import OBJECTION, RESTRICTION, counted, refuse_if_restricted, visible_to_all
from privacy import subjects
from privacy.consent import needs_parental_consent
from privacy.registry import Subject
from tenants.scoping import in_school, scoped

__all__ = ["counted", "lift", "object_for_child", "refuse_if_restricted", "start", "visible_to_all"]

_CODES = {RESTRICTION: "ALREADY_RESTRICTED", OBJECTION: "ALREADY_OBJECTED"}


async def _current(
    session: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID, kind: str
) -> ProcessingRestriction | None:
    row: ProcessingRestriction | None = (
        await session.execute(
            scoped(ProcessingRestriction, school_id)
            .where(
                ProcessingRestriction.subject_id == person_id,
                ProcessingRestriction.kind == kind,
                ProcessingRestriction.lifted_at.is_(None),  # type: ignore[union-attr]
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    return row


async def _start(
    session: AsyncSession,
    principal: Principal,
    person: subjects.Person,
    kind: str,
    reason: str,
    now: datetime,
) -> ProcessingRestriction:
    reason = reason.strip()
    if not reason or len(reason) > ERASURE_REASON_MAX:
        raise DomainError.one(
            "reason", "REASON_REQUIRED", f"Give a reason (1 to {ERASURE_REASON_MAX} characters)."
        )
    if await _current(session, person.school_id, person.id, kind) is not None:
        raise DomainError.one("personId", _CODES[kind], f"This person's {kind.lower()} is already in force.")
    row = ProcessingRestriction(
        school_id=person.school_id,
        subject_type=person.kind.value,
        subject_id=person.id,
        kind=kind,
        reason=reason,
        started_by=principal.account_id,
        started_at=now,
    )
    session.add(row)
    await emit(
        session,
        f"privacy.{kind.lower()}_started",
        target_type=person.kind.value.title(),
        target_id=person.id,
        detail={"restrictionId": str(row.id)},
    )
    return row


async def start(
    session: AsyncSession,
    principal: Principal,
    kind: Subject,
    person_id: uuid.UUID,
    *,
    what: str,
    reason: str,
    now: datetime,
) -> ProcessingRestriction:
    """A school admin restricts a person's processing (``what`` RESTRICTION) or records their objection
    (OBJECTION). An erased person is ``ERASED``; an unknown one ``NOT_FOUND``."""
    person = await subjects.find_living(session, principal.school_id, kind, person_id)
    return await _start(session, principal, person, what, reason, now)


async def object_for_child(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID, *, reason: str, now: datetime
) -> ProcessingRestriction:
    """A parent objects to the statistical use of their linked child's data (a child under 13; from 13 the
    school records the pupil's own objection)."""
    if principal.role is not Role.PARENT or not principal.may_see_pupil(pupil_id):
        raise DomainError.one("pupilId", "NOT_YOUR_CHILD", "You can object only for a child linked to you.")
    born = await session.scalar(
        select(Pupil.date_of_birth).where(in_school(Pupil, principal.school_id), Pupil.id == pupil_id)
    )
    if not needs_parental_consent(born, school_today(now)):
        raise DomainError.one(
            "pupilId", "PUPIL_DECIDES", "From 13 a pupil objects for themself: ask the school to record it."
        )
    person = await subjects.find(session, principal.school_id, Subject.PUPIL, pupil_id, field="pupilId")
    return await _start(session, principal, person, OBJECTION, reason, now)


async def lift(
    session: AsyncSession,
    principal: Principal,
    kind: Subject,
    person_id: uuid.UUID,
    *,
    what: str,
    now: datetime,
) -> ProcessingRestriction:
    """End a restriction or objection in force (``NOT_IN_FORCE`` when there is none)."""
    row = await _current(session, principal.school_id, person_id, what)
    if row is None:
        raise DomainError.one("personId", "NOT_IN_FORCE", f"No {what.lower()} in force for this person.")
    row.lifted_at, row.lifted_by = now, principal.account_id
    await emit(
        session,
        f"privacy.{what.lower()}_lifted",
        target_type=kind.value.title(),
        target_id=person_id,
        detail={"restrictionId": str(row.id)},
    )
    return row

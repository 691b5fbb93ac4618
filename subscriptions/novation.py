"""A school changing trust as a tenant novation (LL 20 rebrokerage; LL 7.1.16).

``propose`` (an operator, or the outgoing trust: LL 7.1.16 has it tell the platform when a school leaves,
for which trust and from when) -> ``accept`` (the successor trust's admin, recording its acceptance of the
licence terms) -> applied on the effective date, by ``schoolgraph jobs run`` or at once when accepted on
that date. ``reject`` (the successor) and ``withdraw`` (the proposer's side) close it unapplied.

Applying switches the school's membership through the effective-dated rows (``join_trust``: the old row
ends the day the new one begins) and novates the licence: the school's cover under the old licence ends,
and a new licence for the successor, naming the old one, covers it from the effective date. The school's
``school_id``, its data, users and URL stay exactly as they are; the history stays queryable. A local
authority school converting to an academy is the same operation with another reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problems
from common.events import emit_for_school
from models import School, SchoolTrustMembership, Trust
from models.licensing import NOVATION_REASONS, OPEN_NOVATION, Novation
from subscriptions import outbox
from subscriptions.licences import lock_schools, terms_in_force
from subscriptions.novation_licence import novate_licence
from subscriptions.provisioning import join_trust
from tenants.context import bound
from tenants.scoping import in_school

ACADEMY_KINDS = ("MULTI_ACADEMY_TRUST", "SINGLE_ACADEMY_TRUST")


@dataclass(frozen=True)
class Party:
    """Who acts on a novation: an operator, a trust's admin (with the trust), or the jobs runner."""

    type: str  # OPERATOR | TRUST_ADMIN | SYSTEM
    id: uuid.UUID | None
    trust_id: uuid.UUID | None = None


async def _current_membership(
    session: AsyncSession, school_id: uuid.UUID, on: date
) -> SchoolTrustMembership | None:
    async with bound(session, [school_id]):
        return (
            await session.execute(
                select(SchoolTrustMembership).where(
                    in_school(SchoolTrustMembership, school_id),
                    SchoolTrustMembership.effective_from <= on,
                    or_(
                        SchoolTrustMembership.effective_to.is_(None),  # type: ignore[union-attr]
                        SchoolTrustMembership.effective_to > on,
                    ),
                )
            )
        ).scalar_one_or_none()


async def _latest_membership(session: AsyncSession, school_id: uuid.UUID) -> SchoolTrustMembership | None:
    async with bound(session, [school_id]):
        return (
            await session.execute(
                select(SchoolTrustMembership)
                .where(in_school(SchoolTrustMembership, school_id))
                .order_by(SchoolTrustMembership.effective_from.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one_or_none()


async def _notify(
    session: AsyncSession,
    novation: Novation,
    school: School,
    *,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
) -> None:
    """Super-Users of the school and the admins of both trusts hear of every step of a novation."""
    await outbox.enqueue(session, kind=kind, subject=subject, body=body, now=now, tenant_id=school.id)
    for trust_id in (novation.from_trust_id, novation.to_trust_id):
        if trust_id is not None:
            await outbox.enqueue(session, kind=kind, subject=subject, body=body, now=now, trust_id=trust_id)


async def propose(
    session: AsyncSession,
    *,
    school_id: uuid.UUID,
    to_trust_id: uuid.UUID,
    effective_date: date,
    reason: str,
    note: str | None,
    by: Party,
    today: date,
    now: datetime,
) -> Novation:
    """Propose moving a school to ``to_trust_id`` on ``effective_date``. Writes nothing on any problem."""
    schools = await lock_schools(session, [school_id])
    school = schools.get(school_id)
    current = await _current_membership(session, school_id, today) if school is not None else None
    if school is None or (by.type == "TRUST_ADMIN" and (current is None or current.trust_id != by.trust_id)):
        # A trust admin may propose only for a school of its own trust; any other is "no such school".
        raise DomainError.one("schoolId", "NOT_FOUND", "No such school in this trust.")
    to_trust = await _checked_proposal(
        session,
        school,
        current,
        to_trust_id=to_trust_id,
        reason=reason,
        effective_date=effective_date,
        today=today,
    )
    novation = Novation(
        tenant_id=school_id,
        from_trust_id=None if current is None else current.trust_id,
        to_trust_id=to_trust_id,
        reason=reason,
        effective_date=effective_date,
        note=note,
        proposed_by_type=by.type,
        proposed_by=by.id,
        proposed_at=now,
    )
    session.add(novation)
    await session.flush()
    await _notify(
        session,
        novation,
        school,
        kind="NOVATION_PROPOSED",
        subject=f"{school.name}: proposed move to {to_trust.name} on {effective_date}",
        body=(
            f"A novation of the licence of {school.name} to {to_trust.name} from {effective_date} was proposed "
            f"({reason.replace('_', ' ').lower()}, LL 20). {to_trust.name} must accept it, and the licence terms, "
            "before it takes effect. The school's data, users and address do not change."
        ),
        now=now,
    )
    await _emit(session, novation, "proposed")
    return novation


async def _checked_proposal(
    session: AsyncSession,
    school: School,
    current: SchoolTrustMembership | None,
    *,
    to_trust_id: uuid.UUID,
    reason: str,
    effective_date: date,
    today: date,
) -> Trust:
    """The successor trust of a valid proposal; raises every problem with the proposal at once."""
    problems = Problems()
    to_trust = await session.get(Trust, to_trust_id)
    from_trust = None if current is None else await session.get(Trust, current.trust_id)
    if school.status == "TERMINATED":
        problems.add("schoolId", "SCHOOL_TERMINATED", f"{school.name} is terminated.")
    _check_successor(problems, school, current, to_trust, from_trust, to_trust_id=to_trust_id, reason=reason)
    await _check_effective_date(session, problems, school.id, effective_date, today=today)
    pending = (
        await session.execute(
            select(Novation.id).where(Novation.tenant_id == school.id, Novation.status.in_(OPEN_NOVATION))  # type: ignore[attr-defined]
        )
    ).first()
    if pending is not None:
        problems.add("schoolId", "NOVATION_PENDING", f"A novation of {school.name} is pending already.")
    problems.raise_if_any()
    assert to_trust is not None
    return to_trust


def _check_successor(
    problems: Problems,
    school: School,
    current: SchoolTrustMembership | None,
    to_trust: Trust | None,
    from_trust: Trust | None,
    *,
    to_trust_id: uuid.UUID,
    reason: str,
) -> None:
    """The successor trust exists, is another academy trust, and fits the reason (LL 20.1)."""
    if to_trust is None:
        problems.add("toTrust", "NOT_FOUND", "No such trust.")
    elif current is not None and current.trust_id == to_trust_id:
        problems.add("toTrust", "SAME_TRUST", f"{school.name} is in {to_trust.name} already.")
    if reason not in NOVATION_REASONS:
        problems.add("reason", "INVALID_REASON", f"reason must be one of {', '.join(NOVATION_REASONS)}.")
    elif to_trust is not None:
        if to_trust.kind not in ACADEMY_KINDS:
            problems.add(
                "toTrust", "NOT_AN_ACADEMY_TRUST", "A school can only be novated to an academy trust."
            )
        elif (
            reason == "CONVERSION_TO_ACADEMY"
            and from_trust is not None
            and from_trust.kind != "LOCAL_AUTHORITY"
        ):
            problems.add(
                "reason", "REASON_MISMATCH", "Conversion to an academy is from a local authority (LL 20.1.1)."
            )
        elif reason == "TRUST_TRANSFER" and (from_trust is None or from_trust.kind not in ACADEMY_KINDS):
            problems.add(
                "reason", "REASON_MISMATCH", "A trust transfer moves an academy between trusts (LL 20.1.2)."
            )


async def _check_effective_date(
    session: AsyncSession, problems: Problems, school_id: uuid.UUID, effective_date: date, *, today: date
) -> None:
    """The effective date is not past and after the school joined its current trust (a read, if not past)."""
    if effective_date < today:
        problems.add("effectiveDate", "EFFECTIVE_DATE_IN_PAST", "The effective date cannot be in the past.")
        return
    latest = await _latest_membership(session, school_id)
    if latest is not None and effective_date <= latest.effective_from:
        problems.add(
            "effectiveDate",
            "BEFORE_CURRENT_MEMBERSHIP",
            f"The school joined its trust on {latest.effective_from}: the change must come after that.",
        )


async def _novation(session: AsyncSession, novation_id: uuid.UUID) -> Novation | None:
    return await session.get(Novation, novation_id, with_for_update=True)


def _not_found() -> DomainError:
    return DomainError.one("novationId", "NOT_FOUND", "No such novation for this trust.")


async def accept(
    session: AsyncSession,
    novation_id: uuid.UUID,
    *,
    by: Party,
    accept_terms: bool,
    terms_version: str,
    today: date,
    now: datetime,
) -> Novation:
    """The successor trust accepts (and the licence terms, LL 20); applied at once if due today."""
    novation = await _novation(session, novation_id)
    if novation is None or novation.to_trust_id != by.trust_id:
        # Someone else's novation is indistinguishable from none at all.
        raise _not_found()
    problems = Problems()
    if novation.status != "PROPOSED":
        problems.add("novationId", "NOT_PROPOSED", f"This novation is {novation.status.lower()}.")
    if not accept_terms:
        problems.add(
            "acceptLicenceTerms", "TERMS_NOT_ACCEPTED", "The successor must accept the licence terms."
        )
    in_force = await terms_in_force(session, now)
    if terms_version != in_force:
        problems.add("termsVersion", "TERMS_VERSION_MISMATCH", f"The licence terms in force are {in_force}.")
    if novation.effective_date < today:
        problems.add(
            "novationId",
            "EFFECTIVE_DATE_PASSED",
            f"The effective date {novation.effective_date} has passed: it must be withdrawn and proposed again.",
        )
    problems.raise_if_any()
    novation.status = "ACCEPTED"
    novation.accepted_by = by.id
    novation.accepted_at = now
    novation.accepted_terms_version = terms_version
    await session.flush()
    school = await session.get(School, novation.tenant_id)
    assert school is not None
    await _notify(
        session,
        novation,
        school,
        kind="NOVATION_ACCEPTED",
        subject=f"{school.name}: move on {novation.effective_date} accepted",
        body=f"The successor trust accepted the novation of the licence of {school.name} and its terms "
        f"({terms_version}); it takes effect on {novation.effective_date}.",
        now=now,
    )
    await _emit(session, novation, "accepted", termsVersion=terms_version)
    if novation.effective_date <= today:
        await apply(session, novation, now=now)
    return novation


async def reject(
    session: AsyncSession, novation_id: uuid.UUID, *, by: Party, reason: str | None, now: datetime
) -> Novation:
    novation = await _novation(session, novation_id)
    if novation is None or novation.to_trust_id != by.trust_id:
        raise _not_found()
    if novation.status != "PROPOSED":
        raise DomainError.one("novationId", "NOT_PROPOSED", f"This novation is {novation.status.lower()}.")
    return await _close(session, novation, "REJECTED", by=by, reason=reason, now=now)


async def withdraw(
    session: AsyncSession, novation_id: uuid.UUID, *, by: Party, reason: str | None, now: datetime
) -> Novation:
    """Withdrawn by an operator or the outgoing trust, any time before it is applied."""
    novation = await _novation(session, novation_id)
    if novation is None or (by.type == "TRUST_ADMIN" and novation.from_trust_id != by.trust_id):
        raise _not_found()
    if novation.status not in OPEN_NOVATION:
        raise DomainError.one("novationId", "NOT_OPEN", f"This novation is {novation.status.lower()}.")
    return await _close(session, novation, "WITHDRAWN", by=by, reason=reason, now=now)


async def _close(
    session: AsyncSession, novation: Novation, status: str, *, by: Party, reason: str | None, now: datetime
) -> Novation:
    novation.status = status
    novation.closed_by_type = by.type
    novation.closed_by = by.id
    novation.closed_at = now
    novation.close_reason = reason
    await session.flush()
    school = await session.get(School, novation.tenant_id)
    assert school is not None
    await _notify(
        session,
        novation,
        school,
        kind=f"NOVATION_{status}",
        subject=f"{school.name}: proposed move {status.lower()}",
        body=f"The proposed novation of the licence of {school.name} from {novation.effective_date} was "
        f"{status.lower()}" + (f": {reason}" if reason else "."),
        now=now,
    )
    await _emit(session, novation, status.lower())
    return novation


async def _emit(session: AsyncSession, novation: Novation, what: str, **detail: str) -> None:
    """``novation.<what>`` in the school's chain and the platform log, whoever did it."""
    await emit_for_school(
        session,
        novation.tenant_id,
        f"novation.{what}",
        target_type="Novation",
        target_id=novation.id,
        detail=detail,
    )


def due(today: date) -> object:
    return and_(Novation.status == "ACCEPTED", Novation.effective_date <= today)


async def apply(session: AsyncSession, novation: Novation, *, now: datetime) -> None:
    """Switch the membership and novate the licence (the novation row is locked by the caller); emitted to
    the school's chain and the platform log, whoever applied it (the jobs runner on the day, or the
    successor's acceptance when the day has come)."""
    if novation.status != "ACCEPTED" or novation.effective_date > now.date():
        return
    effective = novation.effective_date
    await lock_schools(session, [novation.tenant_id])
    async with bound(session, [novation.tenant_id]):
        await join_trust(session, novation.tenant_id, novation.to_trust_id, effective_from=effective, now=now)
    to_trust = await session.get(Trust, novation.to_trust_id)
    assert to_trust is not None
    await novate_licence(session, novation, to_trust, now=now)
    novation.status = "APPLIED"
    novation.applied_at = now
    await session.flush()
    school = await session.get(School, novation.tenant_id)
    assert school is not None
    await _notify(
        session,
        novation,
        school,
        kind="NOVATION_APPLIED",
        subject=f"{school.name} is now with {to_trust.name}",
        body=(
            f"From {effective}, {school.name} is part of {to_trust.name}, and its licence is novated to "
            f"{to_trust.name} (LL 20). The school's address, data and users are unchanged."
        ),
        now=now,
    )
    await _emit(
        session, novation, "applied", toTrustId=str(novation.to_trust_id), effectiveDate=str(effective)
    )

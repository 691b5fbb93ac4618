"""A new licence for named schools, with its first invoice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import Problems
from models import School, Trust
from models.licensing import Licence, LicenceSchool
from subscriptions.licences.covers import covers_of, lock_schools
from subscriptions.licences.invoices import new_invoice
from subscriptions.licences.terms import PAYMENT_TERMS, add_years, cover_end, new_reference, overlaps
from subscriptions.trusts import current_trust_ids
from tenants.context import bound


@dataclass(frozen=True)
class NewLicence:
    licensee_trust_id: uuid.UUID | None
    licensee_school_id: uuid.UUID | None
    school_ids: Sequence[uuid.UUID]
    term_start: date
    term_end: date | None
    auto_renew: bool
    annual_fee_pence: int
    terms_version: str
    first_invoice_due_on: date | None


async def create_licence(
    session: AsyncSession, new: NewLicence, *, created_by: uuid.UUID | None, today: date, now: datetime
) -> Licence:
    """A licence for named schools, with its first invoice. Refuses a cover overlapping another licence's.

    Every problem is reported at once (``DomainError``), in the order: the terms, the licensee, each school.
    """
    problems = Problems()
    school_ids = list(dict.fromkeys(new.school_ids))
    term_end = new.term_end or add_years(new.term_start)
    _check_terms(new, school_ids, term_end, today, problems)
    licensee_name, schools = await _licensee(session, new, school_ids, problems)
    await _check_schools(session, new, school_ids, schools, term_end, today, problems)
    problems.raise_if_any()
    licence = Licence(
        reference=new_reference("LIC"),
        licensee_trust_id=new.licensee_trust_id,
        licensee_tenant_id=new.licensee_school_id,
        licensee_name=licensee_name,
        terms_version=new.terms_version.strip(),
        term_start=new.term_start,
        term_end=term_end,
        auto_renew=new.auto_renew,
        annual_fee_pence=new.annual_fee_pence,
        created_by=created_by,
        created_at=now,
    )
    session.add(licence)
    await session.flush()
    session.add_all(
        LicenceSchool(licence_id=licence.id, tenant_id=s, covered_from=new.term_start) for s in school_ids
    )
    await new_invoice(
        session,
        licence,
        amount=new.annual_fee_pence,
        period=(new.term_start, term_end),
        issued_on=today,
        due_on=new.first_invoice_due_on or today + PAYMENT_TERMS,
    )
    return licence


def _check_terms(
    new: NewLicence, school_ids: list[uuid.UUID], term_end: date, today: date, problems: Problems
) -> None:
    if (new.licensee_trust_id is None) == (new.licensee_school_id is None):
        problems.add("licensee", "ONE_LICENSEE", "Name exactly one licensee: a trust or a school.")
    if not school_ids:
        problems.add("schoolIds", "REQUIRED", "A licence covers at least one school.")
    if term_end <= new.term_start:
        problems.add("termEnd", "INVALID_TERM", "The term must end after it starts.")
    if new.annual_fee_pence < 0:
        problems.add("annualFeePence", "INVALID_AMOUNT", "The fee cannot be negative.")
    if not new.terms_version.strip():
        problems.add("termsVersion", "REQUIRED", "Name the version of the licence terms agreed.")
    if new.first_invoice_due_on is not None and new.first_invoice_due_on < today:
        problems.add("firstInvoiceDueOn", "IN_THE_PAST", "An invoice cannot fall due in the past.")


async def _licensee(
    session: AsyncSession, new: NewLicence, school_ids: list[uuid.UUID], problems: Problems
) -> tuple[str, dict[uuid.UUID, School]]:
    """The licensee's name, and the covered schools locked (a school licensee covers itself only)."""
    licensee_name = ""
    if new.licensee_trust_id is not None:
        trust = await session.get(Trust, new.licensee_trust_id)
        if trust is None:
            problems.add("licensee.trustId", "NOT_FOUND", "No such trust.")
        else:
            licensee_name = trust.name
    schools = await lock_schools(session, school_ids)
    if new.licensee_school_id is not None:
        licensee = schools.get(new.licensee_school_id) or await session.get(School, new.licensee_school_id)
        if licensee is None:
            problems.add("licensee.schoolId", "NOT_FOUND", "No such school.")
        else:
            licensee_name = licensee.name
            if school_ids != [licensee.id]:
                problems.add(
                    "schoolIds", "SCHOOL_LICENSEE", "A school's own licence covers that school and no other."
                )
    return licensee_name, schools


async def _check_schools(
    session: AsyncSession,
    new: NewLicence,
    school_ids: list[uuid.UUID],
    schools: dict[uuid.UUID, School],
    term_end: date,
    today: date,
    problems: Problems,
) -> None:
    """Each school exists, is not terminated, is in the licensee trust today, and is covered by no other
    licence for any day of the term."""
    async with bound(session, list(schools)):
        trusts = await current_trust_ids(session, list(schools), today)
    new_end = None if new.auto_renew else term_end
    for i, school_id in enumerate(school_ids):
        school = schools.get(school_id)
        if school is None:
            problems.add(f"schoolIds.{i}", "NOT_FOUND", "No such school.")
            continue
        if school.status == "TERMINATED":
            problems.add(f"schoolIds.{i}", "SCHOOL_TERMINATED", f"{school.name} is terminated.")
            continue
        if new.licensee_trust_id is not None and trusts.get(school_id) != new.licensee_trust_id:
            problems.add(
                f"schoolIds.{i}", "SCHOOL_NOT_IN_TRUST", f"{school.name} is not in the licensee trust today."
            )
        for licence, cover in await covers_of(session, school_id):
            if overlaps(new.term_start, new_end, cover.covered_from, cover_end(licence, cover)):
                problems.add(
                    f"schoolIds.{i}",
                    "OVERLAPPING_LICENCE",
                    f"{school.name} is covered by licence {licence.reference} for part of this term.",
                )
                break

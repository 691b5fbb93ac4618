"""Provisioning a school on an accepted order (LL 4.1 - 4.3), as one transaction.

LL 4.1: the school-specific site with its unique URL is set up on receipt of the completed order and
confirmation of payment, so both are required, and nothing of the school exists before this runs.
LL 4.2: log-in details for the School Subscriber account: a PENDING school admin with a one-time
activation code. LL 4.3: that account is the school's master account (role SCHOOL_ADMIN), from which the
school creates its Registered Users. The first admin is also the school's first Super-User.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import DomainError, Problem, Problems
from common.events import emit_for_school
from models import School, Trust
from models.schools import SCHOOL_PHASES, TRUST_KINDS
from subscriptions.provisioning import create_school, create_trust, join_trust
from subscriptions.school_admins import NewSchoolAdmin, create_school_admin
from tenants.context import bound

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
URN = re.compile(r"^[0-9]{6,7}$")
ADMIN_FIELDS = ("forename", "surname", "email", "username")


@dataclass(frozen=True)
class Order:
    slug: str
    name: str
    phase: str
    urn: str | None
    trust_id: uuid.UUID | None
    order_reference: str
    payment_confirmed: bool
    admin_forename: str
    admin_surname: str
    admin_email: str
    admin_username: str


@dataclass(frozen=True)
class Provisioned:
    school: School
    admin: NewSchoolAdmin


def slug_problem(slug: str, field: str = "slug") -> tuple[str, str, str] | None:
    if not SLUG.fullmatch(slug) or len(slug) > 63:
        return (field, "INVALID_SLUG", "Lower-case letters and digits in words joined by '-', at most 63.")
    return None


async def new_trust(session: AsyncSession, *, slug: str, name: str, kind: str, now: datetime) -> Trust:
    problems = Problems()
    if (p := slug_problem(slug)) is not None:
        problems.add(*p)
    if not name.strip():
        problems.add("name", "REQUIRED", "A trust needs a name.")
    if kind not in TRUST_KINDS:
        problems.add("kind", "INVALID_KIND", f"kind must be one of {', '.join(TRUST_KINDS)}.")
    problems.raise_if_any()
    return await create_trust(session, slug=slug, name=name.strip(), kind=kind, now=now)


async def provision_school(
    session: AsyncSession, order: Order, *, operator_id: uuid.UUID | None, today: date, now: datetime
) -> Provisioned:
    problems = Problems()
    if not order.payment_confirmed:
        problems.add(
            "paymentConfirmed",
            "PAYMENT_NOT_CONFIRMED",
            "A school is set up on the completed order with confirmation of payment (LL 4.1).",
        )
    if not order.order_reference.strip():
        problems.add("orderReference", "REQUIRED", "Give the accepted order's reference.")
    if (p := slug_problem(order.slug)) is not None:
        problems.add(*p)
    if order.urn is not None and not URN.fullmatch(order.urn):
        problems.add("urn", "INVALID_URN", "A URN is 6 or 7 digits.")
    if not order.name.strip():
        problems.add("name", "REQUIRED", "A school needs a name.")
    if order.phase not in SCHOOL_PHASES:
        problems.add("phase", "INVALID_PHASE", f"phase must be one of {', '.join(SCHOOL_PHASES)}.")
    if order.trust_id is not None and await session.get(Trust, order.trust_id) is None:
        problems.add("trustId", "NOT_FOUND", "No such trust.")
    problems.raise_if_any()
    school = await create_school(
        session, slug=order.slug, name=order.name.strip(), phase=order.phase, urn=order.urn, now=now
    )
    try:
        async with bound(session, [school.id]):
            if order.trust_id is not None:
                await join_trust(session, school.id, order.trust_id, effective_from=today, now=now)
            admin = await create_school_admin(
                session,
                school.id,
                forename=order.admin_forename,
                surname=order.admin_surname,
                email=order.admin_email,
                username=order.admin_username,
                issuer_type="OPERATOR",
                issuer_id=operator_id,
                super_user=True,
                now=now,
            )
    except DomainError as error:
        # The admin's fields are nested under "admin" in the input.
        raise DomainError(
            Problem(f"admin.{p.field}" if p.field in ADMIN_FIELDS else p.field, p.code, p.message)
            for p in error.problems
        ) from None
    await emit_for_school(
        session,
        school.id,
        "school.provisioned",
        target_type="School",
        target_id=school.id,
        detail={"orderReference": order.order_reference, "adminAccountId": str(admin.account.id)},
    )
    return Provisioned(school=school, admin=admin)

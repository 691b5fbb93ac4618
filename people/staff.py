"""School-admin operations on a school's staff: create, update, deactivate, and which pupils they see.

LL 6.3.1 (staff are named, with a work email), LL 11.1 and LL 11.2 (a leaver's access ends at once). The
contract every operation keeps is in :mod:`people.service`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common.clock import school_today
from common.errors import Problems
from common.maybe import UNSET, Maybe
from models import Account, Staff
from models.people import PUPIL_ACCESS_SCOPES
from people import validation as v
from people.leaving import date_of_leaving, record_leaving
from people.processing import refuse_if_restricted
from people.rows import STAFF, Unique, apply_changes, check_unique, find


@dataclass(frozen=True)
class NewStaff:
    forename: str
    surname: str
    work_email: str
    title: str | None = None
    secondary_email: str | None = None
    teaching: bool = True
    role_text: str | None = None
    staff_code: str | None = None
    date_of_leaving: date | None = None


@dataclass(frozen=True)
class StaffChanges:
    staff_id: uuid.UUID
    title: Maybe[str | None] = UNSET
    forename: Maybe[str | None] = UNSET
    surname: Maybe[str | None] = UNSET
    work_email: Maybe[str | None] = UNSET
    secondary_email: Maybe[str | None] = UNSET
    teaching: Maybe[bool | None] = UNSET
    role_text: Maybe[str | None] = UNSET
    staff_code: Maybe[str | None] = UNSET
    date_of_leaving: Maybe[date | None] = UNSET


@dataclass(frozen=True)
class StaffLeaving:
    staff_id: uuid.UUID
    date_of_leaving: date | None = None
    """None: today."""


@dataclass(frozen=True)
class PupilAccessGrant:
    staff_id: uuid.UUID
    access: str
    """TAUGHT (the pupils of the groups they teach) or SCHOOL (every pupil)."""
    reason: str | None = None
    """Required for SCHOOL ("Head of Year 6", "SENCO", ...); not kept for TAUGHT."""


FIELDS: dict[str, v.Cleaner] = {
    "title": v.text("The title", 20),
    "forename": v.text("The forename", 100, required=True),
    "surname": v.text("The surname", 100, required=True),
    "work_email": v.email("The work email", required=True),
    "secondary_email": v.email("The secondary email"),
    "teaching": v.required("Whether they teach"),
    "role_text": v.text("The role", 100),
    "staff_code": v.text("The staff code", 20),
    "date_of_leaving": v.optional,
}
UNIQUE = (
    Unique(
        "staff_code",
        "DUPLICATE_STAFF_CODE",
        "Another member of staff at this school has the staff code {value!r}.",
    ),
)


def _own_record(problems: Problems, principal: Principal, staff_id: uuid.UUID) -> None:
    if principal.staff_id == staff_id:
        problems.add(
            "staffId",
            "OWN_ACCOUNT",
            "You cannot end your own access: ask another school admin to record your leaving.",
        )


async def create_staff(
    session: AsyncSession, principal: Principal, data: NewStaff, *, now: datetime
) -> Staff:
    """LL 6.3.1: a named member of staff with a work email. A leaving date today or earlier: created inactive."""
    problems = Problems()
    cleaned = v.clean(problems, FIELDS, data)
    await check_unique(session, principal, problems, Staff, cleaned, UNIQUE)
    problems.raise_if_any()
    leaving = cleaned.get("date_of_leaving")
    staff = Staff(
        school_id=principal.school_id,
        **cleaned,
        active=leaving is None or leaving > school_today(now),
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    return staff


async def update_staff(
    session: AsyncSession, principal: Principal, data: StaffChanges, *, now: datetime
) -> Staff:
    """Change the given fields. Setting a leaving date of today or earlier also ends their access (LL 11.1)."""
    problems = Problems()
    staff: Staff | None = await find(session, principal, STAFF, data.staff_id, problems, lock=True)
    cleaned = v.clean(problems, FIELDS, data)
    await check_unique(session, principal, problems, Staff, cleaned, UNIQUE, exclude=data.staff_id)
    leaving = cleaned.get("date_of_leaving")
    leaves_now = staff is not None and staff.active and leaving is not None and leaving <= school_today(now)
    if leaves_now:
        _own_record(problems, principal, data.staff_id)
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, [data.staff_id], "staffId")
    assert staff is not None
    apply_changes(staff, cleaned, now=now)
    if leaves_now:
        assert leaving is not None
        await record_leaving(session, principal, staff, Account.staff_id, leaving, now=now)
    await session.flush()
    return staff


async def deactivate_staff(
    session: AsyncSession, principal: Principal, data: StaffLeaving, *, now: datetime
) -> Staff:
    """LL 11.1, LL 11.2: a leaver. Inactive from now; their account is disabled and its sessions revoked."""
    problems = Problems()
    staff: Staff | None = await find(session, principal, STAFF, data.staff_id, problems, lock=True)
    leaving = date_of_leaving(problems, data.date_of_leaving, staff, school_today(now))
    _own_record(problems, principal, data.staff_id)
    problems.raise_if_any()
    assert staff is not None
    await record_leaving(session, principal, staff, Account.staff_id, leaving, now=now)
    await session.flush()
    return staff


async def set_staff_pupil_access(
    session: AsyncSession, principal: Principal, data: PupilAccessGrant, *, now: datetime
) -> Staff:
    """Which pupils a member of staff sees: those they teach, or (with a recorded reason) the whole school.

    Records who granted it and when; takes effect on their next request.
    """
    problems = Problems()
    staff: Staff | None = await find(
        session, principal, STAFF, data.staff_id, problems, lock=True, active=True
    )
    access = v.choice("The access", PUPIL_ACCESS_SCOPES)(problems, "access", data.access)
    reason = None
    if access == "SCHOOL":
        reason = v.text("The reason for school-wide access", 100, required=True)(
            problems, "reason", data.reason
        )
    problems.raise_if_any()
    assert staff is not None
    staff.pupil_access = access
    staff.pupil_access_reason = reason
    staff.pupil_access_granted_by = principal.account_id
    staff.pupil_access_granted_at = now
    staff.updated_at = now
    await session.flush()
    return staff

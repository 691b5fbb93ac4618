"""School-admin operations on a school's pupils: create, update, deactivate.

LL-S1 (the Schedule 1 fields), LL 6.3.2 (an accurate date of birth), LL 11.1 and LL 11.2 (a leaver's
access ends at once). The contract every operation keeps is in :mod:`people.service`.
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
from models import Account, Pupil
from models.people import GENDERS
from people import validation as v
from people.leaving import date_of_leaving, record_leaving
from people.processing import refuse_if_restricted
from people.rows import PUPIL, Unique, apply_changes, check_unique, find


@dataclass(frozen=True)
class NewPupil:
    forename: str
    surname: str
    date_of_birth: date
    gender: str
    upn: str
    email: str | None = None
    uln: str | None = None


@dataclass(frozen=True)
class PupilChanges:
    pupil_id: uuid.UUID
    forename: Maybe[str | None] = UNSET
    surname: Maybe[str | None] = UNSET
    date_of_birth: Maybe[date | None] = UNSET
    gender: Maybe[str | None] = UNSET
    email: Maybe[str | None] = UNSET
    upn: Maybe[str | None] = UNSET
    uln: Maybe[str | None] = UNSET


@dataclass(frozen=True)
class PupilLeaving:
    pupil_id: uuid.UUID
    date_of_leaving: date | None = None
    """None: today."""


def _fields(today: date) -> dict[str, v.Cleaner]:
    return {
        "forename": v.text("The forename", 100, required=True),
        "surname": v.text("The surname", 100, required=True),
        "date_of_birth": v.date_of_birth(today),
        "gender": v.choice("The gender", GENDERS),
        "email": v.email("The email"),
        "upn": v.upn,
        "uln": v.uln,
    }


UNIQUE = (
    Unique("upn", "DUPLICATE_UPN", "Another pupil at this school has the UPN {value}."),
    Unique("uln", "DUPLICATE_ULN", "Another pupil at this school has the ULN {value}."),
)


async def create_pupil(
    session: AsyncSession, principal: Principal, data: NewPupil, *, now: datetime
) -> Pupil:
    """LL-S1: a pupil with name, date of birth, gender, UPN (unique at the school) and optional ULN, email."""
    problems = Problems()
    cleaned = v.clean(problems, _fields(school_today(now)), data)
    await check_unique(session, principal, problems, Pupil, cleaned, UNIQUE)
    problems.raise_if_any()
    pupil = Pupil(school_id=principal.school_id, **cleaned, created_at=now)
    session.add(pupil)
    await session.flush()
    return pupil


async def update_pupil(
    session: AsyncSession, principal: Principal, data: PupilChanges, *, now: datetime
) -> Pupil:
    problems = Problems()
    pupil: Pupil | None = await find(session, principal, PUPIL, data.pupil_id, problems, lock=True)
    cleaned = v.clean(problems, _fields(school_today(now)), data)
    await check_unique(session, principal, problems, Pupil, cleaned, UNIQUE, exclude=data.pupil_id)
    problems.raise_if_any()
    await refuse_if_restricted(session, principal.school_id, [data.pupil_id], "pupilId")
    assert pupil is not None
    apply_changes(pupil, cleaned, now=now)
    await session.flush()
    return pupil


async def deactivate_pupil(
    session: AsyncSession, principal: Principal, data: PupilLeaving, *, now: datetime
) -> Pupil:
    """LL 11.1, LL 11.2: a leaver. Inactive from now; their account is disabled and its sessions revoked.

    The record and its group memberships stay (school admins still see them); erasure is a privacy
    operation of its own.
    """
    problems = Problems()
    pupil: Pupil | None = await find(session, principal, PUPIL, data.pupil_id, problems, lock=True)
    leaving = date_of_leaving(problems, data.date_of_leaving, pupil, school_today(now))
    problems.raise_if_any()
    assert pupil is not None
    await record_leaving(session, principal, pupil, Account.pupil_id, leaving, now=now)
    await session.flush()
    return pupil

"""School-admin operations on a school's staff, pupils, groups, memberships and contacts.

Obligations carried out here: LL 4.3 (the school admin manages the Registered Users), LL 6.3.1 (staff are
named, with a work email), LL 6.3.2 (an accurate date of birth), LL 11.1 and LL 11.2 (a leaver's access
ends at once: their account is disabled and every session revoked), LL-S1 (the Schedule 1 fields).

Contract of every operation:

* It takes the request's session (bound to the school), the calling :class:`Principal` (a school admin:
  the GraphQL layer enforces the policy), one input dataclass and ``now``.
* It validates the whole input first and reports every problem at once as a :class:`DomainError` whose
  fields are camelCase dotted paths of the mutation input (``upn``, ``pupilIds.2``); nothing is written
  then. Only after that does it write, through the scoping helper, ``flush()`` and never ``commit()``.
* A row of another school is exactly an unknown row: NOT_FOUND, never a hint that it exists.
* Updates change only the fields given: :data:`UNSET` means "not given", ``None`` means "clear it" (and is
  refused with REQUIRED for a field that cannot be empty).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from auth.service import set_account_status
from common.clock import school_today
from common.errors import Problems
from common.identifiers import IdentifierError, validate_email, validate_uln, validate_upn
from common.maybe import UNSET, Maybe
from models import Account, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, Staff
from models.groups import GROUP_TYPES
from models.people import CONTACT_RELATIONSHIPS, GENDERS, PUPIL_ACCESS_SCOPES
from tenants.scoping import restrict, scoped, scoped_delete

MIN_PUPIL_AGE: Final = 2
MAX_PUPIL_AGE: Final = 25
EARLIEST_DATE_OF_BIRTH: Final = date(1990, 1, 1)
MAX_GROUP_MEMBERS_PER_CALL: Final = 1000
YEAR_GROUPS: Final = range(-2, 15)


# --- inputs ---------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class NewGroup:
    name: str
    kind: str
    year_group: int | None = None
    subject: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class GroupChanges:
    group_id: uuid.UUID
    name: Maybe[str | None] = UNSET
    kind: Maybe[str | None] = UNSET
    year_group: Maybe[int | None] = UNSET
    subject: Maybe[str | None] = UNSET
    external_id: Maybe[str | None] = UNSET


@dataclass(frozen=True)
class GroupRef:
    group_id: uuid.UUID


@dataclass(frozen=True)
class GroupPupils:
    group_id: uuid.UUID
    pupil_ids: Sequence[uuid.UUID]


@dataclass(frozen=True)
class GroupTeacherRef:
    group_id: uuid.UUID
    staff_id: uuid.UUID


@dataclass(frozen=True)
class NewContact:
    forename: str
    surname: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ContactLink:
    contact_id: uuid.UUID
    pupil_id: uuid.UUID
    relationship: str = "PARENT"


@dataclass(frozen=True)
class ContactUnlink:
    contact_id: uuid.UUID
    pupil_id: uuid.UUID


# --- field validation -----------------------------------------------------------------------------------

Cleaner = Callable[[Problems, str, Any], Any]
"""Validates one given value: returns it normalised, or records problems on the field (camelCase path)."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _has_problem(problems: Problems, field: str) -> bool:
    return any(p.field == field for p in problems.items)


def _text(label: str, max_length: int, *, required: bool = False) -> Cleaner:
    """Stripped text; blank is None (REQUIRED if required); no control characters; at most max_length."""

    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        value = value.strip() if value is not None else None
        if not value:
            if required:
                problems.add(field, "REQUIRED", f"{label} is required.")
            return None
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            problems.add(
                field, "INVALID_CHARACTERS", f"{label} must not contain tabs, line breaks or other controls."
            )
        elif len(value) > max_length:
            problems.add(
                field, "TOO_LONG", f"{label} must be at most {max_length} characters (it has {len(value)})."
            )
        return value

    return clean


def _email(label: str, *, required: bool = False) -> Cleaner:
    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        if value is None or not value.strip():
            if required:
                problems.add(field, "REQUIRED", f"{label} is required.")
            return None
        try:
            return validate_email(value)
        except IdentifierError as error:
            problems.add(field, error.code, f"{label} is not valid: {error.message}.")
            return None

    return clean


def _required(label: str) -> Cleaner:
    def clean(problems: Problems, field: str, value: Any) -> Any:
        if value is None:
            problems.add(field, "REQUIRED", f"{label} is required.")
        return value

    return clean


def _choice(label: str, choices: Sequence[str]) -> Cleaner:
    def clean(problems: Problems, field: str, value: str | None) -> str | None:
        if value is None:
            problems.add(field, "REQUIRED", f"{label} is required.")
        elif value not in choices:
            problems.add(field, "INVALID_VALUE", f"{label} must be one of {', '.join(choices)}.")
        return value

    return clean


def _optional(problems: Problems, field: str, value: Any) -> Any:
    return value


def _upn(problems: Problems, field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        problems.add(field, "REQUIRED", "The UPN is required.")
        return None
    try:
        return validate_upn(value)
    except IdentifierError as error:
        problems.add(field, error.code, f"{error.message}.")
        return None


def _uln(problems: Problems, field: str, value: str | None) -> str | None:
    try:
        return validate_uln(value)
    except IdentifierError as error:
        problems.add(field, error.code, f"{error.message}.")
        return None


def _phone(problems: Problems, field: str, value: str | None) -> str | None:
    """A UK or international number as typed: digits with spaces, hyphens, dots, brackets, a leading +."""
    cleaned: str | None = _text("The phone number", 40)(problems, field, value)
    if cleaned is None or _has_problem(problems, field):
        return cleaned
    body = cleaned[1:] if cleaned.startswith("+") else cleaned
    digits = sum(ch.isascii() and ch.isdigit() for ch in body)
    if any(not (ch.isascii() and ch.isdigit()) and ch not in " -.()" for ch in body) or not 7 <= digits <= 15:
        problems.add(
            field,
            "INVALID_PHONE",
            "The phone number must be 7 to 15 digits, optionally with spaces, hyphens, brackets and a "
            "leading +.",
        )
    return cleaned


def _year_group(problems: Problems, field: str, value: int | None) -> int | None:
    if value is not None and value not in YEAR_GROUPS:
        problems.add(
            field,
            "OUT_OF_RANGE",
            f"The year group must be between {YEAR_GROUPS[0]} (nursery) and {YEAR_GROUPS[-1]}, or null "
            "for a mixed-age group.",
        )
    return value


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _date_of_birth(today: date) -> Cleaner:
    """LL 6.3.2: a plausible date of birth for a pupil aged MIN_PUPIL_AGE to MAX_PUPIL_AGE today."""
    latest = _years_before(today, MIN_PUPIL_AGE)
    earliest = max(EARLIEST_DATE_OF_BIRTH, _years_before(today, MAX_PUPIL_AGE + 1) + timedelta(days=1))

    def clean(problems: Problems, field: str, value: date | None) -> date | None:
        if value is None:
            problems.add(field, "REQUIRED", "The date of birth is required.")
        elif value > today:
            problems.add(field, "INVALID_DATE_OF_BIRTH", f"The date of birth {value} is in the future.")
        elif not earliest <= value <= latest:
            problems.add(
                field,
                "INVALID_DATE_OF_BIRTH",
                f"The date of birth {value} would make the pupil younger than {MIN_PUPIL_AGE} or older "
                f"than {MAX_PUPIL_AGE}: it must be between {earliest} and {latest}.",
            )
        return value

    return clean


def _leaving_date(today: date) -> Cleaner:
    """A leaving date for a deactivation, which takes effect now: today (when not given) or earlier."""

    def clean(problems: Problems, field: str, value: date | None) -> date:
        if value is None:
            return today
        if value > today:
            problems.add(
                field,
                "INVALID_DATE",
                f"The leaving date {value} is in the future, but deactivation ends access now: deactivate "
                "on the day they leave.",
            )
        return value

    return clean


def _clean(problems: Problems, specs: dict[str, Cleaner], data: Any) -> dict[str, Any]:
    """The given fields of ``data`` that ``specs`` knows, cleaned; UNSET fields are left out."""
    cleaned: dict[str, Any] = {}
    for item in fields(data):
        value = getattr(data, item.name)
        if item.name in specs and value is not UNSET:
            cleaned[item.name] = specs[item.name](problems, _camel(item.name), value)
    return cleaned


_STAFF_FIELDS: dict[str, Cleaner] = {
    "title": _text("The title", 20),
    "forename": _text("The forename", 100, required=True),
    "surname": _text("The surname", 100, required=True),
    "work_email": _email("The work email", required=True),
    "secondary_email": _email("The secondary email"),
    "teaching": _required("Whether they teach"),
    "role_text": _text("The role", 100),
    "staff_code": _text("The staff code", 20),
    "date_of_leaving": _optional,
}


def _pupil_fields(today: date) -> dict[str, Cleaner]:
    return {
        "forename": _text("The forename", 100, required=True),
        "surname": _text("The surname", 100, required=True),
        "date_of_birth": _date_of_birth(today),
        "gender": _choice("The gender", GENDERS),
        "email": _email("The email"),
        "upn": _upn,
        "uln": _uln,
    }


_GROUP_FIELDS: dict[str, Cleaner] = {
    "name": _text("The name", 100, required=True),
    "kind": _choice("The kind", GROUP_TYPES),
    "year_group": _year_group,
    "subject": _text("The subject", 100),
    "external_id": _text("The external id", 255),
}
_GROUP_COLUMNS = {"kind": "type"}

_CONTACT_FIELDS: dict[str, Cleaner] = {
    "title": _text("The title", 20),
    "forename": _text("The forename", 100, required=True),
    "surname": _text("The surname", 100, required=True),
    "email": _email("The email"),
    "phone": _phone,
}


# --- reading rows ---------------------------------------------------------------------------------------


async def _row(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    row_id: uuid.UUID,
    problems: Problems,
    *,
    field: str,
    label: str,
    lock: bool = False,
    active: bool = False,
) -> Any:
    """The row with this id at the caller's school, or None with NOT_FOUND (and INACTIVE if ``active``)."""
    stmt = scoped(model, principal.school_id).where(model.id == row_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        problems.add(field, "NOT_FOUND", f"No {label} with this id at this school.")
    elif active and not row.active:
        problems.add(field, "INACTIVE", f"This {label} is no longer active.")
    return row


async def _rows(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    ids: Sequence[uuid.UUID],
    problems: Problems,
    *,
    field: str,
    label: str,
    active: bool,
) -> None:
    """NOT_FOUND (and INACTIVE if ``active``) on ``field.<index>`` for each id not usable; one statement."""
    if len(ids) > MAX_GROUP_MEMBERS_PER_CALL:
        problems.add(field, "TOO_MANY", f"At most {MAX_GROUP_MEMBERS_PER_CALL} ids in one call.")
        return
    if not ids:
        return
    stmt = restrict(select(model.id, model.active).where(model.id.in_(set(ids))), model, principal.school_id)
    found: dict[uuid.UUID, bool] = {
        row_id: is_active for row_id, is_active in (await session.execute(stmt)).all()
    }
    for index, row_id in enumerate(ids):
        if row_id not in found:
            problems.add(f"{field}.{index}", "NOT_FOUND", f"No {label} with this id at this school.")
        elif active and not found[row_id]:
            problems.add(f"{field}.{index}", "INACTIVE", f"This {label} is no longer active.")


async def _taken(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    column: str,
    value: Any,
    *,
    exclude: uuid.UUID | None = None,
) -> bool:
    stmt = restrict(select(model.id).where(getattr(model, column) == value), model, principal.school_id)
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)
    return (await session.execute(stmt.limit(1))).first() is not None


async def _check_unique(
    session: AsyncSession,
    principal: Principal,
    problems: Problems,
    model: Any,
    cleaned: dict[str, Any],
    column: str,
    *,
    code: str,
    message: str,
    exclude: uuid.UUID | None = None,
) -> None:
    """``code`` on the field when another row of the school has the (valid, given) value already."""
    field = _camel(column)
    value = cleaned.get(column)
    if value is None or _has_problem(problems, field):
        return
    if await _taken(session, principal, model, column, value, exclude=exclude):
        problems.add(field, code, message.format(value=value))


async def _end_access(
    session: AsyncSession,
    principal: Principal,
    column: Any,
    person_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
) -> None:
    """LL 11.1, LL 11.2: disable the person's account and revoke its sessions in this transaction."""
    stmt = restrict(select(Account.id).where(column == person_id), Account, principal.school_id)
    account_ids = list((await session.execute(stmt)).scalars())
    if account_ids:
        await set_account_status(
            session, principal.school_id, account_ids, status="DISABLED", reason=reason, now=now
        )


def _recorded_leaving(person: Staff | Pupil | None, today: date) -> date | None:
    """The past leaving date of someone already deactivated: deactivating again without a date keeps it."""
    if person is None or person.active or person.date_of_leaving is None:
        return None
    return person.date_of_leaving if person.date_of_leaving <= today else None


def _own_record(problems: Problems, principal: Principal, staff_id: uuid.UUID) -> None:
    if principal.staff_id == staff_id:
        problems.add(
            "staffId",
            "OWN_ACCOUNT",
            "You cannot end your own access: ask another school admin to record your leaving.",
        )


# --- staff ----------------------------------------------------------------------------------------------

_DUPLICATE_STAFF_CODE = "Another member of staff at this school has the staff code {value!r}."


async def create_staff(
    session: AsyncSession, principal: Principal, data: NewStaff, *, now: datetime
) -> Staff:
    """LL 6.3.1: a named member of staff with a work email. A leaving date today or earlier: created inactive."""
    problems = Problems()
    cleaned = _clean(problems, _STAFF_FIELDS, data)
    await _check_unique(
        session,
        principal,
        problems,
        Staff,
        cleaned,
        "staff_code",
        code="DUPLICATE_STAFF_CODE",
        message=_DUPLICATE_STAFF_CODE,
    )
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
    staff: Staff | None = await _row(
        session,
        principal,
        Staff,
        data.staff_id,
        problems,
        field="staffId",
        label="member of staff",
        lock=True,
    )
    cleaned = _clean(problems, _STAFF_FIELDS, data)
    await _check_unique(
        session,
        principal,
        problems,
        Staff,
        cleaned,
        "staff_code",
        code="DUPLICATE_STAFF_CODE",
        message=_DUPLICATE_STAFF_CODE,
        exclude=data.staff_id,
    )
    leaving = cleaned.get("date_of_leaving")
    leaves_now = staff is not None and staff.active and leaving is not None and leaving <= school_today(now)
    if leaves_now:
        _own_record(problems, principal, data.staff_id)
    problems.raise_if_any()
    assert staff is not None
    for name, value in cleaned.items():
        setattr(staff, name, value)
    staff.updated_at = now
    if leaves_now:
        staff.active = False
        await _end_access(
            session, principal, Account.staff_id, staff.id, reason=f"Left the school on {leaving}.", now=now
        )
    await session.flush()
    return staff


async def deactivate_staff(
    session: AsyncSession, principal: Principal, data: StaffLeaving, *, now: datetime
) -> Staff:
    """LL 11.1, LL 11.2: a leaver. Inactive from now; their account is disabled and its sessions revoked."""
    problems = Problems()
    staff: Staff | None = await _row(
        session,
        principal,
        Staff,
        data.staff_id,
        problems,
        field="staffId",
        label="member of staff",
        lock=True,
    )
    today = school_today(now)
    leaving: date = _leaving_date(today)(
        problems, "dateOfLeaving", data.date_of_leaving or _recorded_leaving(staff, today)
    )
    _own_record(problems, principal, data.staff_id)
    problems.raise_if_any()
    assert staff is not None
    staff.active = False
    staff.date_of_leaving = leaving
    staff.updated_at = now
    await _end_access(
        session, principal, Account.staff_id, staff.id, reason=f"Left the school on {leaving}.", now=now
    )
    await session.flush()
    return staff


async def set_staff_pupil_access(
    session: AsyncSession, principal: Principal, data: PupilAccessGrant, *, now: datetime
) -> Staff:
    """Which pupils a member of staff sees: those they teach, or (with a recorded reason) the whole school.

    Records who granted it and when; takes effect on their next request.
    """
    problems = Problems()
    staff: Staff | None = await _row(
        session,
        principal,
        Staff,
        data.staff_id,
        problems,
        field="staffId",
        label="member of staff",
        lock=True,
        active=True,
    )
    access = _choice("The access", PUPIL_ACCESS_SCOPES)(problems, "access", data.access)
    reason = None
    if access == "SCHOOL":
        reason = _text("The reason for school-wide access", 100, required=True)(
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


# --- pupils ---------------------------------------------------------------------------------------------

_DUPLICATE_UPN = "Another pupil at this school has the UPN {value}."
_DUPLICATE_ULN = "Another pupil at this school has the ULN {value}."


async def _check_pupil_identifiers(
    session: AsyncSession,
    principal: Principal,
    problems: Problems,
    cleaned: dict[str, Any],
    *,
    exclude: uuid.UUID | None = None,
) -> None:
    await _check_unique(
        session,
        principal,
        problems,
        Pupil,
        cleaned,
        "upn",
        code="DUPLICATE_UPN",
        message=_DUPLICATE_UPN,
        exclude=exclude,
    )
    await _check_unique(
        session,
        principal,
        problems,
        Pupil,
        cleaned,
        "uln",
        code="DUPLICATE_ULN",
        message=_DUPLICATE_ULN,
        exclude=exclude,
    )


async def create_pupil(
    session: AsyncSession, principal: Principal, data: NewPupil, *, now: datetime
) -> Pupil:
    """LL-S1: a pupil with name, date of birth, gender, UPN (unique at the school) and optional ULN, email."""
    problems = Problems()
    cleaned = _clean(problems, _pupil_fields(school_today(now)), data)
    await _check_pupil_identifiers(session, principal, problems, cleaned)
    problems.raise_if_any()
    pupil = Pupil(school_id=principal.school_id, **cleaned, created_at=now)
    session.add(pupil)
    await session.flush()
    return pupil


async def update_pupil(
    session: AsyncSession, principal: Principal, data: PupilChanges, *, now: datetime
) -> Pupil:
    problems = Problems()
    pupil: Pupil | None = await _row(
        session, principal, Pupil, data.pupil_id, problems, field="pupilId", label="pupil", lock=True
    )
    cleaned = _clean(problems, _pupil_fields(school_today(now)), data)
    await _check_pupil_identifiers(session, principal, problems, cleaned, exclude=data.pupil_id)
    problems.raise_if_any()
    assert pupil is not None
    for name, value in cleaned.items():
        setattr(pupil, name, value)
    pupil.updated_at = now
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
    pupil: Pupil | None = await _row(
        session, principal, Pupil, data.pupil_id, problems, field="pupilId", label="pupil", lock=True
    )
    today = school_today(now)
    leaving: date = _leaving_date(today)(
        problems, "dateOfLeaving", data.date_of_leaving or _recorded_leaving(pupil, today)
    )
    problems.raise_if_any()
    assert pupil is not None
    pupil.active = False
    pupil.date_of_leaving = leaving
    pupil.updated_at = now
    await _end_access(
        session, principal, Account.pupil_id, pupil.id, reason=f"Left the school on {leaving}.", now=now
    )
    await session.flush()
    return pupil


# --- groups ---------------------------------------------------------------------------------------------

_DUPLICATE_EXTERNAL_ID = "Another group at this school has the external id {value!r}."


def _group_columns(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {_GROUP_COLUMNS.get(name, name): value for name, value in cleaned.items()}


async def create_group(
    session: AsyncSession, principal: Principal, data: NewGroup, *, now: datetime
) -> Group:
    problems = Problems()
    cleaned = _clean(problems, _GROUP_FIELDS, data)
    await _check_unique(
        session,
        principal,
        problems,
        Group,
        cleaned,
        "external_id",
        code="DUPLICATE_EXTERNAL_ID",
        message=_DUPLICATE_EXTERNAL_ID,
    )
    problems.raise_if_any()
    group = Group(school_id=principal.school_id, **_group_columns(cleaned), created_at=now)
    session.add(group)
    await session.flush()
    return group


async def update_group(
    session: AsyncSession, principal: Principal, data: GroupChanges, *, now: datetime
) -> Group:
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group", lock=True
    )
    cleaned = _clean(problems, _GROUP_FIELDS, data)
    await _check_unique(
        session,
        principal,
        problems,
        Group,
        cleaned,
        "external_id",
        code="DUPLICATE_EXTERNAL_ID",
        message=_DUPLICATE_EXTERNAL_ID,
        exclude=data.group_id,
    )
    problems.raise_if_any()
    assert group is not None
    for name, value in _group_columns(cleaned).items():
        setattr(group, name, value)
    group.updated_at = now
    await session.flush()
    return group


async def deactivate_group(
    session: AsyncSession, principal: Principal, data: GroupRef, *, now: datetime
) -> Group:
    """The group is hidden from lists and takes no new members; its memberships are kept as history."""
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group", lock=True
    )
    problems.raise_if_any()
    assert group is not None
    group.active = False
    group.updated_at = now
    await session.flush()
    return group


async def add_group_pupils(
    session: AsyncSession, principal: Principal, data: GroupPupils, *, now: datetime
) -> Group:
    """Idempotent: pupils already in the group stay as they are. Group and pupils must be active."""
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group", active=True
    )
    await _rows(
        session, principal, Pupil, data.pupil_ids, problems, field="pupilIds", label="pupil", active=True
    )
    problems.raise_if_any()
    assert group is not None
    if data.pupil_ids:
        await session.execute(
            insert(GroupPupil)
            .values(
                [
                    {"school_id": principal.school_id, "group_id": group.id, "pupil_id": p, "created_at": now}
                    for p in dict.fromkeys(data.pupil_ids)
                ]
            )
            .on_conflict_do_nothing(index_elements=["school_id", "group_id", "pupil_id"])
        )
    return group


async def remove_group_pupils(
    session: AsyncSession, principal: Principal, data: GroupPupils, *, now: datetime
) -> Group:
    """Idempotent: pupils not in the group are ignored. Leavers and inactive groups may be tidied too."""
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group"
    )
    await _rows(
        session, principal, Pupil, data.pupil_ids, problems, field="pupilIds", label="pupil", active=False
    )
    problems.raise_if_any()
    assert group is not None
    if data.pupil_ids:
        await session.execute(
            scoped_delete(GroupPupil, principal.school_id).where(
                GroupPupil.group_id == group.id,
                GroupPupil.pupil_id.in_(set(data.pupil_ids)),  # type: ignore[attr-defined]
            )
        )
    return group


async def add_group_teacher(
    session: AsyncSession, principal: Principal, data: GroupTeacherRef, *, now: datetime
) -> Group:
    """Idempotent. Group and member of staff must be active. Takes effect on the teacher's next request."""
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group", active=True
    )
    await _row(
        session,
        principal,
        Staff,
        data.staff_id,
        problems,
        field="staffId",
        label="member of staff",
        active=True,
    )
    problems.raise_if_any()
    assert group is not None
    await session.execute(
        insert(GroupTeacher)
        .values(school_id=principal.school_id, group_id=group.id, staff_id=data.staff_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["school_id", "group_id", "staff_id"])
    )
    return group


async def remove_group_teacher(
    session: AsyncSession, principal: Principal, data: GroupTeacherRef, *, now: datetime
) -> Group:
    """Idempotent. The teacher loses sight of the group's pupils on their next request."""
    problems = Problems()
    group: Group | None = await _row(
        session, principal, Group, data.group_id, problems, field="groupId", label="group"
    )
    await _row(session, principal, Staff, data.staff_id, problems, field="staffId", label="member of staff")
    problems.raise_if_any()
    assert group is not None
    await session.execute(
        scoped_delete(GroupTeacher, principal.school_id).where(
            GroupTeacher.group_id == group.id, GroupTeacher.staff_id == data.staff_id
        )
    )
    return group


# --- contacts -------------------------------------------------------------------------------------------


async def create_contact(
    session: AsyncSession, principal: Principal, data: NewContact, *, now: datetime
) -> Contact:
    """A parent, guardian or other contact; linked to pupils with :func:`link_contact`."""
    problems = Problems()
    cleaned = _clean(problems, _CONTACT_FIELDS, data)
    problems.raise_if_any()
    contact = Contact(school_id=principal.school_id, **cleaned, created_at=now)
    session.add(contact)
    await session.flush()
    return contact


async def link_contact(
    session: AsyncSession, principal: Principal, data: ContactLink, *, now: datetime
) -> tuple[Pupil, Contact]:
    """Link a contact to a pupil, or change the relationship of an existing link.

    A parent's account sees exactly the pupils linked to its contact, from its next request.
    """
    problems = Problems()
    contact: Contact | None = await _row(
        session,
        principal,
        Contact,
        data.contact_id,
        problems,
        field="contactId",
        label="contact",
        active=True,
    )
    pupil: Pupil | None = await _row(
        session, principal, Pupil, data.pupil_id, problems, field="pupilId", label="pupil", active=True
    )
    relationship = _choice("The relationship", CONTACT_RELATIONSHIPS)(
        problems, "relationship", data.relationship
    )
    problems.raise_if_any()
    assert contact is not None and pupil is not None
    stmt = insert(PupilContact).values(
        school_id=principal.school_id,
        pupil_id=pupil.id,
        contact_id=contact.id,
        relationship=relationship,
        created_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["school_id", "pupil_id", "contact_id"],
            set_={"relationship": stmt.excluded.relationship},
        )
    )
    return pupil, contact


async def unlink_contact(
    session: AsyncSession, principal: Principal, data: ContactUnlink, *, now: datetime
) -> tuple[Pupil, Contact]:
    """Idempotent. A parent's account loses sight of the pupil from its next request."""
    problems = Problems()
    contact: Contact | None = await _row(
        session, principal, Contact, data.contact_id, problems, field="contactId", label="contact"
    )
    pupil: Pupil | None = await _row(
        session, principal, Pupil, data.pupil_id, problems, field="pupilId", label="pupil"
    )
    problems.raise_if_any()
    assert contact is not None and pupil is not None
    await session.execute(
        scoped_delete(PupilContact, principal.school_id).where(
            PupilContact.pupil_id == pupil.id, PupilContact.contact_id == contact.id
        )
    )
    return pupil, contact

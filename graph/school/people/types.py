"""GraphQL types of the school schema. Every personal field declares its policy (``graph/permissions.py``).

Types wrap a database row (``row``, private to the server) and copy its plain values; nested lists go
through the request's DataLoaders, which apply the caller's row scope.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth import policies
from graph.audit import pupils_read
from graph.core.relay import Connection, Node, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, personal_data, public, row_field
from models import Account, Contact, Group, Pupil, Staff


@strawberry.enum
class Gender(Enum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    OTHER = "OTHER"
    NOT_KNOWN = "NOT_KNOWN"


@strawberry.enum
class GroupKind(Enum):
    REGISTRATION = "REGISTRATION"
    YEAR = "YEAR"
    CLASS = "CLASS"
    SUBJECT = "SUBJECT"
    CUSTOM = "CUSTOM"


@strawberry.enum
class Role(Enum):
    SCHOOL_ADMIN = "SCHOOL_ADMIN"
    STAFF = "STAFF"
    PUPIL = "PUPIL"
    PARENT = "PARENT"


@strawberry.enum
class AccountStatus(Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.enum
class PupilAccess(Enum):
    TAUGHT = "TAUGHT"
    SCHOOL = "SCHOOL"


@strawberry.enum
class Relationship(Enum):
    PARENT = "PARENT"
    GUARDIAN = "GUARDIAN"
    CARER = "CARER"
    RELATIVE = "RELATIVE"
    OTHER = "OTHER"


async def _pupil_groups(root: PupilType, info: Info) -> list[GroupType]:
    return [GroupType.of(g) for g in await info.context.loaders.people.groups_of_pupil.load(root.row.id)]


async def _pupil_contacts(root: PupilType, info: Info) -> list[ContactType]:
    return [ContactType.of(c) for c in await info.context.loaders.people.contacts_of_pupil.load(root.row.id)]


async def _person_account(root: Any, info: Info) -> AccountType | None:
    account = await info.context.loaders.people.account_of_person.load(root.row.id)
    return None if account is None else AccountType.of(account)


@personal_data
@strawberry.type(name="Account", description="How a person signs in. School admins and the holder only.")
class AccountType(Node):
    row: strawberry.Private[Account]
    id: strawberry.ID = public("opaque identifier")
    username: str | None = guarded(policies.OWN_ACCOUNT)
    role: Role | None = guarded(policies.OWN_ACCOUNT)
    status: AccountStatus | None = guarded(policies.OWN_ACCOUNT)
    must_change_password: bool | None = guarded(policies.OWN_ACCOUNT)
    last_login_at: datetime.datetime | None = guarded(policies.OWN_ACCOUNT)

    @classmethod
    def of(cls, row: Account) -> AccountType:
        return cls(
            row=row,
            id=to_global_id("Account", row.id),
            username=row.username,
            role=Role(row.role),
            status=AccountStatus(row.status),
            must_change_password=row.must_change_password,
            last_login_at=row.last_login_at,
        )


PREFERRED = "The given name the person goes by, when it is not the legal one (forename); null when none."
DISPLAY = "The name to show: the preferred given name (else the legal one) and the surname."


def display_name(row: Pupil | Staff | Contact) -> str:
    """How a person is named where names are displayed: the given name they go by, then the surname.
    Official uses (exports, the MIS, consent records) keep the legal ``forename``."""
    return f"{row.preferred_forename or row.forename} {row.surname}"


def _display(root: Any) -> str:
    return display_name(root.row)


@personal_data
@strawberry.type(name="Pupil")
class PupilType(Node):
    """Fields read from the wrapped row when asked (``row_field``): a list of pupils builds no copies."""

    row: strawberry.Private[Pupil]
    forename: str | None = row_field(policies.PUPIL_RECORD_ROSTER, "forename")
    preferred_forename: str | None = row_field(
        policies.PUPIL_RECORD_ROSTER, "preferred_forename", description=PREFERRED
    )
    surname: str | None = row_field(policies.PUPIL_RECORD_ROSTER, "surname")
    display_name: str | None = guarded(policies.PUPIL_RECORD_ROSTER, resolver=_display, description=DISPLAY)
    date_of_birth: datetime.date | None = row_field(policies.PUPIL_RECORD_ROSTER, "date_of_birth")
    gender: Gender | None = row_field(policies.PUPIL_RECORD_ROSTER, "gender")
    email: str | None = row_field(policies.PUPIL_RECORD_ROSTER, "email")
    upn: str | None = row_field(
        policies.PUPIL_IDENTIFIER_ROSTER, "upn", description="Unique Pupil Number (DfE)."
    )
    uln: str | None = row_field(
        policies.PUPIL_LEARNER_NUMBER_ROSTER, "uln", description="Unique Learner Number, if known."
    )
    active: bool | None = row_field(policies.PUPIL_RECORD_ROSTER, "active")
    date_of_leaving: datetime.date | None = row_field(policies.PUPIL_ADMINISTRATION, "date_of_leaving")
    groups: list[Annotated[GroupType, strawberry.lazy("graph.school.people.types")]] | None = guarded(
        policies.PUPIL_RECORD_ROSTER, resolver=_pupil_groups, metadata=list_size(20)
    )
    contacts: list[Annotated[ContactType, strawberry.lazy("graph.school.people.types")]] | None = guarded(
        policies.PUPIL_RECORD,
        resolver=_pupil_contacts,
        description="Parents and other contacts: all of them for school admins, only themself for a parent.",
        metadata=list_size(10),
    )
    account: Annotated[AccountType, strawberry.lazy("graph.school.people.types")] | None = guarded(
        policies.PUPIL_ADMINISTRATION, resolver=_person_account
    )

    @classmethod
    def of(cls, row: Pupil) -> PupilType:
        return cls(row=row, id=to_global_id("Pupil", row.id))


async def _staff_groups(root: StaffType, info: Info) -> list[GroupType]:
    return [GroupType.of(g) for g in await info.context.loaders.people.groups_of_staff.load(root.row.id)]


@personal_data
@strawberry.type(name="Staff")
class StaffType(Node):
    row: strawberry.Private[Staff]
    title: str | None = guarded(policies.STAFF_NAME_ROSTER)
    forename: str | None = guarded(policies.STAFF_NAME_ROSTER)
    preferred_forename: str | None = guarded(policies.STAFF_NAME_ROSTER, description=PREFERRED)
    surname: str | None = guarded(policies.STAFF_NAME_ROSTER)
    display_name: str | None = guarded(policies.STAFF_NAME_ROSTER, resolver=_display, description=DISPLAY)
    role_text: str | None = guarded(policies.STAFF_DIRECTORY_ROSTER)
    work_email: str | None = guarded(policies.STAFF_DIRECTORY_ROSTER)
    teaching: bool | None = guarded(policies.STAFF_DIRECTORY_ROSTER)
    secondary_email: str | None = guarded(policies.STAFF_PRIVATE)
    staff_code: str | None = guarded(policies.STAFF_PRIVATE)
    date_of_leaving: datetime.date | None = guarded(policies.STAFF_PRIVATE)
    active: bool | None = guarded(policies.STAFF_DIRECTORY_ROSTER)
    pupil_access: PupilAccess | None = guarded(policies.STAFF_PRIVATE)
    pupil_access_reason: str | None = guarded(policies.STAFF_PRIVATE)
    groups: list[Annotated[GroupType, strawberry.lazy("graph.school.people.types")]] | None = guarded(
        policies.STAFF_DIRECTORY,
        resolver=_staff_groups,
        description="Groups they teach that the caller may see.",
        metadata=list_size(30),
    )
    account: Annotated[AccountType, strawberry.lazy("graph.school.people.types")] | None = guarded(
        policies.PUPIL_ADMINISTRATION, resolver=_person_account
    )

    @classmethod
    def of(cls, row: Staff) -> StaffType:
        return cls(
            row=row,
            id=to_global_id("Staff", row.id),
            title=row.title,
            forename=row.forename,
            preferred_forename=row.preferred_forename,
            surname=row.surname,
            role_text=row.role_text,
            work_email=row.work_email,
            teaching=row.teaching,
            secondary_email=row.secondary_email,
            staff_code=row.staff_code,
            date_of_leaving=row.date_of_leaving,
            active=row.active,
            pupil_access=PupilAccess(row.pupil_access),
            pupil_access_reason=row.pupil_access_reason,
        )


@personal_data
@strawberry.type(name="Contact", description="A parent, guardian or other contact of pupils.")
class ContactType(Node):
    row: strawberry.Private[Contact]
    title: str | None = guarded(policies.CONTACT)
    forename: str | None = guarded(policies.CONTACT)
    preferred_forename: str | None = guarded(policies.CONTACT, description=PREFERRED)
    surname: str | None = guarded(policies.CONTACT)
    display_name: str | None = guarded(policies.CONTACT, resolver=_display, description=DISPLAY)
    email: str | None = guarded(policies.CONTACT)
    phone: str | None = guarded(policies.CONTACT)
    account: Annotated[AccountType, strawberry.lazy("graph.school.people.types")] | None = guarded(
        policies.PUPIL_ADMINISTRATION, resolver=_person_account
    )

    @classmethod
    def of(cls, row: Contact) -> ContactType:
        return cls(
            row=row,
            id=to_global_id("Contact", row.id),
            title=row.title,
            forename=row.forename,
            preferred_forename=row.preferred_forename,
            surname=row.surname,
            email=row.email,
            phone=row.phone,
        )


async def _group_pupils(root: GroupType, info: Info) -> list[PupilType]:
    rows = await info.context.loaders.people.pupils_of_group.load(root.row.id)
    pupils_read(info, "Group.pupils", (p.id for p in rows))
    return [PupilType.of(p) for p in rows]


async def _group_teachers(root: GroupType, info: Info) -> list[StaffType]:
    return [StaffType.of(s) for s in await info.context.loaders.people.teachers_of_group.load(root.row.id)]


@personal_data
@strawberry.type(name="Group", description="A registration, year, class, subject or custom group.")
class GroupType(Node):
    row: strawberry.Private[Group]
    name: str | None = guarded(policies.GROUP_ROSTER)
    kind: GroupKind | None = guarded(policies.GROUP_ROSTER)
    year_group: int | None = guarded(policies.GROUP_ROSTER)
    subject: str | None = guarded(policies.GROUP_ROSTER)
    external_id: str | None = guarded(policies.PUPIL_ADMINISTRATION)
    active: bool | None = guarded(policies.GROUP_ROSTER)
    pupils: list[PupilType] | None = guarded(
        policies.GROUP_ROSTER,
        resolver=_group_pupils,
        description="Pupils of the group the caller may see: a pupil sees only themself, a parent their children.",
    )
    teachers: list[StaffType] | None = guarded(
        policies.GROUP_ROSTER, resolver=_group_teachers, metadata=list_size(10)
    )

    @classmethod
    def of(cls, row: Group) -> GroupType:
        return cls(
            row=row,
            id=to_global_id("Group", row.id),
            name=row.name,
            kind=GroupKind(row.type),
            year_group=row.year_group,
            subject=row.subject,
            external_id=row.external_id,
            active=row.active,
        )


PupilConnection = Connection[PupilType]
StaffConnection = Connection[StaffType]
GroupConnection = Connection[GroupType]

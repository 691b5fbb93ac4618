"""Factories for schools and their people: each call builds a fresh tenant with a unique slug."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth.service import AuthRuntime
from common.clock import school_today
from common.identifiers import upn_check_letter
from models import (
    Account,
    Contact,
    Group,
    GroupPupil,
    GroupTeacher,
    Pupil,
    PupilContact,
    Staff,
)
from privacy.consent import parental_consent
from subscriptions.provisioning import create_school
from tenants.context import bind
from tests.factories import clock

PASSWORD = "tulip garden songs at dusk"
_serial = itertools.count(1)


def make_upn(n: int) -> str:
    body = f"801{n % 10**9:09d}"
    return upn_check_letter(body) + body


@dataclass
class SchoolData:
    id: uuid.UUID
    slug: str
    name: str
    accounts: dict[str, Account] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    pupils: dict[str, Pupil] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)


class SchoolFactory:
    """Builds schools straight through the models (fast), with the runtime role and RLS binding.

    Every row is stamped with the suite's clock (``created_at``); the model's default is the host's clock.
    """

    def __init__(self, engine: AsyncEngine, auth: AuthRuntime) -> None:
        self.engine, self.auth = engine, auth
        self._hash: str | None = None

    def password_hash(self) -> str:
        if self._hash is None:
            self._hash = self.auth.hasher.hash(PASSWORD)
        return self._hash

    async def school(self, *, pupils_per_group: int = 3, name: str | None = None) -> SchoolData:
        """A school with groups A and B; teacher1 teaches A, teacher2 teaches B, senco has school-wide access.

        Pupils: ``pupils_per_group`` in each group (pupil1 is in A); parent1 is linked to pupil1. Accounts:
        admin, teacher1, teacher2, senco, pupil1, pupil2 (in A), pupilB1 (in B), parent1. Every pupil (all
        are under 13) has a parent's current consent on paper (LL 6.3.2): parent1's for pupil1, for each
        other pupil a carer's (``contacts["carer_<pupil key>"]``: no account, linked to that pupil only).
        """
        n = next(_serial)
        slug = f"test-{uuid.uuid4().hex[:10]}"
        now = clock.now()
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            school = await create_school(
                session, slug=slug, name=name or f"Test School {n}", phase="PRIMARY", urn=None, now=now
            )
            await bind(session, [school.id])
            data = SchoolData(id=school.id, slug=slug, name=school.name)
            sid = school.id

            def staff(key: str, forename: str, surname: str, **kw: Any) -> Staff:
                row = Staff(
                    school_id=sid,
                    created_at=now,
                    forename=forename,
                    surname=surname,
                    work_email=f"{key}@{slug}.example",
                    **kw,
                )
                data.staff[key] = row
                return row

            staff("admin", "Ada", "Admin", role_text="Headteacher", title="Mrs")
            staff(
                "teacher1", "Tom", "Teacher", title="Mr", staff_code="TT1", secondary_email="tom@home.example"
            )
            staff("teacher2", "Tess", "Tutor", title="Ms", staff_code="TT2")
            staff("senco", "Sam", "Senco", pupil_access="SCHOOL", pupil_access_reason="SENCO")
            data.groups["A"] = Group(
                school_id=sid,
                created_at=now,
                name="Class A",
                type="CLASS",
                year_group=4,
                external_id=f"A-{n}",
            )
            data.groups["B"] = Group(
                school_id=sid,
                created_at=now,
                name="Class B",
                type="CLASS",
                year_group=5,
                external_id=f"B-{n}",
            )
            for g, group in enumerate(("A", "B")):
                for i in range(1, pupils_per_group + 1):
                    key = f"pupil{i}" if group == "A" else f"pupil{group}{i}"
                    serial = n * 1000 + g * 500 + i
                    data.pupils[key] = Pupil(
                        school_id=sid,
                        created_at=now,
                        forename=f"Pat{group}{i}",
                        surname=f"Pupil{i:04d}",
                        date_of_birth=date(2016, 1 + i % 12, 1 + i % 28),
                        gender="FEMALE" if i % 2 else "MALE",
                        email=f"{key}@{slug}.example",
                        upn=make_upn(serial),
                        uln=None,
                    )
            data.contacts["parent1"] = Contact(
                school_id=sid, created_at=now, forename="Paula", surname="Parent", email="p1@example.org"
            )
            session.add_all(
                [*data.staff.values(), *data.groups.values(), *data.pupils.values(), *data.contacts.values()]
            )
            await session.flush()
            session.add_all(
                [
                    GroupTeacher(
                        school_id=sid,
                        created_at=now,
                        group_id=data.groups["A"].id,
                        staff_id=data.staff["teacher1"].id,
                    ),
                    GroupTeacher(
                        school_id=sid,
                        created_at=now,
                        group_id=data.groups["B"].id,
                        staff_id=data.staff["teacher2"].id,
                    ),
                    PupilContact(
                        school_id=sid,
                        created_at=now,
                        pupil_id=data.pupils["pupil1"].id,
                        contact_id=data.contacts["parent1"].id,
                    ),
                    *(
                        GroupPupil(
                            school_id=sid,
                            created_at=now,
                            group_id=data.groups["B" if "B" in key else "A"].id,
                            pupil_id=p.id,
                        )
                        for key, p in data.pupils.items()
                    ),
                ]
            )
            accounts = {
                "admin": ("SCHOOL_ADMIN", {"staff_id": data.staff["admin"].id}),
                "teacher1": ("STAFF", {"staff_id": data.staff["teacher1"].id}),
                "teacher2": ("STAFF", {"staff_id": data.staff["teacher2"].id}),
                "senco": ("STAFF", {"staff_id": data.staff["senco"].id}),
                "pupil1": ("PUPIL", {"pupil_id": data.pupils["pupil1"].id}),
                "parent1": ("PARENT", {"contact_id": data.contacts["parent1"].id}),
            }
            if "pupil2" in data.pupils:
                accounts["pupil2"] = ("PUPIL", {"pupil_id": data.pupils["pupil2"].id})
            accounts["pupilB1"] = ("PUPIL", {"pupil_id": data.pupils["pupilB1"].id})
            for username, (role, link) in accounts.items():
                data.accounts[username] = Account(
                    school_id=sid,
                    created_at=now,
                    username=username,
                    password_hash=self.password_hash(),
                    role=role,
                    **link,
                )
            session.add_all(data.accounts.values())
            session.add_all(self._consents(data, now))
        return data

    def _consents(self, data: SchoolData, now: Any) -> list[object]:
        """A parent's paper consent, recorded by the admin, for each pupil."""
        rows: list[object] = []
        for key, pupil in data.pupils.items():
            if key == "pupil1":
                contact = data.contacts["parent1"]
            else:
                contact = Contact(school_id=data.id, created_at=now, forename="Carey", surname=f"Carer {key}")
                data.contacts[f"carer_{key}"] = contact
                rows += [
                    contact,
                    PupilContact(school_id=data.id, created_at=now, pupil_id=pupil.id, contact_id=contact.id),
                ]
            rows.append(
                parental_consent(
                    data.id,
                    pupil.id,
                    contact.id,
                    method="PAPER",
                    account_id=data.accounts["admin"].id,
                    evidence_reference="Enrolment form",
                    given_on=school_today(now),
                    now=now,
                )
            )
        return rows

    async def add_pupils(self, school: SchoolData, group: str, count: int) -> None:
        """Add ``count`` more pupils to a group (for statement-count tests at larger sizes)."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            await bind(session, [school.id])
            base = next(_serial) * 1000
            now = clock.now()
            rows = [
                Pupil(
                    school_id=school.id,
                    created_at=now,
                    forename=f"Extra{i}",
                    surname=f"Many{i:05d}",
                    date_of_birth=date(2015, 9, 1),
                    gender="NOT_KNOWN",
                    upn=make_upn(base * 10 + i),
                )
                for i in range(count)
            ]
            session.add_all(rows)
            await session.flush()
            session.add_all(
                GroupPupil(
                    school_id=school.id, created_at=now, group_id=school.groups[group].id, pupil_id=p.id
                )
                for p in rows
            )


async def gql(
    client: httpx.AsyncClient,
    slug: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    expect_status: int | None = 200,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        f"/schools/{slug}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    if expect_status is not None:
        assert response.status_code == expect_status, response.text
    body: dict[str, Any] = response.json()
    return body


LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { accessToken refreshToken errors { field code message } }
}
"""


async def login(client: httpx.AsyncClient, slug: str, username: str, password: str = PASSWORD) -> str:
    body = await gql(client, slug, LOGIN, {"u": username, "p": password})
    payload = body["data"]["login"]
    assert payload["errors"] == [], payload
    token: str = payload["accessToken"]
    return token

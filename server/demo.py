"""The demo data ``make run`` seeds into an empty database, so a newcomer has something to sign in to.

Trust "Oakfield Learning Trust" (a MAT) with ``oakfield-primary`` and ``riverside-academy``, and the
local-authority school ``hillcrest-primary``. Each school has ``admin``, ``teacher1``, ``teacher2``,
``pupil1``..``pupil60`` in two classes (teacher1 teaches the first, teacher2 the second), and ``parent1``
linked to ``pupil1``. Every demo account shares one password, so one argon2 hash serves them all.

Consent (LL 6.3.2): ``parent1`` has consented digitally for ``pupil1``; every other pupil has a parent's
consent on a paper admission form, recorded by ``admin`` and given by that pupil's own parent contact,
except :data:`WITHOUT_CONSENT`, who therefore cannot sign in until a parent consents.
Documents (LL 21, LL 3.1, LRS 1.1): the four kinds, version 2026-1, in force from the seeding day; ``admin``
is each school's Super-User and accepted the licence terms; acceptances as :func:`_acceptances` says.
Beyond the schools: ``trustadmin``, an admin of each trust (at ``/trusts/<slug>/graphql``), and
``operator``, a platform operator (at ``/platform/graphql``), with the same password, so that each of the
three endpoints has someone to sign in as.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.platform import PlatformTrail
from auth.passwords import PasswordHasher, check_password_policy
from auth.scopes import ROSTER_READ
from common.clock import platform_today, school_today
from common.events import Actor, attach
from common.identifiers import upn_check_letter
from learning.demo import DemoClass, seed_learning
from models import Account, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, School, Staff
from models.agreements import (
    ACCEPTABLE_USE,
    LICENCE_TERMS,
    LRS_AGREEMENT,
    PRIVACY_NOTICE,
    DocumentAcceptance,
    PolicyDocument,
)
from models.platform import OperatorAccount, SuperUser, TrustAdminAccount
from partners import approvals, registry
from privacy.consent import PRIVACY_NOTICE_VERSION, parental_consent
from subscriptions.provisioning import create_school, create_trust, join_trust
from tenants.context import bind, enter_school

PUPILS_PER_SCHOOL = 60
FORENAMES = (
    "Amara", "Ben", "Chloe", "Dev", "Ella", "Finn", "Grace", "Harry", "Isla", "Jack", "Keira", "Leo",
    "Maya", "Noah", "Olivia", "Priya", "Quinn", "Ruby", "Sami", "Theo", "Una", "Vikram", "Willow", "Zain",
)  # fmt: skip
SURNAMES = (
    "Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fletcher", "Green", "Hughes", "Iqbal", "Jones",
    "Khan", "Lewis", "Morgan", "Nowak", "Owen", "Patel", "Roberts", "Smith", "Taylor", "Walker",
)  # fmt: skip


@dataclass(frozen=True)
class DemoTrust:
    slug: str
    name: str
    kind: str


OAKFIELD_TRUST = DemoTrust("oakfield-learning-trust", "Oakfield Learning Trust", "MULTI_ACADEMY_TRUST")
HILLSHIRE = DemoTrust("hillshire-county-council", "Hillshire County Council", "LOCAL_AUTHORITY")
TRUSTS = (OAKFIELD_TRUST, HILLSHIRE)


@dataclass(frozen=True)
class DemoSchool:
    slug: str
    name: str
    urn: str
    la_code: str
    trust: DemoTrust


OAKFIELD = DemoSchool("oakfield-primary", "Oakfield Primary School", "140001", "801", OAKFIELD_TRUST)
RIVERSIDE = DemoSchool("riverside-academy", "Riverside Academy", "140002", "801", OAKFIELD_TRUST)
HILLCREST = DemoSchool("hillcrest-primary", "Hillcrest Primary School", "110003", "330", HILLSHIRE)
SCHOOLS = (OAKFIELD, RIVERSIDE, HILLCREST)
WITHOUT_CONSENT = (28, 29, 30)
"""Pupils (by number) left without a parent's consent, so that the school sees what that means."""
USERNAMES = ("admin", "teacher1", "teacher2", "pupil1", "...", f"pupil{PUPILS_PER_SCHOOL}", "parent1")
TRUST_ADMIN = "trustadmin"
"""The admin of each demo trust."""
OPERATOR = "operator"
"""The demo's platform operator."""


class DemoPasswordError(ValueError):
    pass


def demo_password(configured: str | None) -> tuple[str, bool]:
    """The demo password: the configured one if it meets the password rules, else a generated one.

    Returns (password, generated).
    """
    if configured:
        problems = check_password_policy(
            configured, context_words=["admin", "teacher", "pupil", "parent", "trust", "operator"]
        )
        if problems:
            raise DemoPasswordError(
                "SCHOOLGRAPH_DEMO_PASSWORD does not meet the password rules: "
                + "; ".join(p.message for p in problems)
            )
        return configured, False
    words = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "indigo", "juniper")
    return "-".join(secrets.choice(words) for _ in range(3)) + f"-{secrets.randbelow(9000) + 1000}", True


async def is_seeded(engine: AsyncEngine) -> bool:
    async with AsyncSession(engine) as session:
        return (await session.execute(select(School.id).limit(1))).first() is not None


def _upn(la_code: str, serial: int) -> str:
    body = f"{la_code}2{serial // 1000:03d}24{serial % 1000:03d}"
    return upn_check_letter(body) + body


def _pupils(spec: DemoSchool, school_id: uuid.UUID, now: datetime) -> list[Pupil]:
    """The school's pupils: the first half in year 5, the rest in year 6, of the right age on ``now``."""
    pupils = []
    for i in range(1, PUPILS_PER_SCHOOL + 1):
        year = 5 if i <= PUPILS_PER_SCHOOL // 2 else 6
        born = date(now.year - year - 5 - (1 if now.month < 9 else 0), 1 + (i * 7) % 12, 1 + (i * 11) % 28)
        pupils.append(
            Pupil(
                school_id=school_id,
                forename=FORENAMES[i % len(FORENAMES)],
                surname=SURNAMES[(i * 7) % len(SURNAMES)],
                date_of_birth=born,
                gender=("FEMALE", "MALE")[i % 2],
                upn=_upn(spec.la_code, int(spec.urn[-3:]) * 100 + i),
            )
        )
    return pupils


def _consents(
    school_id: uuid.UUID,
    pupils: list[Pupil],
    parent: Contact,
    *,
    admin_account: Account,
    parent_account: Account,
    now: datetime,
) -> list[object]:
    """Parents' consents as the module docstring describes, with a parent contact for each pupil but the
    first (whose parent is ``parent1``)."""
    today = school_today(now)
    rows: list[object] = [
        parental_consent(
            school_id,
            pupils[0].id,
            parent.id,
            method="DIGITAL",
            account_id=parent_account.id,
            evidence_reference=None,
            given_on=today,
            now=now,
        )
    ]
    for number, pupil in enumerate(pupils[1:], 2):
        contact = Contact(school_id=school_id, forename="Sam", surname=pupil.surname, created_at=now)
        rows += [
            contact,
            PupilContact(
                school_id=school_id, pupil_id=pupil.id, contact_id=contact.id, relationship="PARENT"
            ),
        ]
        if number not in WITHOUT_CONSENT:
            rows.append(
                parental_consent(
                    school_id,
                    pupil.id,
                    contact.id,
                    method="PAPER",
                    account_id=admin_account.id,
                    evidence_reference=f"Admission form {today.year}/{number:03d}",
                    given_on=today,
                    now=now,
                )
            )
    return rows


def _documents(now: datetime) -> list[PolicyDocument]:
    """The platform's documents, each version 2026-1 and in force from the platform's today."""
    effective = datetime.combine(platform_today(now), time(0), tzinfo=UTC)
    titles = {
        LICENCE_TERMS: "Licence terms and data processing agreement",
        PRIVACY_NOTICE: "Privacy notice",
        ACCEPTABLE_USE: "Acceptable use policy",
        LRS_AGREEMENT: "Learning Records Service user agreement",
    }
    return [
        PolicyDocument(
            kind=kind,
            version=PRIVACY_NOTICE_VERSION,
            title=title,
            body=f"{title} (demo text).",
            summary_of_changes="First version.",
            effective_from=effective,
            published_at=now,
        )
        for kind, title in titles.items()
    ]


def _acceptances(
    school_id: uuid.UUID, accounts: list[Account], documents: list[PolicyDocument], *, now: datetime
) -> list[object]:
    """``admin`` is the school's Super-User and accepted the licence terms; every adult accepted the user
    policies and the LRS agreement for themself; ``parent1`` accepted them for ``pupil1``, and ``admin``
    recorded each other consented pupil's parent's acceptance from their admission form (LL 3.1). Pupils
    in :data:`WITHOUT_CONSENT` have neither, so the acceptance report shows them."""
    admin, parent = accounts[0], accounts[3]
    terms = next(d for d in documents if d.kind == LICENCE_TERMS)
    personal = [d for d in documents if d.kind != LICENCE_TERMS]
    rows: list[object] = [
        SuperUser(school_id=school_id, account_id=admin.id, nominated_by_type="OPERATOR", nominated_at=now),
        DocumentAcceptance(school_id=school_id, document_id=terms.id, account_id=admin.id, accepted_at=now),
    ]
    for account in accounts:
        if account.role != "PUPIL":
            rows += [
                DocumentAcceptance(
                    school_id=school_id, document_id=d.id, account_id=account.id, accepted_at=now
                )
                for d in personal
            ]
            continue
        number = int(account.username.removeprefix("pupil"))
        if number in WITHOUT_CONSENT:
            continue
        by, form = (
            (parent, None)
            if number == 1
            else (admin, f"Admission form {school_today(now).year}/{number:03d}")
        )
        rows += [
            DocumentAcceptance(
                school_id=school_id,
                document_id=d.id,
                account_id=by.id,
                on_behalf_of_pupil_id=account.pupil_id,
                evidence_reference=form,
                accepted_at=now,
            )
            for d in personal
        ]
    return rows


async def _seed_school(
    session: AsyncSession,
    spec: DemoSchool,
    password_hash: str,
    documents: list[PolicyDocument],
    now: datetime,
) -> None:
    school = await create_school(
        session, slug=spec.slug, name=spec.name, phase="PRIMARY", urn=spec.urn, now=now
    )
    await bind(session, [school.id])
    sid = school.id
    domain = f"{spec.slug}.example.org"
    admin = Staff(school_id=sid, title="Mrs", forename="Alex", surname="Morgan", work_email=f"head@{domain}",
                  role_text="Headteacher", teaching=False)  # fmt: skip
    teacher1 = Staff(school_id=sid, title="Mr", forename="Sam", surname="Khan", work_email=f"s.khan@{domain}",
                     role_text="Class teacher, Year 5", staff_code="SKH")  # fmt: skip
    teacher2 = Staff(school_id=sid, title="Ms", forename="Jo", surname="Evans", work_email=f"j.evans@{domain}",
                     role_text="Class teacher, Year 6", staff_code="JEV")  # fmt: skip
    year5 = Group(school_id=sid, name="5K", type="CLASS", year_group=5, subject=None, external_id="5K")
    year6 = Group(school_id=sid, name="6E", type="CLASS", year_group=6, subject=None, external_id="6E")
    pupils = _pupils(spec, sid, now)
    parent = Contact(school_id=sid, forename="Robin", surname=pupils[0].surname, email=f"parent1@{domain}")
    session.add_all([admin, teacher1, teacher2, year5, year6, *pupils, parent])
    await session.flush()
    links: list[object] = [
        GroupTeacher(school_id=sid, group_id=year5.id, staff_id=teacher1.id),
        GroupTeacher(school_id=sid, group_id=year6.id, staff_id=teacher2.id),
        PupilContact(school_id=sid, pupil_id=pupils[0].id, contact_id=parent.id, relationship="PARENT"),
    ]
    links += [
        GroupPupil(school_id=sid, group_id=(year5 if i < PUPILS_PER_SCHOOL // 2 else year6).id, pupil_id=p.id)
        for i, p in enumerate(pupils)
    ]
    accounts = [
        Account(school_id=sid, username="admin", role="SCHOOL_ADMIN", staff_id=admin.id),
        Account(school_id=sid, username="teacher1", role="STAFF", staff_id=teacher1.id),
        Account(school_id=sid, username="teacher2", role="STAFF", staff_id=teacher2.id),
        Account(school_id=sid, username="parent1", role="PARENT", contact_id=parent.id),
        *(
            Account(school_id=sid, username=f"pupil{i}", role="PUPIL", pupil_id=p.id)
            for i, p in enumerate(pupils, 1)
        ),
    ]
    for account in accounts:
        account.password_hash = password_hash
        account.password_changed_at = now
        account.created_at = now
    session.add_all([*links, *accounts])
    await session.flush()
    session.add_all(
        _consents(sid, pupils, parent, admin_account=accounts[0], parent_account=accounts[3], now=now)
    )
    await session.flush()
    session.add_all(_acceptances(sid, accounts, documents, now=now))
    await session.flush()
    # Learning: progress on the starter ladders, an assignment with feedback, a record of achievement.
    half = PUPILS_PER_SCHOOL // 2
    await seed_learning(
        session,
        sid,
        [
            DemoClass(year5, teacher1, accounts[1], pupils[:half], accounts[4 : 4 + half]),
            DemoClass(year6, teacher2, accounts[2], pupils[half:], accounts[4 + half :]),
        ],
        now,
    )


async def seed(engine: AsyncEngine, hasher: PasswordHasher, password: str, now: datetime) -> None:
    """Create the demo trusts (with their admins), the operator, the schools and people in one transaction
    (nothing half-seeded)."""
    password_hash = hasher.hash(password)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        trusts = {
            spec: await create_trust(session, slug=spec.slug, name=spec.name, kind=spec.kind, now=now)
            for spec in TRUSTS
        }
        for owner in trusts.values():
            session.add(
                TrustAdminAccount(
                    trust_id=owner.id,
                    username=TRUST_ADMIN,
                    display_name=f"Demo admin of {owner.name}",
                    email=f"{TRUST_ADMIN}@{owner.slug}.example.org",
                    password_hash=password_hash,
                    status="ACTIVE",
                    password_changed_at=now,
                    created_at=now,
                )
            )
        session.add(
            OperatorAccount(
                username=OPERATOR,
                display_name="Demo platform operator",
                email="operator@platform.example.org",
                password_hash=password_hash,
                status="ACTIVE",
                password_changed_at=now,
                created_at=now,
            )
        )
        documents = _documents(now)
        session.add_all(documents)
        await session.flush()
        for spec in SCHOOLS:
            await _seed_school(session, spec, password_hash, documents, now)
            school_id = (
                await session.execute(select(School.id).where(School.slug == spec.slug))
            ).scalar_one()
            joined = date(now.year - 1, 9, 1)
            await join_trust(session, school_id, trusts[spec.trust].id, effective_from=joined, now=now)


DEMO_PARTNER = "Demo MIS"
"""The integration partner the demo registers and approves at oakfield-primary with roster.read."""


@dataclass(frozen=True)
class DemoPartner:
    client_id: str
    client_secret: str
    school: str = OAKFIELD.slug


async def seed_partner(
    engine: AsyncEngine,
    hasher: PasswordHasher,
    now: datetime,
    *,
    overlap: timedelta,
    school: str = OAKFIELD.slug,
) -> DemoPartner:
    """Register "Demo MIS", issue its client secret and approve it at ``school`` (oakfield-primary) with roster.read,
    through the partner services (recorded in the platform audit log as the demo seed), in one
    transaction. The secret is returned to be shown once; only its hash is stored."""
    trail = PlatformTrail(
        actor=Actor("SYSTEM", None, "demo", "DEMO"), request_id="demo-seed", client_address=None
    )
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        attach(session, trail)
        partner = await registry.register(
            session,
            name=DEMO_PARTNER,
            contact_name="Demo MIS support",
            contact_email="support@demo-mis.example",
            privacy_notice_url="https://demo-mis.example/privacy",
            allowed_scopes=[ROSTER_READ],
        )
        issued = await registry.issue_secret(session, hasher, partner.id, overlap=overlap, now=now)
        tenant = await enter_school(session, school)  # binds the transaction to the school
        if tenant is None:
            raise ValueError(f"no school {school!r} to approve the demo partner at")
        await approvals.approve(session, None, tenant.id, partner.id, [ROSTER_READ], now=now)
        await trail.write(session, now=now)
    return DemoPartner(partner.client_id, issued.secret, school)

"""Exporting a school's roster as a OneRoster 1.1 bulk package (LL 5.1.4: data portability).

The package holds the school's active people, groups, terms and links, in the same mapping the importer
reads (in the 1.1 vocabulary: a member of staff's stored role as :data:`STAFF_ROLES_11` writes it, the legal
given name, never the preferred one), so that re-importing it changes nothing: records keep the ids they were imported with (their source
id, or for a record made in schoolgraph its own id, which the importer matches too). It carries no
passwords and no extended data (OneRoster has no place for it). Rows are streamed from the database into the
zip, never held whole; the zip's comment carries the PROTECT marking (LRS 6.6).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from common.events import emit
from models import Account, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, School, Staff
from models.roster import GroupTerm, Term
from roster.oneroster import SPECS_11
from roster.oneroster_spec import STAFF_ROLES_11
from roster.reading import SchoolRef
from roster.records import key
from roster.session_settings import EXPORT_SETTINGS, set_local
from tenants.scoping import in_school, restrict

MARKING = b"PROTECT - personal data of pupils and staff (LRS 6.6). Keep it secure; delete when done."
MANIFEST = [
    ("manifest.version", "1.0"),
    ("oneroster.version", "1.1"),
    ("file.academicSessions", "bulk"),
    ("file.categories", "absent"),
    ("file.classes", "bulk"),
    ("file.classResources", "absent"),
    ("file.courses", "bulk"),
    ("file.courseResources", "absent"),
    ("file.demographics", "bulk"),
    ("file.enrollments", "bulk"),
    ("file.lineItems", "absent"),
    ("file.orgs", "bulk"),
    ("file.resources", "absent"),
    ("file.results", "absent"),
    ("file.users", "bulk"),
    ("source.systemName", "schoolgraph"),
    ("source.systemCode", "schoolgraph"),
]
TERM_TYPES = {
    "SCHOOL_YEAR": "schoolYear",
    "SEMESTER": "semester",
    "TERM": "term",
    "GRADING_PERIOD": "gradingPeriod",
}
SEXES = {"FEMALE": "female", "MALE": "male"}
"""OneRoster 1.1's sex is male or female; it may be left blank, which is how OTHER and NOT_KNOWN are written
(and a blank sex leaves a pupil's recorded one as it is when the package is imported again)."""
CONTACT_ROLES = {"PARENT": "parent", "GUARDIAN": "guardian", "RELATIVE": "relative"}
STAFF_ROLES = {True: "teacher", False: "administrator"}
"""A member of staff's OneRoster role: by whether they teach."""


@dataclass
class ExportSummary:
    rows: dict[str, int] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0


async def export_oneroster(session: AsyncSession, school: SchoolRef, out: BinaryIO) -> ExportSummary:
    """Write the school's roster to ``out`` (a seekable binary file) as a OneRoster 1.1 bulk zip, with the
    bulk-job settings (roster/session_settings.py) for its statements, restored afterwards; the export is
    emitted to the audit trail (its row counts and the file's SHA-256)."""
    previous = await set_local(session, EXPORT_SETTINGS)
    summary = await _export(session, school, out)
    await set_local(session, previous)
    return summary


async def _export(session: AsyncSession, school: SchoolRef, out: BinaryIO) -> ExportSummary:
    name = (await session.execute(select(School.name).where(School.id == school.id))).scalar_one()
    org = school.org_sourced_id or school.own_org_id
    summary = ExportSummary()
    start = out.tell()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.comment = MARKING

        async def write(file: str, rows: AsyncIterator[Sequence[Any]] | list[Sequence[Any]]) -> None:
            header = ("propertyName", "value") if file == "manifest.csv" else SPECS_11[file]
            count = 0
            with archive.open(file, "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text, lineterminator="\r\n")
                writer.writerow(header)
                if isinstance(rows, list):
                    for row in rows:
                        writer.writerow(row)
                        count += 1
                else:
                    async for row in rows:
                        writer.writerow(row)
                        count += 1
                text.flush()
                text.detach()
            summary.rows[file] = count

        await write("manifest.csv", [list(r) for r in MANIFEST])
        await write("orgs.csv", [[org, "", "", name, "school", school.urn or "", ""]])
        await write("academicSessions.csv", _terms(session, school))
        await write("courses.csv", _courses(session, school, org))
        await write("classes.csv", _classes(session, school, org))
        await write("users.csv", _users(session, school, org))
        await write("demographics.csv", _demographics(session, school))
        await write("enrollments.csv", _enrollments(session, school, org))
    end = out.tell()
    out.seek(start)
    digest = hashlib.sha256()
    remaining = end - start
    while remaining > 0:
        chunk = out.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    out.seek(end)
    summary.sha256, summary.size = digest.hexdigest(), end - start
    await emit(session, "roster.export", detail={"rows": summary.rows, "sha256": summary.sha256})
    return summary


async def _stream(session: AsyncSession, stmt: Any) -> AsyncIterator[Any]:
    result = await session.stream(stmt.execution_options(yield_per=2000))
    async for row in result:
        yield row


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


async def _terms(session: AsyncSession, school: SchoolRef) -> AsyncIterator[list[str]]:
    stmt = restrict(select(Term).where(Term.active).order_by(Term.source_id), Term, school.id)
    async for (term,) in _stream(session, stmt):
        yield [
            term.source_id,
            "",
            "",
            term.title,
            TERM_TYPES[term.type],
            term.start_date.isoformat(),
            term.end_date.isoformat(),
            _blank(term.parent_source_id),
            _blank(term.school_year),
        ]


def groups_stmt(school: SchoolRef) -> Any:
    terms = (
        select(func.array_agg(Term.source_id))
        .where(GroupTerm.group_id == Group.id, Term.id == GroupTerm.term_id, in_school(GroupTerm, school.id))
        .where(in_school(Term, school.id), Term.active)
        .scalar_subquery()
    )
    return restrict(
        select(
            key(Group, "external_id").label("sid"),
            Group.name,
            Group.type,
            Group.subject,
            terms.label("terms"),
        )
        .where(Group.active)
        .order_by("sid"),
        Group,
        school.id,
    )


async def _courses(session: AsyncSession, school: SchoolRef, org: str) -> AsyncIterator[list[str]]:
    async for row in _stream(session, groups_stmt(school)):
        yield [f"course-{row.sid}", "", "", "", row.name, "", "", org, _blank(row.subject), ""]


async def _classes(session: AsyncSession, school: SchoolRef, org: str) -> AsyncIterator[list[str]]:
    async for row in _stream(session, groups_stmt(school)):
        kind = "homeroom" if row.type == "REGISTRATION" else "scheduled"
        terms = ",".join(sorted(row.terms or []))
        yield [
            row.sid,
            "",
            "",
            row.name,
            "",
            f"course-{row.sid}",
            "",
            kind,
            "",
            org,
            terms,
            _blank(row.subject),
            "",
            "",
        ]


def _agents(owner_column: Any, other_column: Any, other: Any, school: SchoolRef) -> Any:
    """Each owner's agents (a pupil's contacts, a contact's pupils) as one array, grouped once for the school
    and joined, rather than looked up per owner (which goes quadratic on a freshly imported school)."""
    sid = school.id
    return (
        select(owner_column.label("owner"), func.array_agg(key(other)).label("agents"))
        .where(other.id == other_column, other.active, in_school(PupilContact, sid), in_school(other, sid))
        .group_by(owner_column)
        .subquery()
    )


def _user_row(
    row: Any, org: str, role: str, *, email: str | None, ids: str = "", identifier: str = "", phone: str = ""
) -> list[str]:
    return [
        row.sid,
        "",
        "",
        "true",
        org,
        role,
        _blank(row.username),
        ids,
        row.forename,
        row.surname,
        "",
        identifier,
        _blank(email),
        "",
        phone,
        ",".join(sorted(row.agents or [])),
        "",
        "",
    ]


async def _users(session: AsyncSession, school: SchoolRef, org: str) -> AsyncIterator[list[str]]:
    """users.csv: the active staff, pupils and contacts, each kind in sourcedId order."""
    async for row in _stream(session, staff_users(school)):
        yield _user_row(row, org, staff_role(row), email=row.work_email)
    async for row in _stream(session, pupil_users(school)):
        ids = ",".join(f"{{{k}:{v}}}" for k, v in (("UPN", row.upn), ("ULN", row.uln)) if v)
        yield _user_row(row, org, "student", email=row.email, ids=ids)
    async for row in _stream(session, contact_users(school)):
        role = CONTACT_ROLES.get(row.relationship or "PARENT", "guardian")
        yield _user_row(row, org, role, email=row.email, phone=_blank(row.phone))


def staff_role(row: Any) -> str:
    """A member of staff's role in the 1.1 vocabulary: the stored role an import gave, else teacher or
    administrator by whether they teach (the CSV export and the OneRoster provider both write this)."""
    return STAFF_ROLES_11.get(row.staff_role or "") or STAFF_ROLES[bool(row.teaching)]


def staff_role_sql(staff_role: Any, teaching: Any) -> Any:
    """:func:`staff_role` as SQL over the columns of :func:`staff_users` (the OneRoster provider's)."""
    stored = [(staff_role == name, written) for name, written in STAFF_ROLES_11.items()]
    return case(*stored, (teaching, STAFF_ROLES[True]), else_=STAFF_ROLES[False])


def staff_users(school: SchoolRef) -> Any:
    sid = school.id
    return restrict(
        select(
            key(Staff).label("sid"),
            Staff.forename,
            Staff.surname,
            Staff.work_email,
            Staff.teaching,
            Staff.staff_role,
            Account.username,
            literal(None).label("agents"),
        )
        .outerjoin(Account, and_(Account.staff_id == Staff.id, in_school(Account, sid)))
        .where(Staff.active)
        .order_by("sid"),
        Staff,
        sid,
    )


def pupil_users(school: SchoolRef) -> Any:
    sid = school.id
    agents = _agents(PupilContact.pupil_id, PupilContact.contact_id, Contact, school)
    return restrict(
        select(
            key(Pupil).label("sid"),
            Pupil.forename,
            Pupil.surname,
            Pupil.email,
            Pupil.upn,
            Pupil.uln,
            Account.username,
            agents.c.agents,
        )
        .outerjoin(Account, and_(Account.pupil_id == Pupil.id, in_school(Account, sid)))
        .outerjoin(agents, agents.c.owner == Pupil.id)
        .where(Pupil.active)
        .order_by("sid"),
        Pupil,
        sid,
    )


def contact_users(school: SchoolRef) -> Any:
    """Contacts, with the first of their relationships (which OneRoster role they are exported as)."""
    sid = school.id
    relationship = (
        select(PupilContact.contact_id, func.min(PupilContact.relationship).label("relationship"))
        .where(in_school(PupilContact, sid))
        .group_by(PupilContact.contact_id)
        .subquery()
    )
    agents = _agents(PupilContact.contact_id, PupilContact.pupil_id, Pupil, school)
    return restrict(
        select(
            key(Contact).label("sid"),
            Contact.forename,
            Contact.surname,
            Contact.email,
            Contact.phone,
            Account.username,
            relationship.c.relationship,
            agents.c.agents,
        )
        .outerjoin(Account, and_(Account.contact_id == Contact.id, in_school(Account, sid)))
        .outerjoin(relationship, relationship.c.contact_id == Contact.id)
        .outerjoin(agents, agents.c.owner == Contact.id)
        .where(Contact.active)
        .order_by("sid"),
        Contact,
        sid,
    )


def demographics_stmt(school: SchoolRef) -> Any:
    """demographics.csv's rows (and the OneRoster provider's): active pupils with a date of birth or a
    known sex, as ``sid``, ``date_of_birth``, ``gender``, in sourcedId order."""
    return restrict(
        select(key(Pupil).label("sid"), Pupil.date_of_birth, Pupil.gender)
        .where(Pupil.active, col(Pupil.date_of_birth).is_not(None) | (Pupil.gender != "NOT_KNOWN"))
        .order_by("sid"),
        Pupil,
        school.id,
    )


async def _demographics(session: AsyncSession, school: SchoolRef) -> AsyncIterator[list[str]]:
    async for row in _stream(session, demographics_stmt(school)):
        born = row.date_of_birth.isoformat() if row.date_of_birth else ""
        yield [row.sid, "", "", born, SEXES.get(row.gender, ""), *([""] * 11)]


ENROLLED = ((GroupPupil, "pupil_id", Pupil, "student"), (GroupTeacher, "staff_id", Staff, "teacher"))
"""Who is enrolled in a class, by link table: its person column, the person's model, the OneRoster role."""


def enrollments_stmt(school: SchoolRef, link: Any, column: str, model: Any) -> Any:
    """enrollments.csv's rows of one link table (and the provider's): active class and active person, as
    ``gsid`` (the class's sourcedId) and ``psid`` (the user's), in that order."""
    sid = school.id
    stmt = (
        select(key(Group, "external_id").label("gsid"), key(model).label("psid"))
        .where(Group.id == link.group_id, model.id == getattr(link, column), Group.active, model.active)
        .order_by("gsid", "psid")
    )
    return restrict(restrict(restrict(stmt, link, sid), Group, sid), model, sid)


def enrollment_id(gsid: str, psid: str, role: str) -> str:
    """An enrolment's sourcedId: class, user and the role's initial."""
    return f"{gsid}:{psid}:{role[0]}"


async def _enrollments(session: AsyncSession, school: SchoolRef, org: str) -> AsyncIterator[list[str]]:
    for link, column, model, role in ENROLLED:
        async for row in _stream(session, enrollments_stmt(school, link, column, model)):
            yield [enrollment_id(row.gsid, row.psid, role), "", "", row.gsid, org, row.psid, role, "", "", ""]

"""Writing an import: set-based statements from the staging tables into the school's tables.

Order: which existing row each staged record is (:meth:`Merge.match`, temporary tables only), then terms,
groups, people (insert the new, update what differs, deactivate leavers), extended data, the links
(memberships, teaching assignments, contacts' children, classes' terms), and last the accounts (leavers'
disabled with their sessions revoked, joiners' created PENDING). Each statement is one INSERT ... SELECT or
UPDATE ... FROM over the staging tables, scoped to the school through tenants/scoping.py; each returns its
row count, which is the report's count, so a dry run (the same statements, rolled back) reports exactly
what a commit would do.

Rules the statements carry out (docs/roster-csv.md):

* A row is matched by its source id (``source_id``, or ``external_id`` for groups), or for a row made in
  schoolgraph by its own id (what the export writes); a pupil with no source id is adopted by UPN, a member
  of staff by work email, so the first import of a school that was set up by hand does not duplicate it.
* A blank value never clears a stored one (MIS exports often leave optional columns out).
* Bulk: records of the file's kind that came from the MIS (have a source id) and are missing from it are
  deactivated, never deleted; the links between records that are both in the file are made exactly what
  the file says. Delta: ``tobedeleted`` deactivates (or unlinks); nothing else is removed.
* A leaver's account is disabled and its sessions revoked at once (LL 11.1); their data stays.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.dialects.postgresql import UUID, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.service import set_account_status
from models import Account, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, Staff
from models.roster import GroupTerm, PupilExtendedData, Term
from roster import staging
from roster.checks import ACCOUNT_PERSON, PERSON_MODELS, active_row, key
from roster.problems import ProblemLog
from roster.reading import BULK, DELTA, Modes
from tenants.scoping import restrict, scoped_delete, scoped_update

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
TERMS = staging.TERMS
ENROLLMENTS = staging.ENROLLMENTS
EXTENDED = staging.EXTENDED
MATCH = staging.MATCH_PEOPLE
MATCH_GROUPS = staging.MATCH_GROUPS
MATCH_TERMS = staging.MATCH_TERMS
LEFT = staging.LEFT
PAIRS = staging.PAIRS

ACCOUNT_ROLES = {"PUPIL": "PUPIL", "STAFF": "STAFF", "CONTACT": "PARENT"}
RELATIONSHIPS = {"parent": "PARENT", "guardian": "GUARDIAN", "relative": "RELATIVE"}
ENTITIES = (
    "terms",
    "groups",
    "staff",
    "pupils",
    "contacts",
    "memberships",
    "teaching",
    "contactLinks",
    "groupTerms",
    "extendedData",
    "accounts",
)
KIND_ENTITY = {"PUPIL": "pupils", "STAFF": "staff", "CONTACT": "contacts"}
CHUNK = 5000


@dataclass
class Counts:
    create: int = 0
    update: int = 0
    deactivate: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.deactivate

    def as_dict(self) -> dict[str, int]:
        return {
            "create": self.create,
            "update": self.update,
            "deactivate": self.deactivate,
            "unchanged": self.unchanged,
        }


@dataclass
class Merge:
    session: AsyncSession
    school_id: uuid.UUID
    modes: Modes
    log: ProblemLog
    now: datetime
    today: date
    importer_account_id: uuid.UUID | None
    importer_staff_id: uuid.UUID | None
    opted_in: bool
    counts: dict[str, Counts] = field(default_factory=lambda: {e: Counts() for e in ENTITIES})
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step of :meth:`apply` (for the bench and the command line's summary)."""
    pairs: int = 0
    """Rows in PAIRS now: an empty PAIRS is neither emptied nor analysed."""

    async def _rowcount(self, stmt: Any) -> int:
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _scalar(self, stmt: Any) -> int:
        return int((await self.session.execute(stmt)).scalar_one() or 0)

    # --- resolving the package's own structure ------------------------------------------------------------

    async def resolve_roles(self) -> int:
        """OneRoster 1.2: each user's role at this school from roles.csv (the primary role first).

        Users with no role at this school are not this school's: they are skipped and counted. A user with
        no role at all but a record here already keeps the kind of that record (a delta that only edits).
        """
        roles = staging.ROLES
        first = (
            select(roles.c.user_id, roles.c.role)
            .where(active_row(roles))
            .ext(distinct_on(roles.c.user_id))
            .order_by(roles.c.user_id, (roles.c.role_type == "primary").desc(), roles.c.row_no)
            .subquery()
        )
        kind = case(
            (first.c.role == "student", "PUPIL"),
            (first.c.role.in_(["parent", "guardian", "relative"]), "CONTACT"),
            else_="STAFF",
        )
        await self.session.execute(
            PEOPLE.update()
            .where(first.c.user_id == PEOPLE.c.sourced_id)
            .values(role=first.c.role, kind=kind, in_school=true(), teaching=(first.c.role == "teacher"))
        )
        for person_kind, model in PERSON_MODELS.items():
            await self.session.execute(
                PEOPLE.update()
                .where(
                    PEOPLE.c.kind.is_(None),
                    exists(
                        restrict(
                            select(model.id).where(key(model) == PEOPLE.c.sourced_id), model, self.school_id
                        )
                    ),
                )
                .values(kind=person_kind, in_school=true())
            )
        return await self._rowcount(
            PEOPLE.update().where(PEOPLE.c.in_school.is_(None)).values(in_school=false())
        )

    async def apply_demographics(self) -> None:
        demographics = staging.DEMOGRAPHICS
        await self.session.execute(
            PEOPLE.update()
            .where(demographics.c.sourced_id == PEOPLE.c.sourced_id, active_row(demographics))
            .values(
                dob=demographics.c.dob,
                gender=demographics.c.gender,
                dob_file="demographics.csv",
                dob_row=demographics.c.row_no,
            )
        )

    # --- matching -------------------------------------------------------------------------------------------

    async def match(self) -> None:
        """Fill the match tables: staged records with their rows, then rows the package only references."""
        school = self.school_id
        staged = and_(PEOPLE.c.in_school, PEOPLE.c.kind.is_not(None))
        for kind, model in PERSON_MODELS.items():
            await self.session.execute(
                insert(MATCH).from_select(
                    ["kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"],
                    restrict(
                        select(
                            literal(kind),
                            PEOPLE.c.sourced_id,
                            model.id,
                            false(),
                            false(),
                            true(),
                            active_row(PEOPLE),
                        ).where(staged, PEOPLE.c.kind == kind, key(model) == PEOPLE.c.sourced_id),
                        model,
                        school,
                    ),
                )
            )
        await self._adopt("PUPIL", Pupil.upn, PEOPLE.c.upn)
        await self._adopt("STAFF", func.lower(Staff.work_email), func.lower(PEOPLE.c.email))
        # Referenced only: enrollments' people, agents, extended data's pupils.
        refs = union(
            select(ENROLLMENTS.c.person_sid.label("sid")),
            select(func.unnest(PEOPLE.c.agent_ids)).where(PEOPLE.c.in_school),
            select(EXTENDED.c.pupil_sid),
        ).subquery("refs")
        for kind, model in PERSON_MODELS.items():
            await self.session.execute(
                insert(MATCH).from_select(
                    ["kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"],
                    restrict(
                        select(literal(kind), refs.c.sid, model.id, false(), false(), false(), false()).where(
                            key(model) == refs.c.sid,
                            ~exists().where(MATCH.c.kind == kind, MATCH.c.sourced_id == refs.c.sid),
                        ),
                        model,
                        school,
                    ),
                )
            )
        group_key = key(Group, "external_id")
        await self.session.execute(
            insert(MATCH_GROUPS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                restrict(
                    select(GROUPS.c.sourced_id, Group.id, false(), true(), active_row(GROUPS)).where(
                        group_key == GROUPS.c.sourced_id
                    ),
                    Group,
                    school,
                ),
            )
        )
        group_refs = select(ENROLLMENTS.c.group_sid.label("sid")).distinct().subquery("group_refs")
        await self.session.execute(
            insert(MATCH_GROUPS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                restrict(
                    select(group_refs.c.sid, Group.id, false(), false(), false()).where(
                        group_key == group_refs.c.sid,
                        ~exists().where(MATCH_GROUPS.c.sourced_id == group_refs.c.sid),
                    ),
                    Group,
                    school,
                ),
            )
        )
        await self.session.execute(
            insert(MATCH_TERMS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                restrict(
                    select(TERMS.c.sourced_id, Term.id, false(), true(), active_row(TERMS)).where(
                        Term.source_id == TERMS.c.sourced_id
                    ),
                    Term,
                    school,
                ),
            )
        )
        term_refs = select(func.unnest(GROUPS.c.term_ids).label("sid")).distinct().subquery("term_refs")
        await self.session.execute(
            insert(MATCH_TERMS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                restrict(
                    select(term_refs.c.sid, Term.id, false(), false(), false()).where(
                        Term.source_id == term_refs.c.sid,
                        ~exists().where(MATCH_TERMS.c.sourced_id == term_refs.c.sid),
                    ),
                    Term,
                    school,
                ),
            )
        )
        await staging.analyze(self.session, [MATCH, MATCH_GROUPS, MATCH_TERMS])

    async def _adopt(self, kind: str, stored: Any, given: Any) -> None:
        """Unmatched staged records take over the one hand-made row with the same UPN / work email."""
        model = PERSON_MODELS[kind]
        candidates = restrict(
            select(stored.label("value"), func.min(cast(model.id, Text)).label("id"))
            .where(model.source_id.is_(None), stored.is_not(None))
            .group_by(stored)
            .having(func.count() == 1),
            model,
            self.school_id,
        ).subquery("candidates")
        await self.session.execute(
            insert(MATCH).from_select(
                ["kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"],
                select(
                    literal(kind),
                    PEOPLE.c.sourced_id,
                    cast(candidates.c.id, UUID(as_uuid=True)),
                    true(),
                    false(),
                    true(),
                    true(),
                ).where(
                    PEOPLE.c.in_school,
                    PEOPLE.c.kind == kind,
                    active_row(PEOPLE),
                    candidates.c.value == given,
                    ~exists().where(MATCH.c.kind == kind, MATCH.c.sourced_id == PEOPLE.c.sourced_id),
                    ~exists().where(MATCH.c.kind == kind, cast(MATCH.c.id, Text) == candidates.c.id),
                ),
            )
        )

    # --- applying ---------------------------------------------------------------------------------------

    async def apply(self) -> None:
        links = (
            ("memberships", GroupPupil, GroupPupil.pupil_id, "PUPIL", "student"),
            ("teaching", GroupTeacher, GroupTeacher.staff_id, "STAFF", "teacher"),
        )
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("terms", self._terms),
            ("groups", self._groups),
            ("staff", lambda: self._people("STAFF")),
            ("pupils", lambda: self._people("PUPIL")),
            ("contacts", lambda: self._people("CONTACT")),
            ("extendedData", self._extended),
            *(
                (name, partial(self._links, link, column, kind, role, name))
                for name, link, column, kind, role in links
            ),
            ("contactLinks", self._contact_links),
            ("groupTerms", self._group_terms),
            ("accounts", self._accounts),
        ]
        # The match table each step adds its new rows to: later steps join it at its real size, so it is
        # analysed again once it has grown (people: after the last of the three kinds).
        grown: dict[str, tuple[Any, tuple[str, ...]]] = {
            "terms": (MATCH_TERMS, ("terms",)),
            "groups": (MATCH_GROUPS, ("groups",)),
            "contacts": (MATCH, ("staff", "pupils", "contacts")),
        }
        for name, step in steps:
            started = time.perf_counter()
            await step()
            if name in grown:
                table, entities = grown[name]
                if any(self.counts[entity].create for entity in entities):
                    await staging.analyze(self.session, [table])
            self.timings[f"write {name}"] = time.perf_counter() - started

    def _staged_counts(self, match: Any, kind: str | None = None) -> Any:
        """How many staged, active, already existing records there are (the updated and the unchanged)."""
        conditions = [match.c.staged, match.c.active_row, ~match.c.created]
        if kind is not None:
            conditions.append(match.c.kind == kind)
        return select(func.count()).select_from(match).where(*conditions)

    async def _terms(self) -> None:
        if self.modes.terms == "absent":
            return
        counts, school, now = self.counts["terms"], self.school_id, self.now
        new = select(
            literal(school),
            func.gen_random_uuid(),
            TERMS.c.sourced_id,
            TERMS.c.title,
            TERMS.c.type,
            TERMS.c.start_date,
            TERMS.c.end_date,
            TERMS.c.parent_id,
            TERMS.c.school_year,
            true(),
            literal(now),
        ).where(active_row(TERMS), ~exists().where(MATCH_TERMS.c.sourced_id == TERMS.c.sourced_id))
        inserted = (
            pg_insert(Term)
            .from_select(
                [
                    "school_id",
                    "id",
                    "source_id",
                    "title",
                    "type",
                    "start_date",
                    "end_date",
                    "parent_source_id",
                    "school_year",
                    "active",
                    "created_at",
                ],
                new,
            )
            .returning(Term.id, Term.source_id)
            .cte("inserted")
        )
        counts.create = await self._rowcount(
            insert(MATCH_TERMS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                select(inserted.c.source_id, inserted.c.id, true(), true(), true()),
            )
        )
        given = (
            TERMS.c.title,
            TERMS.c.type,
            TERMS.c.start_date,
            TERMS.c.end_date,
            func.coalesce(TERMS.c.parent_id, Term.parent_source_id),
            func.coalesce(TERMS.c.school_year, Term.school_year),
            true(),
        )
        stored = (
            Term.title,
            Term.type,
            Term.start_date,
            Term.end_date,
            Term.parent_source_id,
            Term.school_year,
            Term.active,
        )
        counts.update = await self._rowcount(
            scoped_update(Term, school)
            .where(
                Term.id == MATCH_TERMS.c.id,
                MATCH_TERMS.c.sourced_id == TERMS.c.sourced_id,
                MATCH_TERMS.c.staged,
                ~MATCH_TERMS.c.created,
                active_row(TERMS),
                tuple_(*stored).is_distinct_from(tuple_(*given)),
            )
            .values(
                {
                    **dict(
                        zip(
                            [
                                "title",
                                "type",
                                "start_date",
                                "end_date",
                                "parent_source_id",
                                "school_year",
                                "active",
                            ],
                            given,
                            strict=True,
                        )
                    ),
                    "updated_at": now,
                }
            )
        )
        counts.unchanged = await self._scalar(self._staged_counts(MATCH_TERMS)) - counts.update
        for leaving in _leaving(Term.id, MATCH_TERMS, bulk=self.modes.terms == BULK, managed=true()):
            counts.deactivate += await self._rowcount(
                scoped_update(Term, school).where(Term.active, leaving).values(active=False, updated_at=now)
            )

    async def _groups(self) -> None:
        if self.modes.groups == "absent":
            return
        counts, school, now = self.counts["groups"], self.school_id, self.now
        new_type = case((GROUPS.c.type == "SCHEDULED", "CLASS"), else_=GROUPS.c.type)
        given_type = case(
            (GROUPS.c.type != "SCHEDULED", GROUPS.c.type),
            (Group.type == "REGISTRATION", "CLASS"),
            else_=Group.type,
        )
        new = select(
            literal(school),
            func.gen_random_uuid(),
            GROUPS.c.name,
            new_type,
            GROUPS.c.sourced_id,
            GROUPS.c.year_group,
            GROUPS.c.subject,
            true(),
            literal(now),
        ).where(active_row(GROUPS), ~exists().where(MATCH_GROUPS.c.sourced_id == GROUPS.c.sourced_id))
        inserted = (
            pg_insert(Group)
            .from_select(
                [
                    "school_id",
                    "id",
                    "name",
                    "type",
                    "external_id",
                    "year_group",
                    "subject",
                    "active",
                    "created_at",
                ],
                new,
            )
            .returning(Group.id, Group.external_id)
            .cte("inserted")
        )
        counts.create = await self._rowcount(
            insert(MATCH_GROUPS).from_select(
                ["sourced_id", "id", "created", "staged", "active_row"],
                select(inserted.c.external_id, inserted.c.id, true(), true(), true()),
            )
        )
        given = (
            GROUPS.c.name,
            given_type,
            func.coalesce(GROUPS.c.year_group, Group.year_group),
            func.coalesce(GROUPS.c.subject, Group.subject),
            true(),
        )
        stored = (Group.name, Group.type, Group.year_group, Group.subject, Group.active)
        counts.update = await self._rowcount(
            scoped_update(Group, school)
            .where(
                Group.id == MATCH_GROUPS.c.id,
                MATCH_GROUPS.c.sourced_id == GROUPS.c.sourced_id,
                MATCH_GROUPS.c.staged,
                ~MATCH_GROUPS.c.created,
                active_row(GROUPS),
                tuple_(*stored).is_distinct_from(tuple_(*given)),
            )
            .values(
                {
                    **dict(zip(["name", "type", "year_group", "subject", "active"], given, strict=True)),
                    "updated_at": now,
                }
            )
        )
        counts.unchanged = await self._scalar(self._staged_counts(MATCH_GROUPS)) - counts.update
        managed = col(Group.external_id).is_not(None)
        for leaving in _leaving(Group.id, MATCH_GROUPS, bulk=self.modes.groups == BULK, managed=managed):
            counts.deactivate += await self._rowcount(
                scoped_update(Group, school).where(Group.active, leaving).values(active=False, updated_at=now)
            )

    def _person_values(self, kind: str) -> dict[str, Any]:
        """Column -> the value an update gives it (blank never clears)."""
        s = PEOPLE.c
        values: dict[str, Any] = {"forename": s.forename, "surname": s.surname}
        if kind == "PUPIL":
            values |= {
                "email": func.coalesce(s.email, Pupil.email),
                "upn": func.coalesce(s.upn, Pupil.upn),
                "uln": func.coalesce(s.uln, Pupil.uln),
                "date_of_birth": func.coalesce(s.dob, Pupil.date_of_birth),
                "gender": func.coalesce(s.gender, Pupil.gender),
                "active": true(),
                "date_of_leaving": case((Pupil.active, Pupil.date_of_leaving), else_=null()),
            }
        elif kind == "STAFF":
            leaving = func.coalesce(
                s.date_of_leaving, case((Staff.active, Staff.date_of_leaving), else_=null())
            )
            values |= {
                "title": func.coalesce(s.title, Staff.title),
                "work_email": func.coalesce(s.email, Staff.work_email),
                "secondary_email": func.coalesce(s.secondary_email, Staff.secondary_email),
                "teaching": func.coalesce(s.teaching, Staff.teaching),
                "role_text": func.coalesce(s.role_text, Staff.role_text),
                "staff_code": func.coalesce(s.staff_code, Staff.staff_code),
                "date_of_leaving": leaving,
                "active": or_(leaving.is_(None), leaving > self.today),
            }
        else:
            values |= {
                "email": func.coalesce(s.email, Contact.email),
                "phone": func.coalesce(s.phone, Contact.phone),
                "active": true(),
            }
        return values

    async def _people(self, kind: str) -> None:
        mode = self.modes.people[kind]
        if mode == "absent":
            return
        model = PERSON_MODELS[kind]
        counts, school, now, s = self.counts[KIND_ENTITY[kind]], self.school_id, self.now, PEOPLE.c
        new_rows = and_(
            s.in_school,
            s.kind == kind,
            active_row(PEOPLE),
            ~exists().where(MATCH.c.kind == kind, MATCH.c.sourced_id == s.sourced_id),
        )
        columns: dict[str, Any] = {
            "school_id": literal(school),
            "id": func.gen_random_uuid(),
            "source_id": s.sourced_id,
            "forename": s.forename,
            "surname": s.surname,
            "created_at": literal(now),
        }
        if kind == "PUPIL":
            columns |= {
                "email": s.email,
                "upn": s.upn,
                "uln": s.uln,
                "date_of_birth": s.dob,
                "gender": func.coalesce(s.gender, "NOT_KNOWN"),
                "active": true(),
            }
        elif kind == "STAFF":
            columns |= {
                "title": s.title,
                "work_email": s.email,
                "secondary_email": s.secondary_email,
                "teaching": func.coalesce(s.teaching, True),
                "role_text": s.role_text,
                "staff_code": s.staff_code,
                "date_of_leaving": s.date_of_leaving,
                "active": or_(s.date_of_leaving.is_(None), s.date_of_leaving > self.today),
            }
        else:
            columns |= {"email": s.email, "phone": s.phone, "active": true()}
        inserted = (
            pg_insert(model)
            .from_select(list(columns), select(*columns.values()).where(new_rows))
            .returning(model.id, model.source_id)
            .cte("inserted")
        )
        counts.create = await self._rowcount(
            insert(MATCH).from_select(
                ["kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"],
                select(literal(kind), inserted.c.source_id, inserted.c.id, false(), true(), true(), true()),
            )
        )
        values = self._person_values(kind)
        source = case((MATCH.c.adopt, s.sourced_id), else_=model.source_id)
        stored = tuple_(*(getattr(model, c) for c in values), model.source_id)
        given = tuple_(*values.values(), source)
        update = (
            scoped_update(model, school)
            .where(
                model.id == MATCH.c.id,
                MATCH.c.kind == kind,
                MATCH.c.staged,
                ~MATCH.c.created,
                MATCH.c.active_row,
                s.kind == kind,
                s.sourced_id == MATCH.c.sourced_id,
                stored.is_distinct_from(given),
            )
            .values({**values, "source_id": source, **({} if kind == "CONTACT" else {"updated_at": now})})
        )
        counts.update = await self._rowcount(update)
        counts.unchanged = await self._scalar(self._staged_counts(MATCH, kind)) - counts.update
        # Leavers: tobedeleted rows, and in bulk the MIS's records the file no longer has.
        leave: dict[str, Any] = {"active": False}
        if kind != "CONTACT":
            leave |= {
                "date_of_leaving": case(
                    (model.date_of_leaving <= self.today, model.date_of_leaving), else_=literal(self.today)
                ),
                "updated_at": now,
            }
        own = self.importer_staff_id if kind == "STAFF" else None
        managed = col(model.source_id).is_not(None)
        for leaving in _leaving(model.id, MATCH, bulk=mode == BULK, managed=managed, kind=kind):
            conditions = [model.active, leaving]
            if own is not None:
                mine = restrict(select(func.count()).where(*conditions, Staff.id == own), Staff, school)
                if await self._scalar(mine):
                    self.log.warning(
                        "OWN_RECORD_KEPT",
                        "The package would deactivate your own staff record: it is kept active (another "
                        "school admin can record your leaving).",
                    )
                conditions.append(Staff.id != own)
            left = (
                scoped_update(model, school)
                .where(*conditions)
                .values(leave)
                .returning(model.id)
                .cte("left_rows")
            )
            counts.deactivate += await self._rowcount(
                insert(LEFT).from_select(["kind", "id"], select(literal(kind), left.c.id))
            )

    async def _extended(self) -> None:
        if not self.opted_in or self.modes.extended == "absent":
            return
        counts, school, now, e = self.counts["extendedData"], self.school_id, self.now, EXTENDED.c
        joined = and_(MATCH.c.kind == "PUPIL", MATCH.c.sourced_id == e.pupil_sid)
        names = ["lea_care", "sen_status", "pupil_premium", "eal"]
        given = {n: func.coalesce(e[n], getattr(PupilExtendedData, n)) for n in names}
        counts.update = await self._rowcount(
            scoped_update(PupilExtendedData, school)
            .where(
                PupilExtendedData.pupil_id == MATCH.c.id,
                joined,
                tuple_(*(getattr(PupilExtendedData, n) for n in names)).is_distinct_from(
                    tuple_(*given.values())
                ),
            )
            .values({**given, "updated_at": now})
        )
        existing = exists(
            restrict(
                select(PupilExtendedData.pupil_id).where(PupilExtendedData.pupil_id == MATCH.c.id),
                PupilExtendedData,
                school,
            )
        )
        counts.create = await self._rowcount(
            pg_insert(PupilExtendedData)
            .from_select(
                ["school_id", "pupil_id", *names, "updated_at"],
                select(literal(school), MATCH.c.id, *(e[n] for n in names), literal(now))
                .where(joined, ~existing)
                .ext(distinct_on(MATCH.c.id)),
            )
            .on_conflict_do_nothing()
        )
        total = await self._scalar(select(func.count(func.distinct(MATCH.c.id))).where(joined))
        counts.unchanged = total - counts.create - counts.update

    async def _sync_links(
        self,
        entity: str,
        link: Any,
        a: Any,
        b: Any,
        models: tuple[Any, Any],
        *,
        snapshot: Any | None,
        relationship: bool = False,
    ) -> None:
        """Make the links ``link(a, b)`` what PAIRS says (filled by the caller; ``ended`` rows: delta removals).

        New pairs between active rows are inserted; in bulk (``snapshot``: which existing links the package
        speaks for) links it no longer states are deleted; in delta the ``ended`` pairs are.
        """
        counts, school = self.counts[entity], self.school_id
        await staging.analyze(self.session, [PAIRS] if self.pairs else [])
        a_model, b_model = models
        live = restrict(
            restrict(
                select(PAIRS.c.a, PAIRS.c.b, PAIRS.c.relationship).where(
                    ~PAIRS.c.ended,
                    a_model.id == PAIRS.c.a,
                    a_model.active,
                    b_model.id == PAIRS.c.b,
                    b_model.active,
                ),
                a_model,
                school,
            ),
            b_model,
            school,
        ).cte("live")
        # Removals first: they then scan only the links there were, not the ones this step adds.
        if snapshot is not None:
            gone = and_(snapshot, ~exists().where(~PAIRS.c.ended, PAIRS.c.a == a, PAIRS.c.b == b))
        else:
            gone = exists().where(PAIRS.c.ended, PAIRS.c.a == a, PAIRS.c.b == b)
        counts.deactivate = await self._rowcount(scoped_delete(link, school).where(gone))
        present = exists(restrict(select(a).where(a == live.c.a, b == live.c.b), link, school))
        columns = ["school_id", a.key, b.key, *(["relationship"] if relationship else [])]
        values = [literal(school), live.c.a, live.c.b, *([live.c.relationship] if relationship else [])]
        if "created_at" in link.model_fields:
            columns.append("created_at")
            values.append(literal(self.now))
        # In primary-key order: the index (and the foreign keys' lookups) are written and read in sequence.
        key_order = [c.name for c in link.__table__.primary_key.columns if c.name != "school_id"]
        order = [live.c.a if name == a.key else live.c.b for name in key_order]
        # A plain INSERT (no ON CONFLICT: its speculative insertion costs per row): NOT EXISTS already leaves
        # out the links there are, and a concurrent import of the same school would fail this one whole. The
        # statement also counts the stated links (live is computed once: a CTE used twice is materialised).
        inserted = (
            insert(link)
            .from_select(columns, select(*values).where(~present).order_by(*order))
            .returning(a)
            .cte("inserted")
        )
        created, stated = (
            await self.session.execute(
                select(
                    select(func.count()).select_from(inserted).scalar_subquery(),
                    select(func.count()).select_from(live).scalar_subquery(),
                )
            )
        ).one()
        counts.create, counts.unchanged = int(created), int(stated) - int(created)

    async def _fill_pairs(self, stated: Any, *, ended: bool = False, relationship: Any = None) -> None:
        """Add the distinct (a, b[, relationship]) rows of ``stated`` (a SELECT of two ids) to PAIRS."""
        columns = ["a", "b", "ended", *(["relationship"] if relationship is not None else [])]
        sub = stated.subquery()
        values = [sub.c[0], sub.c[1], literal(ended), *([sub.c[2]] if relationship is not None else [])]
        rows = select(*values).ext(distinct_on(sub.c[0], sub.c[1])).order_by(sub.c[0], sub.c[1], *values[3:])
        self.pairs += await self._rowcount(insert(PAIRS).from_select(columns, rows))

    async def _clear_pairs(self) -> None:
        if self.pairs:
            await self.session.execute(PAIRS.delete())
            self.pairs = 0

    async def _links(self, link: Any, person_column: Any, kind: str, role: str, entity: str) -> None:
        """Memberships (pupils) or teaching assignments (staff) from enrollments."""
        mode = self.modes.enrollments
        if mode == "absent":
            return
        await self._clear_pairs()
        e, groups, people = ENROLLMENTS.c, MATCH_GROUPS.alias("mg"), MATCH.alias("mp")

        def pairs(*conditions: Any) -> Any:
            return select(groups.c.id, people.c.id).where(
                groups.c.sourced_id == e.group_sid,
                people.c.kind == kind,
                people.c.sourced_id == e.person_sid,
                e.role == role,
                *conditions,
            )

        await self._fill_pairs(pairs(active_row(ENROLLMENTS)))
        snapshot = None
        if mode == DELTA:
            await self._fill_pairs(pairs(e.status == "tobedeleted"), ended=True)
        else:
            groups_in_file = select(MATCH_GROUPS.c.id).where(MATCH_GROUPS.c.staged, MATCH_GROUPS.c.active_row)
            if self.modes.groups == "absent":
                groups_in_file = select(MATCH_GROUPS.c.id)
            people_in_file = select(MATCH.c.id).where(
                MATCH.c.kind == kind, MATCH.c.staged, MATCH.c.active_row
            )
            snapshot = and_(col(link.group_id).in_(groups_in_file), col(person_column).in_(people_in_file))
        await self._sync_links(
            entity, link, link.group_id, person_column, (Group, PERSON_MODELS[kind]), snapshot=snapshot
        )

    async def _contact_links(self) -> None:
        mode = self.modes.people["CONTACT"]
        if mode == "absent":
            return
        await self._clear_pairs()
        agents = (
            select(
                PEOPLE.c.kind,
                PEOPLE.c.sourced_id,
                PEOPLE.c.role,
                func.unnest(PEOPLE.c.agent_ids).label("agent"),
            )
            .where(PEOPLE.c.in_school, active_row(PEOPLE), PEOPLE.c.kind.in_(["PUPIL", "CONTACT"]))
            .subquery("agents")
        )
        owner, other = MATCH.alias("owner"), MATCH.alias("other")
        contact_row = PEOPLE.alias("contact_row")
        contact_role = func.coalesce(case((agents.c.kind == "CONTACT", agents.c.role)), contact_row.c.role)
        relationship = case(*((contact_role == r, v) for r, v in RELATIONSHIPS.items()), else_="PARENT")
        joined = (
            agents.join(owner, and_(owner.c.kind == agents.c.kind, owner.c.sourced_id == agents.c.sourced_id))
            .join(
                other,
                and_(
                    other.c.sourced_id == agents.c.agent,
                    other.c.kind == case((agents.c.kind == "CONTACT", "PUPIL"), else_="CONTACT"),
                ),
            )
            .outerjoin(
                contact_row,
                and_(
                    agents.c.kind == "PUPIL",
                    contact_row.c.kind == "CONTACT",
                    contact_row.c.sourced_id == agents.c.agent,
                    contact_row.c.in_school,
                ),
            )
        )
        stated = select(
            case((agents.c.kind == "CONTACT", owner.c.id), else_=other.c.id).label("contact_id"),
            case((agents.c.kind == "PUPIL", owner.c.id), else_=other.c.id).label("pupil_id"),
            relationship.label("relationship"),
        ).select_from(joined)
        await self._fill_pairs(stated, relationship=relationship)
        snapshot = None
        if mode == BULK:
            contacts = select(MATCH.c.id).where(MATCH.c.kind == "CONTACT", MATCH.c.staged, MATCH.c.active_row)
            pupils = select(MATCH.c.id).where(MATCH.c.kind == "PUPIL", MATCH.c.staged, MATCH.c.active_row)
            snapshot = and_(
                col(PupilContact.contact_id).in_(contacts), col(PupilContact.pupil_id).in_(pupils)
            )
        await self._sync_links(
            "contactLinks",
            PupilContact,
            PupilContact.contact_id,
            PupilContact.pupil_id,
            (Contact, Pupil),
            snapshot=snapshot if mode == BULK else None,
            relationship=True,
        )

    async def _group_terms(self) -> None:
        if self.modes.groups == "absent":
            return
        await self._clear_pairs()
        listed = (
            select(GROUPS.c.sourced_id, func.unnest(GROUPS.c.term_ids).label("term"))
            .where(active_row(GROUPS))
            .subquery("listed")
        )
        await self._fill_pairs(
            select(MATCH_GROUPS.c.id, MATCH_TERMS.c.id).where(
                MATCH_GROUPS.c.sourced_id == listed.c.sourced_id, MATCH_TERMS.c.sourced_id == listed.c.term
            )
        )
        snapshot = None
        if self.modes.groups == BULK:
            snapshot = col(GroupTerm.group_id).in_(
                select(MATCH_GROUPS.c.id).where(MATCH_GROUPS.c.staged, MATCH_GROUPS.c.active_row)
            )
        await self._sync_links(
            "groupTerms", GroupTerm, GroupTerm.group_id, GroupTerm.term_id, (Group, Term), snapshot=snapshot
        )

    async def _accounts(self) -> None:
        """Leavers' accounts disabled, sessions revoked (LL 11.1); joiners' accounts created PENDING (LL 11.3)."""
        counts, school, now = self.counts["accounts"], self.school_id, self.now
        touched = select(LEFT.c.id).union(select(MATCH.c.id).where(MATCH.c.staged)).subquery("touched")
        # Accounts of the people this import touched who are now inactive: one join per kind of person.
        per_kind = [
            restrict(
                restrict(
                    select(Account.id).where(
                        Account.status != "DISABLED",
                        column == model.id,
                        ~model.active,
                        col(model.id).in_(select(touched.c.id)),
                    ),
                    model,
                    school,
                ),
                Account,
                school,
            )
            for column, model in (
                (Account.staff_id, Staff),
                (Account.pupil_id, Pupil),
                (Account.contact_id, Contact),
            )
        ]
        leaver_accounts = [
            account_id for stmt in per_kind for account_id in (await self.session.execute(stmt)).scalars()
        ]
        for start in range(0, len(leaver_accounts), CHUNK):
            await set_account_status(
                self.session,
                school,
                leaver_accounts[start : start + CHUNK],
                status="DISABLED",
                reason=f"Left the school (roster import, {self.today}).",
                now=now,
            )
        counts.deactivate = len(leaver_accounts)
        for kind, model in PERSON_MODELS.items():
            column = ACCOUNT_PERSON[kind]
            has_account = exists(restrict(select(Account.id).where(column == MATCH.c.id), Account, school))
            rows = restrict(
                select(
                    literal(school),
                    func.gen_random_uuid(),
                    PEOPLE.c.username,
                    literal(ACCOUNT_ROLES[kind]),
                    literal("PENDING"),
                    MATCH.c.id,
                    literal(self.importer_account_id, type_=UUID(as_uuid=True)),
                    literal(now),
                    false(),
                    literal(0),
                ).where(
                    PEOPLE.c.in_school,
                    PEOPLE.c.kind == kind,
                    active_row(PEOPLE),
                    PEOPLE.c.username.is_not(None),
                    MATCH.c.kind == kind,
                    MATCH.c.sourced_id == PEOPLE.c.sourced_id,
                    model.id == MATCH.c.id,
                    model.active,
                    ~has_account,
                ),
                model,
                school,
            )
            counts.create += await self._rowcount(
                pg_insert(Account).from_select(
                    [
                        "school_id",
                        "id",
                        "username",
                        "role",
                        "status",
                        column.key,
                        "created_by",
                        "created_at",
                        "must_change_password",
                        "failed_logins",
                    ],
                    rows,
                )
            )


def _leaving(column: Any, match: Any, *, bulk: bool, managed: Any, kind: str | None = None) -> list[Any]:
    """Which rows to deactivate, as separate conditions (one statement each): those marked tobedeleted in
    the package (a semi-join), and in bulk the MIS's rows it no longer has (an anti-join). Kept apart
    because an OR of the two would make PostgreSQL probe a subplan per row instead of joining."""
    kinds = [match.c.kind == kind] if kind is not None else []
    conditions: list[Any] = [
        col(column).in_(select(match.c.id).where(match.c.staged, ~match.c.active_row, *kinds))
    ]
    if bulk:
        present = exists().where(match.c.id == column, match.c.staged, match.c.active_row, *kinds)
        conditions.append(and_(managed, ~present))
    return conditions


def count_totals(counts: dict[str, Counts]) -> int:
    return sum(c.changes for c in counts.values())

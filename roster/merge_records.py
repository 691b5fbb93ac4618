"""Writing an import's records: terms, groups, people (staff, pupils, contacts) and pupils' extended data.

For each kind, in one statement each: insert the records the school does not have yet (and record them in
the match table), update those whose values differ, count the unchanged, and deactivate the leavers
(tobedeleted rows; in bulk, the MIS's rows the file no longer has). A blank value never clears a stored
one. See :mod:`roster.merge` for the order and the rules.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, false, func, insert, literal, null, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from models import Contact, Group, Pupil, Staff
from models.roster import PupilExtendedData, Term
from roster import staging
from roster.merge_base import MergeState, leaving
from roster.oneroster_spec import STAFF_ROLES_11
from roster.reading import BULK
from roster.records import PERSON_MODELS, active_row
from tenants.scoping import restrict, scoped_update

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
TERMS = staging.TERMS
EXTENDED = staging.EXTENDED
MATCH = staging.MATCH_PEOPLE
MATCH_GROUPS = staging.MATCH_GROUPS
MATCH_TERMS = staging.MATCH_TERMS
LEFT = staging.LEFT

KIND_ENTITY = {"PUPIL": "pupils", "STAFF": "staff", "CONTACT": "contacts"}
STAFF_ROLE = case((PEOPLE.c.role.in_(list(STAFF_ROLES_11)), PEOPLE.c.role), else_=null())
"""The staged role when it is a staff role (a staged staff member's role may be blank: a 1.2 delta user with
no role at this school keeps the record's kind)."""
GENERALISED_ROLES = [role for role, as_11 in STAFF_ROLES_11.items() if as_11 != role]


class RecordSteps(MergeState):
    async def _terms(self) -> None:
        if self.modes.terms == "absent":
            return
        counts, t = self.counts["terms"], TERMS.c
        new = ~exists().where(MATCH_TERMS.c.sourced_id == t.sourced_id)
        counts.create = await self._create(
            Term,
            Term.source_id,
            {
                "school_id": literal(self.school_id),
                "id": func.gen_random_uuid(),
                "source_id": t.sourced_id,
                "title": t.title,
                "type": t.type,
                "start_date": t.start_date,
                "end_date": t.end_date,
                "parent_source_id": t.parent_id,
                "school_year": t.school_year,
                "active": true(),
                "created_at": literal(self.now),
            },
            and_(active_row(TERMS), new),
            MATCH_TERMS,
        )
        given = {
            "title": t.title,
            "type": t.type,
            "start_date": t.start_date,
            "end_date": t.end_date,
            "parent_source_id": func.coalesce(t.parent_id, Term.parent_source_id),
            "school_year": func.coalesce(t.school_year, Term.school_year),
            "active": true(),
        }
        counts.update = await self._update_changed(
            Term,
            given,
            Term.id == MATCH_TERMS.c.id,
            MATCH_TERMS.c.sourced_id == t.sourced_id,
            MATCH_TERMS.c.staged,
            ~MATCH_TERMS.c.created,
            active_row(TERMS),
            stamp={"updated_at": self.now},
        )
        counts.unchanged = await self._unchanged(MATCH_TERMS, counts.update)
        counts.deactivate = await self._deactivate(
            Term,
            MATCH_TERMS,
            {"active": False, "updated_at": self.now},
            bulk=self.modes.terms == BULK,
            managed=true(),
        )

    async def _groups(self) -> None:
        if self.modes.groups == "absent":
            return
        counts, g = self.counts["groups"], GROUPS.c
        new = ~exists().where(MATCH_GROUPS.c.sourced_id == g.sourced_id)
        counts.create = await self._create(
            Group,
            Group.external_id,
            {
                "school_id": literal(self.school_id),
                "id": func.gen_random_uuid(),
                "name": g.name,
                "type": case((g.type == "SCHEDULED", "CLASS"), else_=g.type),
                "external_id": g.sourced_id,
                "year_group": g.year_group,
                "subject": g.subject,
                "active": true(),
                "created_at": literal(self.now),
            },
            and_(active_row(GROUPS), new),
            MATCH_GROUPS,
        )
        given = {
            "name": g.name,
            # A scheduled class keeps the kind an admin gave it, except a registration group's.
            "type": case(
                (g.type != "SCHEDULED", g.type), (Group.type == "REGISTRATION", "CLASS"), else_=Group.type
            ),
            "year_group": func.coalesce(g.year_group, Group.year_group),
            "subject": func.coalesce(g.subject, Group.subject),
            "active": true(),
        }
        counts.update = await self._update_changed(
            Group,
            given,
            Group.id == MATCH_GROUPS.c.id,
            MATCH_GROUPS.c.sourced_id == g.sourced_id,
            MATCH_GROUPS.c.staged,
            ~MATCH_GROUPS.c.created,
            active_row(GROUPS),
            stamp={"updated_at": self.now},
        )
        counts.unchanged = await self._unchanged(MATCH_GROUPS, counts.update)
        counts.deactivate = await self._deactivate(
            Group,
            MATCH_GROUPS,
            {"active": False, "updated_at": self.now},
            bulk=self.modes.groups == BULK,
            managed=col(Group.external_id).is_not(None),
        )

    async def _people(self, kind: str) -> None:
        mode = self.modes.people[kind]
        if mode == "absent":
            return
        model, s = PERSON_MODELS[kind], PEOPLE.c
        counts = self.counts[KIND_ENTITY[kind]]
        new_rows = and_(
            s.in_school,
            s.kind == kind,
            active_row(PEOPLE),
            ~exists().where(MATCH.c.kind == kind, MATCH.c.sourced_id == s.sourced_id),
        )
        counts.create = await self._create(
            model,
            model.source_id,
            self._person_columns(kind),
            new_rows,
            MATCH,
            kind=literal(kind),
            adopt=false(),
        )
        source = case((MATCH.c.adopt, s.sourced_id), else_=model.source_id)
        counts.update = await self._update_changed(
            model,
            {**self._person_values(kind), "source_id": source},
            model.id == MATCH.c.id,
            MATCH.c.kind == kind,
            MATCH.c.staged,
            ~MATCH.c.created,
            MATCH.c.active_row,
            s.kind == kind,
            s.sourced_id == MATCH.c.sourced_id,
            stamp={"updated_at": self.now},
        )
        counts.unchanged = await self._unchanged(MATCH, counts.update, kind)
        counts.deactivate = await self._people_leaving(kind, bulk=mode == BULK)

    def _person_columns(self, kind: str) -> dict[str, Any]:
        """Column -> the value a new row of this kind gets."""
        s = PEOPLE.c
        columns: dict[str, Any] = {
            "school_id": literal(self.school_id),
            "id": func.gen_random_uuid(),
            "source_id": s.sourced_id,
            "forename": s.forename,
            "preferred_forename": s.preferred_forename,
            "surname": s.surname,
            "created_at": literal(self.now),
        }
        if kind == "PUPIL":
            return columns | {
                "email": s.email,
                "upn": s.upn,
                "uln": s.uln,
                "date_of_birth": s.dob,
                "gender": func.coalesce(s.gender, "NOT_KNOWN"),
                "active": true(),
            }
        if kind == "STAFF":
            return columns | {
                "title": s.title,
                "work_email": s.email,
                "secondary_email": s.secondary_email,
                "teaching": func.coalesce(s.teaching, True),
                "staff_role": STAFF_ROLE,
                "role_text": s.role_text,
                "staff_code": s.staff_code,
                "date_of_leaving": s.date_of_leaving,
                "active": or_(s.date_of_leaving.is_(None), s.date_of_leaving > self.today),
            }
        return columns | {"email": s.email, "phone": s.phone, "active": true()}

    def _person_values(self, kind: str) -> dict[str, Any]:
        """Column -> the value an update gives it (blank never clears)."""
        s = PEOPLE.c
        model = PERSON_MODELS[kind]
        values: dict[str, Any] = {
            "forename": s.forename,
            "preferred_forename": func.coalesce(s.preferred_forename, model.preferred_forename),
            "surname": s.surname,
        }
        if kind == "PUPIL":
            return values | {
                "email": func.coalesce(s.email, Pupil.email),
                "upn": func.coalesce(s.upn, Pupil.upn),
                "uln": func.coalesce(s.uln, Pupil.uln),
                "date_of_birth": func.coalesce(s.dob, Pupil.date_of_birth),
                "gender": func.coalesce(s.gender, Pupil.gender),
                "active": true(),
                "date_of_leaving": case((Pupil.active, Pupil.date_of_leaving), else_=null()),
            }
        if kind == "STAFF":
            leaving_date = func.coalesce(
                s.date_of_leaving, case((Staff.active, Staff.date_of_leaving), else_=null())
            )
            return values | {
                "title": func.coalesce(s.title, Staff.title),
                "work_email": func.coalesce(s.email, Staff.work_email),
                "secondary_email": func.coalesce(s.secondary_email, Staff.secondary_email),
                "teaching": func.coalesce(s.teaching, Staff.teaching),
                # ``administrator`` is how OneRoster 1.1 (and the export) writes a principal, a counselor,
                # ...: it keeps the more precise role stored, so that export and re-import change nothing.
                "staff_role": case(
                    (
                        and_(s.role == "administrator", col(Staff.staff_role).in_(GENERALISED_ROLES)),
                        Staff.staff_role,
                    ),
                    (  # a record made in schoolgraph has no role: the export wrote what ``teaching`` says
                        and_(
                            col(Staff.staff_role).is_(None),
                            s.role == case((Staff.teaching, "teacher"), else_="administrator"),
                        ),
                        null(),
                    ),
                    else_=func.coalesce(STAFF_ROLE, Staff.staff_role),
                ),
                "role_text": func.coalesce(s.role_text, Staff.role_text),
                "staff_code": func.coalesce(s.staff_code, Staff.staff_code),
                "date_of_leaving": leaving_date,
                "active": or_(leaving_date.is_(None), leaving_date > self.today),
            }
        return values | {
            "email": func.coalesce(s.email, Contact.email),
            "phone": func.coalesce(s.phone, Contact.phone),
            "active": true(),
        }

    async def _people_leaving(self, kind: str, *, bulk: bool) -> int:
        """Leavers: tobedeleted rows, and in bulk the MIS's records the file no longer has. Each is kept in
        LEFT (their accounts are disabled last). The importer's own staff record is never deactivated."""
        model, school = PERSON_MODELS[kind], self.school_id
        leave: dict[str, Any] = {"active": False, "updated_at": self.now}
        if kind != "CONTACT":
            leave["date_of_leaving"] = case(
                (model.date_of_leaving <= self.today, model.date_of_leaving), else_=literal(self.today)
            )
        own = self.importer_staff_id if kind == "STAFF" else None
        managed = col(model.source_id).is_not(None)
        count = 0
        for condition in leaving(model.id, MATCH, bulk=bulk, managed=managed, kind=kind):
            conditions = [model.active, condition]
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
            count += await self._rowcount(
                insert(LEFT).from_select(["kind", "id"], select(literal(kind), left.c.id))
            )
        return count

    async def _extended(self) -> None:
        if not self.opted_in or self.modes.extended == "absent":
            return
        counts, school, now, e = self.counts["extendedData"], self.school_id, self.now, EXTENDED.c
        joined = and_(MATCH.c.kind == "PUPIL", MATCH.c.sourced_id == e.pupil_sid)
        names = ["lea_care", "sen_status", "pupil_premium", "eal"]
        given = {n: func.coalesce(e[n], getattr(PupilExtendedData, n)) for n in names}
        counts.update = await self._update_changed(
            PupilExtendedData,
            given,
            PupilExtendedData.pupil_id == MATCH.c.id,
            joined,
            stamp={"updated_at": now},
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

"""Before an import writes: who each staged user is at this school, and which stored row each record is.

:class:`MatchSteps` fills the staged people's kind from roles.csv (OneRoster 1.2) and their dates of birth
from demographics.csv, then the match tables (roster/staging.py): every record the package defines or
references, with the id of the row it is. Only temporary tables are written here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import UUID, distinct_on

from models import Group, Pupil, Staff
from models.roster import Term
from roster import staging
from roster.merge_base import MergeState
from roster.records import PERSON_MODELS, active_row, key
from tenants.scoping import restrict

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
TERMS = staging.TERMS
ENROLLMENTS = staging.ENROLLMENTS
EXTENDED = staging.EXTENDED
MATCH = staging.MATCH_PEOPLE
MATCH_GROUPS = staging.MATCH_GROUPS
MATCH_TERMS = staging.MATCH_TERMS
MATCH_PEOPLE_COLUMNS = ["kind", "sourced_id", "id", "adopt", "created", "staged", "active_row"]
MATCH_COLUMNS = ["sourced_id", "id", "created", "staged", "active_row"]


class MatchSteps(MergeState):
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
        await self._execute(
            PEOPLE.update()
            .where(first.c.user_id == PEOPLE.c.sourced_id)
            .values(role=first.c.role, kind=kind, in_school=true(), teaching=(first.c.role == "teacher"))
        )
        for person_kind, model in PERSON_MODELS.items():
            await self._execute(
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
        await self._execute(
            PEOPLE.update()
            .where(demographics.c.sourced_id == PEOPLE.c.sourced_id, active_row(demographics))
            .values(
                dob=demographics.c.dob,
                gender=demographics.c.gender,
                dob_file="demographics.csv",
                dob_row=demographics.c.row_no,
            )
        )

    async def match(self) -> None:
        """Fill the match tables: staged records with their rows, then rows the package only references."""
        await self._match_people()
        group_refs = select(ENROLLMENTS.c.group_sid.label("sid")).distinct().subquery("group_refs")
        await self._match_rows(MATCH_GROUPS, Group, key(Group, "external_id"), GROUPS, group_refs)
        term_refs = select(func.unnest(GROUPS.c.term_ids).label("sid")).distinct().subquery("term_refs")
        await self._match_rows(MATCH_TERMS, Term, Term.source_id, TERMS, term_refs)
        await staging.analyze(self.session, [MATCH, MATCH_GROUPS, MATCH_TERMS], self.routed)

    async def _match_people(self) -> None:
        school = self.school_id
        staged = and_(PEOPLE.c.in_school, PEOPLE.c.kind.is_not(None))
        for kind, model in PERSON_MODELS.items():
            found = select(
                literal(kind), PEOPLE.c.sourced_id, model.id, false(), false(), true(), active_row(PEOPLE)
            ).where(staged, PEOPLE.c.kind == kind, key(model) == PEOPLE.c.sourced_id)
            await self._execute(
                insert(MATCH).from_select(MATCH_PEOPLE_COLUMNS, restrict(found, model, school))
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
            referenced = select(
                literal(kind), refs.c.sid, model.id, false(), false(), false(), false()
            ).where(
                key(model) == refs.c.sid,
                ~exists().where(MATCH.c.kind == kind, MATCH.c.sourced_id == refs.c.sid),
            )
            await self._execute(
                insert(MATCH).from_select(MATCH_PEOPLE_COLUMNS, restrict(referenced, model, school))
            )

    async def _match_rows(self, match: Table, model: Any, row_key: Any, stage: Table, refs: Any) -> None:
        """Groups or terms: the staged records' rows (by ``row_key``), then the rows ``refs`` (a subquery of
        ``sid``) names that the package does not define."""
        staged = select(stage.c.sourced_id, model.id, false(), true(), active_row(stage)).where(
            row_key == stage.c.sourced_id
        )
        await self._execute(insert(match).from_select(MATCH_COLUMNS, restrict(staged, model, self.school_id)))
        referenced = select(refs.c.sid, model.id, false(), false(), false()).where(
            row_key == refs.c.sid, ~exists().where(match.c.sourced_id == refs.c.sid)
        )
        await self._execute(
            insert(match).from_select(MATCH_COLUMNS, restrict(referenced, model, self.school_id))
        )

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
        await self._execute(
            insert(MATCH).from_select(
                MATCH_PEOPLE_COLUMNS,
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

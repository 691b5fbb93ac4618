"""Checks of the package on its own, before its records are matched: ids given twice, identifiers given to
two pupils, references to classes, users, agents and terms that exist neither in the package nor at the
school, and pupils' ages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, union

from common.clock import years_before
from models import Group
from models.roster import Term
from people.validation import MAX_PUPIL_AGE, MIN_PUPIL_AGE
from roster import staging
from roster.checks_base import KIND_WORDS, CheckState, repeats
from roster.problems import ERROR, WARNING
from roster.records import PERSON_MODELS, active_row, key
from tenants.scoping import restrict

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
TERMS = staging.TERMS
ENROLLMENTS = staging.ENROLLMENTS
DEMOGRAPHICS = staging.DEMOGRAPHICS
ROLES = staging.ROLES
KNOWN = staging.KNOWN
FLAGGED = staging.FLAGGED


class PackageChecks(CheckState):
    async def package(self) -> None:
        """Duplicates and references within the package and to the school's existing rows."""
        await self._duplicate_ids()
        await self._identifier_duplicates()
        await self._known_people()
        await self._enrollment_references()
        await self._agent_references()
        await self._term_references()
        await self._pupil_dates()

    async def _duplicate_ids(self) -> None:
        people_col = case(
            (PEOPLE.c.file == "pupils.csv", "pupil_id"),
            (PEOPLE.c.file == "staff.csv", "staff_id"),
            else_="sourcedId",
        )
        own = not self.oneroster
        duplicates: list[tuple[Any, list[Any], Any, Any]] = [
            (PEOPLE, [PEOPLE.c.file, PEOPLE.c.sourced_id], PEOPLE.c.file, people_col),
            (GROUPS, [GROUPS.c.sourced_id], GROUPS.c.file, literal("group_id" if own else "sourcedId")),
            (TERMS, [TERMS.c.sourced_id], literal("academicSessions.csv"), literal("sourcedId")),
            (
                ENROLLMENTS,
                [ENROLLMENTS.c.sourced_id],
                ENROLLMENTS.c.file,
                literal("person_id" if own else "sourcedId"),
            ),
            (DEMOGRAPHICS, [DEMOGRAPHICS.c.sourced_id], literal("demographics.csv"), literal("sourcedId")),
            (ROLES, [ROLES.c.sourced_id], literal("roles.csv"), literal("sourcedId")),
        ]
        for table, partition, file, col in duplicates:
            columns = [table.c.row_no, file.label("file"), col.label("col"), table.c.sourced_id]
            await self._emit(
                repeats(partition, table.c.row_no, columns),
                ERROR,
                "DUPLICATE_ID",
                lambda r: f"{r.sourced_id!r} appears more than once (first at row {r.first}).",
            )

    async def _identifier_duplicates(self) -> None:
        """A UPN or ULN given to two pupils, a staff code (own layout) to two members of staff."""
        pupils = and_(PEOPLE.c.kind == "PUPIL", PEOPLE.c.in_school, active_row(PEOPLE))
        uln_col = literal("userIds" if self.oneroster else "uln")
        for column, code, label in (("upn", "DUPLICATE_UPN", "UPN"), ("uln", "DUPLICATE_ULN", "ULN")):
            value = PEOPLE.c[column]
            col = PEOPLE.c.upn_column if column == "upn" else uln_col
            columns = [PEOPLE.c.file, PEOPLE.c.row_no, col.label("col"), value.label("value")]
            await self._emit(
                repeats([value], PEOPLE.c.row_no, columns, pupils, value.is_not(None)),
                ERROR,
                code,
                _given_twice(label),
            )
        if not self.oneroster:
            value = PEOPLE.c.staff_code
            columns = [
                PEOPLE.c.file,
                PEOPLE.c.row_no,
                literal("staff_code").label("col"),
                value.label("value"),
            ]
            await self._emit(
                repeats([value], PEOPLE.c.row_no, columns, PEOPLE.c.kind == "STAFF", value.is_not(None)),
                ERROR,
                "DUPLICATE_STAFF_CODE",
                lambda r: f"Staff code {r.value!r} is given to another member of staff too (row {r.first}).",
            )

    async def _known_people(self) -> None:
        """Fill KNOWN: (sourced id, kind) of every person the package defines or the school already has."""
        await self._execute(
            insert(KNOWN).from_select(
                ["sourced_id", "kind"],
                select(PEOPLE.c.sourced_id, PEOPLE.c.kind).where(
                    PEOPLE.c.in_school, PEOPLE.c.kind.is_not(None), PEOPLE.c.sourced_id.is_not(None)
                ),
            )
        )
        for kind, model in PERSON_MODELS.items():
            await self._execute(
                insert(KNOWN).from_select(
                    ["sourced_id", "kind"], restrict(select(key(model), literal(kind)), model, self.school_id)
                )
            )
        await staging.analyze(self.session, [KNOWN], self.routed)

    async def _enrollment_references(self) -> None:
        """Enrollments of unknown classes or users, of the wrong kind of person, or in roles with no meaning.

        One pass over the enrollments (the package's biggest file), hash-joined with what is known, flags
        every row some check objects to; each check then reports from the (usually empty) flagged rows.
        """
        e = ENROLLMENTS.c
        groups = union(
            select(GROUPS.c.sourced_id.label("sid")).where(GROUPS.c.sourced_id.is_not(None)),
            restrict(select(key(Group, "external_id")), Group, self.school_id),
        ).subquery("known_groups")
        people = (
            select(
                KNOWN.c.sourced_id,
                func.bool_or(KNOWN.c.kind == "PUPIL").label("pupil"),
                func.bool_or(KNOWN.c.kind == "STAFF").label("staff"),
                func.min(KNOWN.c.kind).label("kind"),
            )
            .group_by(KNOWN.c.sourced_id)
            .subquery("known")
        )
        flags = {
            "unknown_class": groups.c.sid.is_(None),
            "unknown_user": people.c.sourced_id.is_(None),
            "mismatch": and_(
                people.c.sourced_id.is_not(None),
                or_(and_(e.role == "student", ~people.c.pupil), and_(e.role == "teacher", ~people.c.staff)),
            ),
            "ignored": e.role.not_in(["student", "teacher"]),
        }
        joined = ENROLLMENTS.outerjoin(groups, groups.c.sid == e.group_sid).outerjoin(
            people, people.c.sourced_id == e.person_sid
        )
        await self._execute(
            insert(FLAGGED).from_select(
                ["file", "row_no", "group_sid", "person_sid", "role", "kind", *flags],
                select(e.file, e.row_no, e.group_sid, e.person_sid, e.role, people.c.kind, *flags.values())
                .select_from(joined)
                .where(or_(*flags.values())),
            )
        )
        await self._report_flagged()

    async def _report_flagged(self) -> None:
        f = FLAGGED.c
        class_col = "classSourcedId" if self.oneroster else "group_id"
        user_col = "userSourcedId" if self.oneroster else "person_id"
        await self._emit(
            select(f.file, f.row_no, literal(class_col).label("col"), f.group_sid).where(f.unknown_class),
            ERROR,
            "UNKNOWN_CLASS",
            lambda r: f"{r.group_sid!r} is neither in the package's classes nor a group of this school.",
        )
        elsewhere: dict[str, str] = {}

        def look_up(rows: Sequence[Any]) -> None:
            if self.users_elsewhere is not None:
                elsewhere.update(self.users_elsewhere({r.person_sid for r in rows}))

        await self._emit(
            select(f.file, f.row_no, literal(user_col).label("col"), f.person_sid).where(f.unknown_user),
            ERROR,
            "UNKNOWN_USER",
            lambda r: (
                f"{r.person_sid!r} is in users.csv as a user of org {elsewhere[r.person_sid]!r}, not of this "
                "school: enrolled here, they would need to be this school's too."
                if r.person_sid in elsewhere
                else f"{r.person_sid!r} is neither in the package's users nor a person at this school."
            ),
            before=look_up,
        )
        await self._emit(
            select(f.file, f.row_no, literal("role").label("col"), f.role, f.person_sid, f.kind).where(
                f.mismatch
            ),
            WARNING,
            "ROLE_MISMATCH",
            lambda r: (
                f"{r.person_sid!r} is enrolled as {r.role} but is {KIND_WORDS[r.kind]}: the enrollment is "
                "skipped."
            ),
        )
        await self._emit(
            select(f.file, f.row_no, literal("role").label("col"), f.role).where(f.ignored),
            WARNING,
            "ENROLLMENT_ROLE_IGNORED",
            lambda r: f"Enrollments as {r.role!r} have no meaning in schoolgraph: the enrollment is skipped.",
        )

    async def _agent_references(self) -> None:
        """Agents: parents and their children, named either way round."""
        agents = (
            select(
                PEOPLE.c.file, PEOPLE.c.row_no, PEOPLE.c.kind, func.unnest(PEOPLE.c.agent_ids).label("agent")
            )
            .where(PEOPLE.c.in_school, active_row(PEOPLE))
            .subquery("agents")
        )
        await self._emit(
            select(
                agents.c.file, agents.c.row_no, literal("agentSourcedIds").label("col"), agents.c.agent
            ).where(~exists().where(KNOWN.c.sourced_id == agents.c.agent)),
            WARNING,
            "UNKNOWN_AGENT",
            lambda r: (
                f"Agent {r.agent!r} is not a user of this school in the package or schoolgraph: ignored."
            ),
        )
        partner = case(
            (agents.c.kind == "CONTACT", "PUPIL"), (agents.c.kind == "PUPIL", "CONTACT"), else_="-"
        )
        agent_kind = (
            select(func.min(KNOWN.c.kind))
            .where(KNOWN.c.sourced_id == agents.c.agent)
            .scalar_subquery()
            .label("agent_kind")
        )
        await self._emit(
            select(
                agents.c.file,
                agents.c.row_no,
                literal("agentSourcedIds").label("col"),
                agents.c.kind,
                agents.c.agent,
                agent_kind,
            ).where(
                exists().where(KNOWN.c.sourced_id == agents.c.agent),
                ~exists().where(KNOWN.c.sourced_id == agents.c.agent, KNOWN.c.kind == partner),
            ),
            WARNING,
            "AGENT_IGNORED",
            lambda r: (
                f"Agent {r.agent!r} is {KIND_WORDS[r.agent_kind]}, named as an agent of {KIND_WORDS[r.kind]}: "
                "only the parents, guardians and relatives of pupils are linked, so it is ignored."
            ),
        )

    async def _term_references(self) -> None:
        """Terms of classes, and parents of terms."""
        school = self.school_id
        terms = select(
            GROUPS.c.file, GROUPS.c.row_no, func.unnest(GROUPS.c.term_ids).label("term")
        ).subquery()
        known_term = or_(
            exists().where(TERMS.c.sourced_id == terms.c.term),
            exists(restrict(select(Term.id).where(Term.source_id == terms.c.term), Term, school)),
        )
        await self._emit(
            select(terms.c.file, terms.c.row_no, literal("termSourcedIds").label("col"), terms.c.term).where(
                ~known_term
            ),
            WARNING,
            "UNKNOWN_TERM",
            lambda r: (
                f"Term {r.term!r} is not in academicSessions.csv nor known: the class is not linked to it."
            ),
        )
        parents = TERMS.alias("parent_terms")
        await self._emit(
            select(
                literal("academicSessions.csv").label("file"),
                TERMS.c.row_no,
                literal("parentSourcedId").label("col"),
                TERMS.c.parent_id,
            ).where(
                TERMS.c.parent_id.is_not(None),
                ~exists().where(parents.c.sourced_id == TERMS.c.parent_id),
                ~exists(restrict(select(Term.id).where(Term.source_id == TERMS.c.parent_id), Term, school)),
            ),
            WARNING,
            "UNKNOWN_TERM",
            lambda r: f"Parent session {r.parent_id!r} is not defined.",
        )

    async def _pupil_dates(self) -> None:
        today = self.today
        latest = years_before(today, MIN_PUPIL_AGE)
        earliest = years_before(today, MAX_PUPIL_AGE + 1)
        dob_col = "date_of_birth" if not self.oneroster else "birthDate"
        await self._emit(
            select(
                func.coalesce(PEOPLE.c.dob_file, PEOPLE.c.file).label("file"),
                func.coalesce(PEOPLE.c.dob_row, PEOPLE.c.row_no).label("row_no"),
                literal(dob_col).label("col"),
                PEOPLE.c.dob,
            ).where(
                PEOPLE.c.kind == "PUPIL",
                PEOPLE.c.in_school,
                PEOPLE.c.dob.is_not(None),
                or_(PEOPLE.c.dob > latest, PEOPLE.c.dob <= earliest),
            ),
            ERROR,
            "INVALID_DATE_OF_BIRTH",
            lambda r: (
                f"The date of birth {r.dob} would make the pupil younger than {MIN_PUPIL_AGE} or older than "
                f"{MAX_PUPIL_AGE} (LL 6.3.2: an accurate date of birth)."
            ),
        )


def _given_twice(label: str) -> Callable[[Any], str]:
    return lambda r: f"{label} {r.value} is given to another pupil too (row {r.first})."

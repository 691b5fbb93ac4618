"""Checks over the staged rows, set-based: duplicates, references, identifiers taken, ages, accounts.

Each check is one SQL statement over the staging tables (and the school's rows, through the scoping
helper) returning the offending rows with their file, row and column; :func:`emit` logs them, counting
every one but fetching at most what the log keeps in detail. Nothing here writes a school table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import (
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models import Account, Contact, Group, Pupil, Staff
from models.roster import Term
from roster import staging
from roster.problems import ERROR, WARNING, ProblemLog, RosterProblem
from roster.reading import Modes, years_before
from tenants.scoping import restrict

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
TERMS = staging.TERMS
ENROLLMENTS = staging.ENROLLMENTS
EXTENDED = staging.EXTENDED
DEMOGRAPHICS = staging.DEMOGRAPHICS
ROLES = staging.ROLES
MATCH = staging.MATCH_PEOPLE
MATCH_GROUPS = staging.MATCH_GROUPS
KNOWN = staging.KNOWN
FLAGGED = staging.FLAGGED

PERSON_MODELS: dict[str, Any] = {"PUPIL": Pupil, "STAFF": Staff, "CONTACT": Contact}
ACCOUNT_PERSON: dict[str, Any] = {
    "PUPIL": Account.pupil_id,
    "STAFF": Account.staff_id,
    "CONTACT": Account.contact_id,
}
MIN_PUPIL_AGE, MAX_PUPIL_AGE, CONSENT_AGE = 2, 25, 13


def key(model: Any, column: str = "source_id") -> Any:
    """The id a package knows a row by: its source id, or for a row made in schoolgraph its own id."""
    return func.coalesce(getattr(model, column), cast(model.id, Text))


def active_row(table: Any) -> Any:
    return or_(table.c.status.is_(None), table.c.status != "tobedeleted")


def column_of(file_column: dict[str, str], default: str) -> Any:
    """A SQL CASE naming the column by the file a staged row came from (OneRoster and own names differ)."""
    return case(*((PEOPLE.c.file == f, c) for f, c in file_column.items()), else_=default)


async def emit(
    session: AsyncSession,
    log: ProblemLog,
    stmt: Select[Any],
    *,
    severity: str,
    code: str,
    message: Callable[[Any], str],
) -> int:
    """Log one problem per row of ``stmt`` (columns ``file``, ``row_no``, ``col`` and any the message uses).

    Fetches at most the log's remaining detail capacity; counts all. Returns the count.
    """
    room = max(log.limit - len(log.items), 0)
    sub = stmt.subquery()
    rows = (
        await session.execute(
            select(sub, func.count().over().label("total"))
            .order_by(sub.c.file, sub.c.row_no)
            .limit(max(room, 1))
        )
    ).all()
    if not rows:
        return 0
    total = int(rows[0].total)
    for row in rows[:room]:
        log.add(RosterProblem(severity, code, message(row), row.file, row.row_no, row.col))
    rest = total - min(room, len(rows))
    if rest > 0:
        log.codes[code] += rest
        if severity == ERROR:
            log.errors += rest
        else:
            log.warnings += rest
    return total


def repeated(partition: list[Any], *conditions: Any) -> Any:
    """The condition "this row's ``partition`` values occur more than once" as a hashed semi-join: a GROUP BY
    over the whole table, so that only the (usually no) repeated rows are numbered and sorted."""
    return tuple_(*partition).in_(
        select(*partition).where(*conditions).group_by(*partition).having(func.count() > 1)
    )


def _duplicates(table: Any, partition: list[Any], file: Any, col: Any) -> Select[Any]:
    numbered = (
        select(
            table.c.row_no,
            file.label("file"),
            col.label("col"),
            table.c.sourced_id,
            func.row_number().over(partition_by=partition, order_by=table.c.row_no).label("n"),
            func.min(table.c.row_no).over(partition_by=partition).label("first"),
        )
        .where(repeated(partition))
        .subquery()
    )
    return select(
        numbered.c.file, numbered.c.row_no, numbered.c.col, numbered.c.sourced_id, numbered.c.first
    ).where(numbered.c.n > 1)


class Checks:
    """The checks of one import. ``school_id`` is the school's; the session is bound to it."""

    def __init__(
        self,
        session: AsyncSession,
        log: ProblemLog,
        school_id: uuid.UUID,
        modes: Modes,
        today: date,
        *,
        opted_in: bool,
        oneroster: bool,
    ) -> None:
        self.session, self.log, self.school_id, self.modes = session, log, school_id, modes
        self.today, self.opted_in, self.oneroster = today, opted_in, oneroster

    async def _emit(self, stmt: Select[Any], severity: str, code: str, message: Callable[[Any], str]) -> int:
        return await emit(self.session, self.log, stmt, severity=severity, code=code, message=message)

    # --- before matching: the package on its own ------------------------------------------------------

    async def package(self) -> None:
        """Duplicates and references within the package and to the school's existing rows."""
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
            await self._emit(
                _duplicates(table, partition, file, col),
                ERROR,
                "DUPLICATE_ID",
                lambda r: f"{r.sourced_id!r} appears more than once (first at row {r.first}).",
            )
        await self._identifier_duplicates()
        await self._references()
        await self._pupil_dates()

    async def _identifier_duplicates(self) -> None:
        pupils = and_(PEOPLE.c.kind == "PUPIL", PEOPLE.c.in_school, active_row(PEOPLE))
        for column, code, label in (("upn", "DUPLICATE_UPN", "UPN"), ("uln", "DUPLICATE_ULN", "ULN")):
            value = PEOPLE.c[column]
            numbered = (
                select(
                    PEOPLE.c.file,
                    PEOPLE.c.row_no,
                    (
                        PEOPLE.c.upn_column
                        if column == "upn"
                        else literal("userIds" if self.oneroster else "uln")
                    ).label("col"),
                    value.label("value"),
                    func.row_number().over(partition_by=value, order_by=PEOPLE.c.row_no).label("n"),
                    func.min(PEOPLE.c.row_no).over(partition_by=value).label("first"),
                )
                .where(pupils, value.is_not(None), repeated([value], pupils, value.is_not(None)))
                .subquery()
            )
            await self._emit(
                select(numbered).where(numbered.c.n > 1),
                ERROR,
                code,
                _given_twice(label),
            )
        if not self.oneroster:
            code_value = PEOPLE.c.staff_code
            numbered = (
                select(
                    PEOPLE.c.file,
                    PEOPLE.c.row_no,
                    literal("staff_code").label("col"),
                    code_value.label("value"),
                    func.row_number().over(partition_by=code_value, order_by=PEOPLE.c.row_no).label("n"),
                    func.min(PEOPLE.c.row_no).over(partition_by=code_value).label("first"),
                )
                .where(
                    PEOPLE.c.kind == "STAFF",
                    code_value.is_not(None),
                    repeated([code_value], PEOPLE.c.kind == "STAFF", code_value.is_not(None)),
                )
                .subquery()
            )
            await self._emit(
                select(numbered).where(numbered.c.n > 1),
                ERROR,
                "DUPLICATE_STAFF_CODE",
                lambda r: f"Staff code {r.value!r} is given to another member of staff too (row {r.first}).",
            )

    async def _known_people(self) -> None:
        """Fill KNOWN: (sourced id, kind) of every person the package defines or the school already has."""
        await self.session.execute(
            insert(KNOWN).from_select(
                ["sourced_id", "kind"],
                select(PEOPLE.c.sourced_id, PEOPLE.c.kind).where(
                    PEOPLE.c.in_school, PEOPLE.c.kind.is_not(None), PEOPLE.c.sourced_id.is_not(None)
                ),
            )
        )
        for kind, model in PERSON_MODELS.items():
            await self.session.execute(
                insert(KNOWN).from_select(
                    ["sourced_id", "kind"], restrict(select(key(model), literal(kind)), model, self.school_id)
                )
            )
        await staging.analyze(self.session, [KNOWN])

    async def _references(self) -> None:
        school = self.school_id
        await self._known_people()
        class_col = "classSourcedId" if self.oneroster else "group_id"
        user_col = "userSourcedId" if self.oneroster else "person_id"
        e = ENROLLMENTS.c
        # One pass over the enrollments (the package's biggest file), hash-joined with what is known, flags
        # every row some check objects to; each check then reports from the (usually empty) flagged rows.
        groups = union(
            select(GROUPS.c.sourced_id.label("sid")).where(GROUPS.c.sourced_id.is_not(None)),
            restrict(select(key(Group, "external_id")), Group, school),
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
        await self.session.execute(
            insert(FLAGGED).from_select(
                ["file", "row_no", "group_sid", "person_sid", "role", "kind", *flags],
                select(e.file, e.row_no, e.group_sid, e.person_sid, e.role, people.c.kind, *flags.values())
                .select_from(joined)
                .where(or_(*flags.values())),
            )
        )
        f = FLAGGED.c
        await self._emit(
            select(f.file, f.row_no, literal(class_col).label("col"), f.group_sid).where(f.unknown_class),
            ERROR,
            "UNKNOWN_CLASS",
            lambda r: f"{r.group_sid!r} is neither in the package's classes nor a group of this school.",
        )
        await self._emit(
            select(f.file, f.row_no, literal(user_col).label("col"), f.person_sid).where(f.unknown_user),
            ERROR,
            "UNKNOWN_USER",
            lambda r: f"{r.person_sid!r} is neither in the package's users nor a person at this school.",
        )
        await self._emit(
            select(f.file, f.row_no, literal("role").label("col"), f.role, f.person_sid, f.kind).where(
                f.mismatch
            ),
            WARNING,
            "ROLE_MISMATCH",
            lambda r: (
                f"{r.person_sid!r} is enrolled as {r.role} but is {_KIND_WORDS[r.kind]}: the enrollment is "
                "skipped."
            ),
        )
        await self._emit(
            select(f.file, f.row_no, literal("role").label("col"), f.role).where(f.ignored),
            WARNING,
            "ENROLLMENT_ROLE_IGNORED",
            lambda r: f"Enrollments as {r.role!r} have no meaning in schoolgraph: the enrollment is skipped.",
        )
        # Agents: parents and their children, named either way round.
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
                f"Agent {r.agent!r} is {_KIND_WORDS[r.agent_kind]}, named as an agent of {_KIND_WORDS[r.kind]}: "
                "only the parents, guardians and relatives of pupils are linked, so it is ignored."
            ),
        )
        # Terms of classes, and parents of terms.
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

    # --- after matching: the package against the school ------------------------------------------------

    async def against_school(self) -> None:
        school = self.school_id
        staged_active = and_(PEOPLE.c.in_school, active_row(PEOPLE))
        joined = (
            select(PEOPLE, MATCH.c.id.label("person_id"))
            .select_from(PEOPLE)
            .outerjoin(MATCH, and_(MATCH.c.kind == PEOPLE.c.kind, MATCH.c.sourced_id == PEOPLE.c.sourced_id))
            .where(staged_active)
            .subquery("joined")
        )
        # Identifiers another pupil already has.
        for column, code, label in (("upn", "UPN_TAKEN", "UPN"), ("uln", "ULN_TAKEN", "ULN")):
            other = restrict(
                select(Pupil.id).where(
                    getattr(Pupil, column) == joined.c[column],
                    or_(joined.c.person_id.is_(None), Pupil.id != joined.c.person_id),
                ),
                Pupil,
                school,
            )
            await self._emit(
                select(
                    joined.c.file,
                    joined.c.row_no,
                    (
                        joined.c.upn_column
                        if column == "upn"
                        else literal("userIds" if self.oneroster else "uln")
                    ).label("col"),
                    joined.c[column].label("value"),
                ).where(joined.c.kind == "PUPIL", joined.c[column].is_not(None), exists(other)),
                ERROR,
                code,
                _taken(label),
            )
        if not self.oneroster:
            other_staff = restrict(
                select(Staff.id).where(
                    Staff.staff_code == joined.c.staff_code,
                    or_(joined.c.person_id.is_(None), Staff.id != joined.c.person_id),
                ),
                Staff,
                school,
            )
            await self._emit(
                select(
                    joined.c.file, joined.c.row_no, literal("staff_code").label("col"), joined.c.staff_code
                ).where(joined.c.kind == "STAFF", joined.c.staff_code.is_not(None), exists(other_staff)),
                ERROR,
                "STAFF_CODE_TAKEN",
                lambda r: (
                    f"Another member of staff at this school already has the staff code {r.staff_code!r}."
                ),
            )
        # LL 6.3.2: under-13s need recorded parental consent before their account may be activated.
        stored_dob = restrict(
            select(Pupil.date_of_birth).where(Pupil.id == joined.c.person_id), Pupil, school
        )
        dob = func.coalesce(joined.c.dob, stored_dob.scalar_subquery())
        pupils = (
            select(
                func.coalesce(joined.c.dob_file, joined.c.file).label("file"),
                func.coalesce(joined.c.dob_row, joined.c.row_no).label("row_no"),
                case(
                    (joined.c.dob_row.is_(None), "sourcedId" if self.oneroster else "pupil_id"),
                    else_="birthDate" if self.oneroster else "date_of_birth",
                ).label("col"),
                joined.c.sourced_id,
                dob.label("dob"),
                joined.c.person_id,
            )
            .where(joined.c.kind == "PUPIL")
            .subquery()
        )
        consent_from = years_before(self.today, CONSENT_AGE)
        await self._emit(
            select(pupils).where(pupils.c.dob > consent_from),
            WARNING,
            "PARENTAL_CONSENT_REQUIRED",
            lambda r: (
                f"Pupil {r.sourced_id!r} is under 13 (born {r.dob}): their account cannot be activated until "
                "a parent's consent is recorded (LL 6.3.2)."
            ),
        )
        await self._emit(
            select(pupils).where(pupils.c.dob.is_(None)),
            WARNING,
            "DATE_OF_BIRTH_MISSING",
            lambda r: (
                f"Pupil {r.sourced_id!r} has no date of birth: they count as under 13, so their account cannot be "
                "activated until it and a parent's consent are recorded (LL 6.3.2)."
            ),
        )
        stored_upn = restrict(select(Pupil.upn).where(Pupil.id == joined.c.person_id), Pupil, school)
        await self._emit(
            select(
                joined.c.file,
                joined.c.row_no,
                literal("userIds" if self.oneroster else "upn").label("col"),
                joined.c.sourced_id,
            ).where(
                joined.c.kind == "PUPIL",
                joined.c.upn.is_(None),
                func.coalesce(stored_upn.scalar_subquery(), None).is_(None),
            ),
            WARNING,
            "UPN_MISSING",
            lambda r: f"Pupil {r.sourced_id!r} has no UPN ({{UPN:...}} in userIds, or a UPN as identifier).",
        )
        # Accounts: who gets one, and whose username cannot be used.
        has_account = {
            kind: exists(restrict(select(Account.id).where(column == joined.c.person_id), Account, school))
            for kind, column in ACCOUNT_PERSON.items()
        }
        no_account = case(
            *((joined.c.kind == kind, ~cond) for kind, cond in has_account.items()), else_=literal(True)
        )
        stored_email = restrict(
            select(func.coalesce(Staff.work_email, Staff.secondary_email)).where(
                Staff.id == joined.c.person_id
            ),
            Staff,
            school,
        ).scalar_subquery()
        no_email = and_(
            joined.c.kind == "STAFF",
            joined.c.email.is_(None),
            joined.c.secondary_email.is_(None),
            stored_email.is_(None),
        )
        await self._emit(
            select(
                joined.c.file,
                joined.c.row_no,
                literal("email" if self.oneroster else "work_email").label("col"),
                joined.c.sourced_id,
            ).where(no_email, no_account),
            WARNING,
            "STAFF_EMAIL_MISSING",
            lambda r: (
                f"Staff {r.sourced_id!r} has no work email: no account until one is recorded (LL 6.3.1)."
            ),
        )
        if self.oneroster:
            await self._emit(
                select(
                    joined.c.file, joined.c.row_no, literal("username").label("col"), joined.c.sourced_id
                ).where(joined.c.username.is_(None), no_account, ~no_email),
                WARNING,
                "USERNAME_MISSING",
                lambda r: f"{r.sourced_id!r} has no username: no account is created.",
            )
        candidates = (
            select(
                joined.c.file,
                joined.c.row_no,
                literal("username").label("col"),
                joined.c.sourced_id,
                joined.c.kind,
                joined.c.username,
            )
            .where(joined.c.username.is_not(None), no_account, ~no_email)
            .subquery("candidates")
        )
        lower_name = func.lower(candidates.c.username)
        duplicate = lower_name.in_(select(lower_name).group_by(lower_name).having(func.count() > 1))
        await self._emit(
            select(candidates).where(duplicate),
            WARNING,
            "DUPLICATE_USERNAME",
            lambda r: (
                f"Username {r.username!r} is given to more than one person: none of them gets an account."
            ),
        )
        taken = lower_name.in_(restrict(select(func.lower(Account.username)), Account, school))
        await self._emit(
            select(candidates).where(~duplicate, taken),
            WARNING,
            "USERNAME_TAKEN",
            lambda r: f"Username {r.username!r} is another account's at this school: no account is created.",
        )
        # The accounts to create: people without one, with a usable username (and staff with an email).
        unusable = select(candidates.c.kind, candidates.c.sourced_id).where(or_(duplicate, taken)).subquery()
        await self.session.execute(
            update(PEOPLE)
            .where(
                tuple_(PEOPLE.c.kind, PEOPLE.c.sourced_id).in_(select(unusable.c.kind, unusable.c.sourced_id))
            )
            .values(username=None)
        )
        without_email = select(joined.c.kind, joined.c.sourced_id).where(no_email).subquery()
        await self.session.execute(
            update(PEOPLE)
            .where(
                exists().where(
                    without_email.c.kind == PEOPLE.c.kind, without_email.c.sourced_id == PEOPLE.c.sourced_id
                )
            )
            .values(username=None)
        )
        # Rejoiners: their old account stays disabled.
        for kind, model in PERSON_MODELS.items():
            column = ACCOUNT_PERSON[kind]
            await self._emit(
                restrict(
                    restrict(
                        select(
                            joined.c.file,
                            joined.c.row_no,
                            literal("sourcedId" if self.oneroster else f"{kind.lower()}_id").label("col"),
                            joined.c.sourced_id,
                        ).where(
                            joined.c.kind == kind,
                            model.id == joined.c.person_id,
                            ~model.active,
                            column == model.id,
                            Account.status == "DISABLED",
                        ),
                        model,
                        school,
                    ),
                    Account,
                    school,
                ),
                WARNING,
                "ACCOUNT_STAYS_DISABLED",
                lambda r: (
                    f"{r.sourced_id!r} had left and is back: their record is active again, their old account "
                    "stays disabled until a school admin enables it."
                ),
            )
        # Extended data (LL-A 3.2): only with the school's opt-in.
        if not self.opted_in:
            await self._emit(
                select(
                    literal("extended.csv").label("file"),
                    func.min(EXTENDED.c.row_no).label("row_no"),
                    literal("pupil_id").label("col"),
                    func.count().label("n"),
                ).having(func.count() > 0),
                WARNING,
                "EXTENDED_DATA_DROPPED",
                lambda r: (
                    f"{r.n} rows of extended pupil data are dropped: this school has not opted in to extended "
                    "data (LL-A 3.2). Nothing of them is stored."
                ),
            )
        else:
            await self._emit(
                select(
                    literal("extended.csv").label("file"),
                    EXTENDED.c.row_no,
                    literal("pupil_id").label("col"),
                    EXTENDED.c.pupil_sid,
                ).where(
                    ~exists().where(MATCH.c.kind == "PUPIL", MATCH.c.sourced_id == EXTENDED.c.pupil_sid),
                    ~exists().where(PEOPLE.c.kind == "PUPIL", PEOPLE.c.sourced_id == EXTENDED.c.pupil_sid),
                ),
                ERROR,
                "UNKNOWN_USER",
                lambda r: f"{r.pupil_sid!r} is neither a pupil in the package nor one of this school's.",
            )


def _given_twice(label: str) -> Callable[[Any], str]:
    return lambda r: f"{label} {r.value} is given to another pupil too (row {r.first})."


def _taken(label: str) -> Callable[[Any], str]:
    return lambda r: f"Another pupil at this school already has the {label} {r.value}."


_KIND_WORDS = {"PUPIL": "a pupil", "STAFF": "a member of staff", "CONTACT": "a parent or other contact"}

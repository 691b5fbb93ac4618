"""Checks of the package against the school, once its records are matched to the school's rows:
identifiers another row has, ages and consent (LL 6.3.2), staff without a work email (LL 6.3.1),
usernames that cannot become accounts, rejoiners whose account stays disabled, and extended data
(LL-A 3.2).

The only writes are to the staging table: usernames that cannot be used are cleared, so that the merge
creates exactly the accounts these checks announce.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, tuple_, update

from models import Account, Pupil, Staff
from privacy.consent import has_parental_consent
from roster import staging
from roster.activation import CONSENT_AGE
from roster.checks_base import CheckState
from roster.problems import ERROR, WARNING
from roster.reading import years_before
from roster.records import ACCOUNT_PERSON, PERSON_MODELS, active_row
from tenants.scoping import restrict

PEOPLE = staging.PEOPLE
EXTENDED = staging.EXTENDED
MATCH = staging.MATCH_PEOPLE


class SchoolChecks(CheckState):
    async def against_school(self) -> None:
        joined = (
            select(*staging.columns(PEOPLE), MATCH.c.id.label("person_id"))
            .select_from(PEOPLE)
            .outerjoin(MATCH, and_(MATCH.c.kind == PEOPLE.c.kind, MATCH.c.sourced_id == PEOPLE.c.sourced_id))
            .where(PEOPLE.c.in_school, active_row(PEOPLE))
            .subquery("joined")
        )
        await self._identifiers_taken(joined)
        await self._pupils(joined)
        await self._accounts(joined)
        await self._rejoiners(joined)
        await self._extended()

    async def _identifiers_taken(self, joined: Any) -> None:
        """A UPN or ULN another pupil of the school has, a staff code (own layout) another member of staff."""
        uln_col = literal("userIds" if self.oneroster else "uln")
        for column, code, label in (("upn", "UPN_TAKEN", "UPN"), ("uln", "ULN_TAKEN", "ULN")):
            col = joined.c.upn_column if column == "upn" else uln_col
            await self._emit(
                self._taken(joined, "PUPIL", Pupil, column, col),
                ERROR,
                code,
                _taken_message(label),
            )
        if not self.oneroster:
            await self._emit(
                self._taken(joined, "STAFF", Staff, "staff_code", literal("staff_code")),
                ERROR,
                "STAFF_CODE_TAKEN",
                lambda r: f"Another member of staff at this school already has the staff code {r.value!r}.",
            )

    def _taken(self, joined: Any, kind: str, model: Any, column: str, col: Any) -> Any:
        """Staged rows of ``kind`` whose ``column`` value another row of ``model`` at the school has."""
        other = restrict(
            select(model.id).where(
                getattr(model, column) == joined.c[column],
                or_(joined.c.person_id.is_(None), model.id != joined.c.person_id),
            ),
            model,
            self.school_id,
        )
        return select(
            joined.c.file, joined.c.row_no, col.label("col"), joined.c[column].label("value")
        ).where(joined.c.kind == kind, joined.c[column].is_not(None), exists(other))

    async def _pupils(self, joined: Any) -> None:
        """LL 6.3.2: under-13s need recorded parental consent before their account may be activated (a pupil
        the school already holds a parent's current consent for is not flagged again); and pupils with no
        date of birth or no UPN."""
        school = self.school_id
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
        consented = and_(pupils.c.person_id.is_not(None), has_parental_consent(school, pupils.c.person_id))
        await self._emit(
            select(pupils).where(pupils.c.dob > consent_from, ~consented),
            WARNING,
            "PARENTAL_CONSENT_REQUIRED",
            lambda r: (
                f"Pupil {r.sourced_id!r} is under 13 (born {r.dob}): their account cannot be activated until "
                "a parent's consent is recorded (LL 6.3.2)."
            ),
        )
        await self._emit(
            select(pupils, consented.label("consented")).where(pupils.c.dob.is_(None)),
            WARNING,
            "DATE_OF_BIRTH_MISSING",
            lambda r: (
                f"Pupil {r.sourced_id!r} has no date of birth"
                + (
                    " (a parent's consent is recorded)."
                    if r.consented
                    else ": they count as under 13, so their account cannot be activated until a parent's "
                    "consent, or a date of birth from which they are 13, is recorded (LL 6.3.2)."
                )
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

    async def _accounts(self, joined: Any) -> None:
        """Who gets an account, and whose username cannot be used (then cleared in the staging table)."""
        school = self.school_id
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
        await self._usernames(joined, and_(no_account, ~no_email))
        without_email = select(joined.c.kind, joined.c.sourced_id).where(no_email).subquery()
        await self._execute(
            update(PEOPLE)
            .where(
                exists().where(
                    without_email.c.kind == PEOPLE.c.kind, without_email.c.sourced_id == PEOPLE.c.sourced_id
                )
            )
            .values(username=None)
        )

    async def _usernames(self, joined: Any, wants_account: Any) -> None:
        """Usernames given twice in the package or taken at the school: no account (the username is
        cleared in the staging table)."""
        candidates = (
            select(
                joined.c.file,
                joined.c.row_no,
                literal("username").label("col"),
                joined.c.sourced_id,
                joined.c.kind,
                joined.c.username,
            )
            .where(joined.c.username.is_not(None), wants_account)
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
        taken = lower_name.in_(restrict(select(func.lower(Account.username)), Account, self.school_id))
        await self._emit(
            select(candidates).where(~duplicate, taken),
            WARNING,
            "USERNAME_TAKEN",
            lambda r: f"Username {r.username!r} is another account's at this school: no account is created.",
        )
        unusable = select(candidates.c.kind, candidates.c.sourced_id).where(or_(duplicate, taken)).subquery()
        await self._execute(
            update(PEOPLE)
            .where(
                tuple_(PEOPLE.c.kind, PEOPLE.c.sourced_id).in_(select(unusable.c.kind, unusable.c.sourced_id))
            )
            .values(username=None)
        )

    async def _rejoiners(self, joined: Any) -> None:
        """Rejoiners: their record is active again, their old account stays disabled."""
        school = self.school_id
        for kind, model in PERSON_MODELS.items():
            column = ACCOUNT_PERSON[kind]
            rows = select(
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
            )
            await self._emit(
                restrict(restrict(rows, model, school), Account, school),
                WARNING,
                "ACCOUNT_STAYS_DISABLED",
                lambda r: (
                    f"{r.sourced_id!r} had left and is back: their record is active again, their old account "
                    "stays disabled until a school admin enables it."
                ),
            )

    async def _extended(self) -> None:
        """Extended data (LL-A 3.2): dropped without the school's opt-in; with it, of known pupils only."""
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
            return
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


def _taken_message(label: str) -> Callable[[Any], str]:
    return lambda r: f"Another pupil at this school already has the {label} {r.value}."

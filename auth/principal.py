"""Who is calling: the typed :class:`Principal` and the facts permission checks need, loaded once a request.

Row access (which pupils, groups and staff a caller may see) is decided from the preloaded scopes below,
so every permission check is a cheap, synchronous set lookup. A scope of ``None`` means "the whole school".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, Select, and_, bindparam, case, cast, distinct, false, func, null, or_, select
from sqlalchemy import UUID as SA_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from auth.access_tokens import AccessClaims
from auth.agreements import born_after, lrs_pending, policies_pending, terms_pending
from auth.kept import Kept, KeptPrincipals
from auth.own_consent import own_consent_pending
from common.driver import fetch_first_row
from common.prepared import Prepared
from models import Account, AuthSession, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, Staff
from models.platform import SuperUser
from tenants.context import Tenant, binding_statement, enter_school, on_citus
from tenants.scoping import in_school


class Role(StrEnum):
    SCHOOL_ADMIN = "SCHOOL_ADMIN"
    STAFF = "STAFF"
    PUPIL = "PUPIL"
    PARENT = "PARENT"
    PARTNER = "PARTNER"
    """An integration partner's token (issue 14): no account; what it reads is decided by its scopes."""


@dataclass(frozen=True)
class Principal:
    """An authenticated account at one school, with its row scopes. Anonymous callers have no Principal."""

    account_id: uuid.UUID
    username: str
    school_id: uuid.UUID
    role: Role
    session_id: uuid.UUID
    staff_id: uuid.UUID | None = None
    pupil_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    must_change_password: bool = False
    consent_required: bool = False
    """A pupil who turned 13 and owes their own consent (LL 6.3.3): nothing else works until they give it."""
    super_user: bool = False
    """One of the school's nominated Super-Users (they accept the licence terms for the school)."""
    terms_pending: bool = False
    """The school has not accepted the current licence terms (LL 21): only Super-Users get in, to accept."""
    policies_pending: bool = False
    """The account owes its acceptance of a current user policy (LL 3.1): nothing else works until then."""
    lrs_pending: bool = False
    """The account has not accepted the current LRS user agreement (LRS 1.1): no ULN, no learner record."""
    pupil_scope: frozenset[uuid.UUID] | None = frozenset()
    """Pupils whose records this caller may see; None: every pupil of the school."""
    group_scope: frozenset[uuid.UUID] | None = frozenset()
    """Groups this caller may see; None: every group of the school."""
    teacher_scope: frozenset[uuid.UUID] | None = frozenset()
    """Staff whose names this caller may see (their own or their children's teachers); None: all staff."""
    school_wide_reason: str | None = None
    scopes: frozenset[str] = frozenset()
    """An integration partner's granted scopes (``Role.PARTNER`` only): the policies that declare one of
    them admit it (``auth.policies.for_partners``); every other policy refuses it."""

    @property
    def pending(self) -> str | None:
        """What the caller must do before anything but putting their account in order works (the reason
        code every other field is refused with), or None."""
        if self.must_change_password:
            return "PASSWORD_CHANGE_REQUIRED"
        if self.consent_required:
            return "CONSENT_REQUIRED"
        if self.terms_pending:
            return "TERMS_NOT_ACCEPTED"
        if self.policies_pending:
            return "POLICIES_NOT_ACCEPTED"
        return None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.SCHOOL_ADMIN

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def is_staff(self) -> bool:
        """Staff in the broad sense: staff accounts and school admins (the staff directory is theirs)."""
        return self.role in (Role.STAFF, Role.SCHOOL_ADMIN)

    @property
    def school_wide_pupils(self) -> bool:
        return self.pupil_scope is None

    def may_see_pupil(self, pupil_id: uuid.UUID) -> bool:
        return self.pupil_scope is None or pupil_id in self.pupil_scope

    def may_see_pupils(self, pupil_ids: Iterable[uuid.UUID]) -> bool:
        """:meth:`may_see_pupil` for every one of ``pupil_ids``, as one set inclusion."""
        return self.pupil_scope is None or self.pupil_scope.issuperset(pupil_ids)

    def may_see_group(self, group_id: uuid.UUID) -> bool:
        return self.group_scope is None or group_id in self.group_scope

    def may_see_staff_name(self, staff_id: uuid.UUID) -> bool:
        return self.teacher_scope is None or staff_id in self.teacher_scope

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.role.value,)


def _principal_stmt(role: Role | None = None) -> Select[Any]:
    """The session's account with the row scopes of its role: ONE statement (built once, all bound).

    The scopes are correlated subqueries under ``CASE``, so PostgreSQL runs only those of the account's
    role: staff without school-wide access get the active groups they teach and those groups' pupils;
    a pupil the active groups they are in and those groups' teachers; a parent their linked children,
    and the children's active groups and teachers. Admins and school-wide staff need none.

    With a ``role``, the statement reads only an account of that role (``accounts.role`` in its WHERE) and
    holds only the ``CASE`` arms that can apply to it (the others' conditions are false for that role):
    for such an account it answers exactly what the statement without a role answers, and PostgreSQL's
    executor no longer sets up every other role's subqueries at each execution (``app_enter_school``,
    migration 0029, runs it).

    Longer than a function should be, on purpose: it is one SQL statement, read whole, every branch beside
    the role it serves.
    """
    school: Any = bindparam("school_id")
    now: Any = bindparam("now")
    child_if_born_after: Any = bindparam("born_after")
    exists_super_user = (
        select(SuperUser.account_id)
        .where(in_school(SuperUser, school), SuperUser.account_id == Account.id)
        .correlate(Account)
        .exists()
    )

    def active_group(group_id: Any) -> Any:
        return and_(in_school(Group, school), Group.id == group_id, Group.active)

    def array(column: Any, stmt: Select[Any]) -> Any:
        return stmt.add_columns(func.array_agg(distinct(column))).correlate(Account).scalar_subquery()

    def of(*roles: Role) -> bool:
        """An arm for accounts of ``roles`` belongs in this statement."""
        return role is None or role in roles

    def arms(*whens: tuple[bool, Any, Any]) -> Any:
        """``CASE`` of the arms that belong; NULL (a ``uuid[]``) when none does."""
        kept = [(condition, value) for belongs, condition, value in whens if belongs]
        return case(*kept) if kept else cast(null(), ARRAY(SA_UUID))

    taught = and_(in_school(GroupTeacher, school), GroupTeacher.staff_id == Account.staff_id)
    taught_groups = array(
        GroupTeacher.group_id,
        select().select_from(GroupTeacher).join(Group, active_group(GroupTeacher.group_id)).where(taught),
    )
    # The pupils of the groups taught, found by the groups' ids (a semi-join): joined group by pupil, the
    # planner looked the group up again for each of its pupils, about twice the time (ADR 13, eleventh pass).
    taught_group_ids = (
        select(GroupTeacher.group_id)
        .join(Group, active_group(GroupTeacher.group_id))
        .where(taught)
        .correlate(Account)
    )
    taught_pupils = array(
        GroupPupil.pupil_id,
        select()
        .select_from(GroupPupil)
        .where(in_school(GroupPupil, school), GroupPupil.group_id.in_(taught_group_ids)),  # type: ignore[attr-defined]
    )
    children_of_contact = (
        select(PupilContact.pupil_id)
        .where(in_school(PupilContact, school), PupilContact.contact_id == Account.contact_id)
        .correlate(Account)
    )
    children = array(
        PupilContact.pupil_id,
        select()
        .select_from(PupilContact)
        .where(in_school(PupilContact, school), PupilContact.contact_id == Account.contact_id),
    )
    family = and_(
        in_school(GroupPupil, school),
        or_(
            GroupPupil.pupil_id == Account.pupil_id,
            GroupPupil.pupil_id.in_(children_of_contact),  # type: ignore[attr-defined]
        ),
    )
    family_groups = array(
        GroupPupil.group_id,
        select().select_from(GroupPupil).join(Group, active_group(GroupPupil.group_id)).where(family),
    )
    family_teachers = array(
        GroupTeacher.staff_id,
        select()
        .select_from(GroupPupil)
        .join(Group, active_group(GroupPupil.group_id))
        .join(
            GroupTeacher, and_(in_school(GroupTeacher, school), GroupTeacher.group_id == GroupPupil.group_id)
        )
        .where(family),
    )
    taught_scope = and_(Account.role == Role.STAFF.value, Staff.pupil_access != "SCHOOL")
    family_scope = or_(Account.role == Role.PUPIL.value, Account.role == Role.PARENT.value)
    staff, family_roles = of(Role.STAFF), of(Role.PUPIL, Role.PARENT)
    consent: Any = (
        case((Account.role == Role.PUPIL.value, own_consent_pending(school, Account.pupil_id)), else_=False)
        if of(Role.PUPIL)
        else false()
    )
    role_name = None if role is None else role.value
    stmt: Select[Any] = (
        select(
            Account.id,
            Account.username,
            Account.role,
            Account.staff_id,
            Account.pupil_id,
            Account.contact_id,
            Account.must_change_password,
            Staff.pupil_access,
            Staff.pupil_access_reason,
            func.coalesce(Staff.active, Pupil.active, Contact.active, True),
            arms((staff, taught_scope, taught_groups), (family_roles, family_scope, family_groups)),
            arms(
                (staff, taught_scope, taught_pupils),
                (of(Role.PARENT), Account.role == Role.PARENT.value, children),
            ),
            arms((family_roles, family_scope, family_teachers)),
            consent,
            exists_super_user,
            terms_pending(school, now),
            policies_pending(school, now, child_if_born_after, role=role_name),
            lrs_pending(school, now, child_if_born_after, role=role_name),
        )
        .join(
            AuthSession,
            and_(in_school(AuthSession, school), AuthSession.account_id == Account.id),
        )
        .outerjoin(Staff, and_(in_school(Staff, school), Staff.id == Account.staff_id))
        .outerjoin(Pupil, and_(in_school(Pupil, school), Pupil.id == Account.pupil_id))
        .outerjoin(Contact, and_(in_school(Contact, school), Contact.id == Account.contact_id))
        .where(
            in_school(Account, school),
            Account.id == bindparam("account_id"),
            AuthSession.id == bindparam("session_id"),
            AuthSession.revoked_at.is_(None),  # type: ignore[union-attr]
            AuthSession.expires_at > now,
            Account.status == "ACTIVE",
        )
    )
    if role is not None:
        stmt = stmt.where(Account.role == role.value)
    return stmt


_PRINCIPAL = Prepared(_principal_stmt())
"""Compiled once per process (:mod:`common.prepared`): its cache key cost more than running it."""

ACCOUNT_ROLES = (Role.SCHOOL_ADMIN, Role.STAFF, Role.PUPIL, Role.PARENT)
"""The roles of accounts: each has its own statement in ``app_enter_school``."""

FUNCTION_ARGUMENTS = {
    "school_id": ("p_school_id", "uuid"),
    "account_id": ("p_account_id", "uuid"),
    "session_id": ("p_session_id", "uuid"),
    "now": ("p_now", "timestamptz"),
    "born_after": ("p_born_after", "date"),
}
"""The principal statement's parameters that a request gives (:func:`_params`), as ``app_enter_school``'s
arguments (name, type), in its order; then ``p_role`` (text, which statement to try first) and ``p_slug``."""


def function_statement(role: Role | None, dialect: Any) -> str:
    """The principal's statement for accounts of ``role`` (None: every role) as ``app_enter_school``'s body
    holds it: the text ``dialect`` compiles, each parameter a request gives written as the function's
    argument, and each value the statement carries itself (a role's name, a document kind) as a constant.
    tests/test_enter_school_function.py fails when the function no longer holds these texts."""
    compiled = Prepared(_principal_stmt(role)).compiled_for(dialect)

    def argument(match: re.Match[str]) -> str:
        name = compiled.names[int(match.group(1)) - 1]
        if name in FUNCTION_ARGUMENTS:
            return FUNCTION_ARGUMENTS[name][0]
        return _constant(compiled.fixed[name])

    return re.sub(r"\$(\d+)", argument, compiled.sql)


def _constant(value: Any) -> str:
    """An SQL constant for a value the principal's statement carries (a role, a kind, a flag)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no constant for {value!r}")


def _ids(values: list[uuid.UUID] | None) -> frozenset[uuid.UUID]:
    """The ids of an array the statement returned, without its NULLs (made in C: a teacher's scope is
    dozens of ids, made at every request)."""
    return frozenset(values or ()) - _NO_ID


_NO_ID: frozenset[Any] = frozenset((None,))


def _params(
    school_id: uuid.UUID, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "account_id": account_id,
        "session_id": session_id,
        "now": now,
        "born_after": born_after(now),
    }


async def load_principal(
    session: AsyncSession,
    *,
    school_id: uuid.UUID,
    account_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
) -> Principal | None:
    """The principal of a live session, or None when the session or account is revoked, expired or disabled,
    or the person has left. One statement (:func:`_principal_stmt`), whatever the role."""
    connection = await session.connection()  # Core: columns only (see tenants.context.enter_school)
    row = (
        await _PRINCIPAL.execute(connection, _params(school_id, account_id, session_id, now))
    ).one_or_none()
    return None if row is None else _principal_of(tuple(row), school_id, session_id)


async def enter_school_as(
    session: AsyncSession,
    slug: str,
    claims: AccessClaims | None,
    now: datetime,
    kept: KeptPrincipals | None = None,
) -> tuple[Tenant | None, Principal | None]:
    """The school of a URL slug, the transaction bound to it, and the principal of ``claims`` (a verified
    access token, :func:`auth.access_tokens.verify_access_token_of_its_school`) at that school: ONE round
    trip on plain PostgreSQL, where :func:`tenants.context.enter_school` and :func:`load_principal` were two.

    The SQL function ``app_enter_school`` (migrations 0029, 0033) resolves and binds the school exactly as
    ``enter_school`` does and then runs the principal's own statement (:func:`function_statement`: its
    compiled text; tests/test_enter_school_function.py fails when they drift apart), after the binding, as
    PL/pgSQL runs its statements in order. It first tries the statement of the role the token names
    (``_principal_stmt(role)``, which sets up only that role's subqueries); when that finds no row (a
    refused caller, or a role that is not the account's) it runs the statement of every role, so the answer
    is the latter's in every case. The principal is None when there are no claims, when the token is another
    school's, when the school is not active (its request is refused anyway), and in every case
    :func:`load_principal` answers None (revoked, expired, disabled, a leaver).

    With ``kept`` (the server's :class:`auth.kept.KeptPrincipals`), a principal read before is offered to
    the function with the versions it was read at; when they are the database's now, the function answers
    "kept" instead of reading the principal again (migration 0033). On Citus, whose binding must be ``SET
    LOCAL`` (ADR 19), the two functions run one after the other, as before, and nothing is kept.
    """
    connection = await session.connection()
    if on_citus(connection):
        tenant = await enter_school(session, slug)
        if tenant is None or not tenant.active or claims is None or claims.school_id != tenant.id:
            return tenant, None
        principal = await load_principal(
            session,
            school_id=tenant.id,
            account_id=claims.account_id,
            session_id=claims.session_id,
            now=now,
        )
        return tenant, principal
    offered: Kept | None = None
    if claims is None:
        values: tuple[Any, ...] = (*_ANONYMOUS, slug, *_UNKNOWN)
    else:
        roles = claims.roles
        born = born_after(now)
        key = (claims.school_id, claims.account_id, claims.session_id)
        if kept is not None:
            offered = kept.offer(key, now, born)
        versions = offered.versions if offered is not None else _UNKNOWN
        values = (
            claims.school_id,
            claims.account_id,
            claims.session_id,
            now,
            born,
            roles[0] if len(roles) == 1 else None,
            slug,
            *versions,
        )
    # Through asyncpg, without SQLAlchemy's execution machinery on every request, and in a transaction of
    # its own: the request's transaction begins, bound to the school as the function bound this
    # statement, only if anything else is sent (common.driver).
    found_row = await fetch_first_row(connection, _ENTER_SQL, values, _binding_of)
    if found_row is None:
        return None, None
    row: tuple[Any, ...] = tuple(found_row)
    tenant = Tenant(*row[:5])
    if claims is None or claims.school_id != tenant.id:
        return tenant, None
    if row[_KEPT]:
        assert kept is not None and offered is not None  # the function keeps only what was offered
        return tenant, kept.confirmed(offered)
    principal = None if row[5] is None else _principal_of(row[5:_VERSIONS], tenant.id, claims.session_id)
    if kept is not None:
        versions = (row[_VERSIONS], row[_VERSIONS + 1], row[_VERSIONS + 2])
        until = row[_VALID_UNTIL]
        fresh = None
        if principal is not None and until is not None and None not in versions:
            fresh = Kept(principal, versions, now, until, born)
        kept.keep(key, fresh, offered=offered is not None)  # a caller refused now is forgotten
    return tenant, principal


def _binding_of(row: Sequence[Any]) -> str:
    """The binding ``app_enter_school`` made for its row's school (its first column)."""
    return binding_statement(row[0])


_ENTER_SQL = "SELECT * FROM app_enter_school($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
"""The call of ``app_enter_school`` (migration 0033): :data:`FUNCTION_ARGUMENTS`, the token's role, the slug,
and the versions of the principal kept (or NULLs)."""
_ANONYMOUS = (None,) * 6
_UNKNOWN = (None, None, None)
_VERSIONS = 23
"""Where the function's row holds the versions the principal was read at: after the school's five columns
and the principal's eighteen; then its ``valid_until``, and whether it was kept."""
_VALID_UNTIL = _VERSIONS + 3
_KEPT = _VERSIONS + 4


def _principal_of(row: tuple[Any, ...], school_id: uuid.UUID, session_id: uuid.UUID) -> Principal | None:
    """The principal of the principal statement's row (None for a leaver)."""
    (account, username, role_name, staff_id, pupil_id, contact_id, must_change, pupil_access, reason,
     person_active, groups, pupils, teachers, consent_required, super_user, terms, policies, lrs) = row  # fmt: skip
    if not person_active:
        # A leaver reaches nothing, even before the account itself is disabled (LL 11.1, LL 11.2).
        return None
    role = Role(role_name)
    # Each role's scopes, then the Principal made once (a dataclasses.replace per request cost more than
    # building it).
    school_wide_reason = None
    pupil_scope: frozenset[uuid.UUID] | None
    group_scope: frozenset[uuid.UUID] | None
    teacher_scope: frozenset[uuid.UUID] | None
    if role is Role.SCHOOL_ADMIN or (role is Role.STAFF and pupil_access == "SCHOOL"):
        school_wide_reason = reason if role is Role.STAFF else None
        pupil_scope = group_scope = teacher_scope = None
    elif role is Role.STAFF:
        assert staff_id is not None
        pupil_scope, group_scope, teacher_scope = _ids(pupils), _ids(groups), None
    else:
        # Pupils see themselves; parents their linked children. Both see those pupils' groups and teachers.
        own = frozenset({pupil_id}) if role is Role.PUPIL and pupil_id is not None else _ids(pupils)
        pupil_scope, group_scope, teacher_scope = own, _ids(groups), _ids(teachers)
    return Principal(
        account_id=account,
        username=username,
        school_id=school_id,
        role=role,
        session_id=session_id,
        staff_id=staff_id,
        pupil_id=pupil_id,
        contact_id=contact_id,
        must_change_password=must_change,
        consent_required=bool(consent_required),
        super_user=bool(super_user),
        terms_pending=bool(terms),
        policies_pending=bool(policies),
        lrs_pending=bool(lrs),
        pupil_scope=pupil_scope,
        group_scope=group_scope,
        teacher_scope=teacher_scope,
        school_wide_reason=school_wide_reason,
    )

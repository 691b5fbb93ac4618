"""Reading a school's people and groups, always within the caller's row scope.

Every function takes the :class:`~auth.principal.Principal` and returns only rows inside its scope: the
pupils it may see, the groups it may see, the staff whose names it may see. Batch functions (``*_of_*``)
serve the request's DataLoaders and issue one statement however many keys they get.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, false, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.principal import Principal, Role
from common.pagination import TEXT, UUID, Page, after_key
from models import Account, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, Staff
from people.processing import visible_to
from tenants.scoping import in_school, scoped

R = TypeVar("R")


def _within(stmt: Select[Any], column: Any, scope: frozenset[uuid.UUID] | None) -> Select[Any]:
    if scope is None:
        return stmt
    if not scope:
        return stmt.where(false())
    return stmt.where(column.in_(scope))


def _after_anchor(
    stmt: Select[Any], model: Any, order: Sequence[Any], school_id: uuid.UUID, page: Page
) -> Select[Any]:
    """Rows after the anchor row the cursor names by its id, in ``order``.

    The cursor of a list sorted by people's names carries only the last row's id: the anchor's sort key
    is read in the same statement, so no name travels in a URL. An anchor that no longer exists yields
    an empty page (the client starts again), never another school's row: the subquery is scoped too.
    """
    key = after_key(page, UUID)
    if key is None:
        return stmt
    row = aliased(model)
    anchor = select(*(getattr(row, column.key) for column in order)).where(
        in_school(row, school_id), row.id == key[0]
    )
    return stmt.where(tuple_(*order) > anchor.scalar_subquery())


def _after(stmt: Select[Any], columns: Sequence[Any], key: tuple[Any, ...] | None) -> Select[Any]:
    return stmt if key is None else stmt.where(tuple_(*columns) > tuple_(*key))


async def pupils_page(
    session: AsyncSession, principal: Principal, page: Page, *, include_inactive: bool = False
) -> Sequence[Pupil]:
    """Pupils in name order (surname, forename, id), ``page.first + 1`` rows at most; the cursor is the
    last pupil's id."""
    order = (Pupil.surname, Pupil.forename, Pupil.id)
    stmt = _within(scoped(Pupil, principal.school_id), Pupil.id, principal.pupil_scope)
    stmt = stmt.where(visible_to(principal, Pupil, Pupil.id))  # a restricted pupil: admins only
    if not (include_inactive and principal.is_admin):
        stmt = stmt.where(Pupil.active)
    stmt = _after_anchor(stmt, Pupil, order, principal.school_id, page).order_by(*order).limit(page.first + 1)
    rows: Sequence[Pupil] = (await session.execute(stmt)).scalars().all()
    return rows


async def staff_page(
    session: AsyncSession, principal: Principal, page: Page, *, include_inactive: bool = False
) -> Sequence[Staff]:
    """Staff in name order (surname, forename, id); the cursor is the last one's id."""
    order = (Staff.surname, Staff.forename, Staff.id)
    stmt = _within(scoped(Staff, principal.school_id), Staff.id, principal.teacher_scope)
    if not (include_inactive and principal.is_admin):
        stmt = stmt.where(Staff.active)
    stmt = _after_anchor(stmt, Staff, order, principal.school_id, page).order_by(*order).limit(page.first + 1)
    rows: Sequence[Staff] = (await session.execute(stmt)).scalars().all()
    return rows


async def groups_page(
    session: AsyncSession, principal: Principal, page: Page, *, include_inactive: bool = False
) -> Sequence[Group]:
    """Groups by name, then id; the cursor is that key (a class name is no one's personal data)."""
    order = (Group.name, Group.id)
    stmt = _within(scoped(Group, principal.school_id), Group.id, principal.group_scope)
    if not (include_inactive and principal.is_admin):
        stmt = stmt.where(Group.active)
    stmt = _after(stmt, order, after_key(page, TEXT, UUID)).order_by(*order).limit(page.first + 1)
    rows: Sequence[Group] = (await session.execute(stmt)).scalars().all()
    return rows


async def _by_ids(
    session: AsyncSession,
    model: Any,
    principal: Principal,
    ids: Sequence[uuid.UUID],
    scope: frozenset[uuid.UUID] | None,
) -> dict[uuid.UUID, Any]:
    stmt = _within(scoped(model, principal.school_id).where(model.id.in_(ids)), model.id, scope)
    if not principal.is_admin:
        # Leavers and closed groups are the admin's to see; everyone else reaches them no more (LL 11.2).
        stmt = stmt.where(model.active)
        if model is not Group:  # nor a person whose processing is restricted (LL-S2 (xiii))
            stmt = stmt.where(visible_to(principal, model, model.id))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def pupils_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Pupil]:
    return await _by_ids(session, Pupil, principal, ids, principal.pupil_scope)


async def staff_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Staff]:
    return await _by_ids(session, Staff, principal, ids, principal.teacher_scope)


async def groups_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Group]:
    return await _by_ids(session, Group, principal, ids, principal.group_scope)


async def contacts_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    """Contacts: school admins see all; a parent sees only their own contact record."""
    scope = None if principal.is_admin else frozenset({principal.contact_id} - {None})
    return await _by_ids(session, Contact, principal, ids, scope)


async def _pairs(session: AsyncSession, stmt: Select[Any]) -> list[tuple[uuid.UUID, Any]]:
    """``(key, row)`` pairs of a two-column statement (``Result.tuples()`` is deprecated in SQLAlchemy 2.1)."""
    return [(key, row) for key, row in (await session.execute(stmt)).all()]


def _grouped(pairs: Sequence[tuple[uuid.UUID, R]], keys: Sequence[uuid.UUID]) -> list[list[R]]:
    found: dict[uuid.UUID, list[R]] = defaultdict(list)
    for key, row in pairs:
        found[key].append(row)
    return [found.get(key, []) for key in keys]


async def pupils_of_groups(
    session: AsyncSession, principal: Principal, group_ids: Sequence[uuid.UUID]
) -> list[list[Pupil]]:
    """Each group's active pupils the caller may see, in name order; one statement for all groups."""
    school = principal.school_id
    stmt = (
        select(GroupPupil.group_id, Pupil)
        .join(Pupil, and_(in_school(Pupil, school), Pupil.id == GroupPupil.pupil_id))
        .where(in_school(GroupPupil, school), GroupPupil.group_id.in_(group_ids), Pupil.active)  # type: ignore[attr-defined]
        .order_by(Pupil.surname, Pupil.forename, Pupil.id)
    )
    stmt = _within(stmt, Pupil.id, principal.pupil_scope).where(visible_to(principal, Pupil, Pupil.id))
    return _grouped(await _pairs(session, stmt), group_ids)


async def groups_of_pupils(
    session: AsyncSession, principal: Principal, pupil_ids: Sequence[uuid.UUID]
) -> list[list[Group]]:
    school = principal.school_id
    stmt = (
        select(GroupPupil.pupil_id, Group)
        .join(Group, and_(in_school(Group, school), Group.id == GroupPupil.group_id))
        .where(in_school(GroupPupil, school), GroupPupil.pupil_id.in_(pupil_ids), Group.active)  # type: ignore[attr-defined]
        .order_by(Group.name, Group.id)
    )
    stmt = _within(stmt, Group.id, principal.group_scope)
    return _grouped(await _pairs(session, stmt), pupil_ids)


async def teachers_of_groups(
    session: AsyncSession, principal: Principal, group_ids: Sequence[uuid.UUID]
) -> list[list[Staff]]:
    school = principal.school_id
    stmt = (
        select(GroupTeacher.group_id, Staff)
        .join(Staff, and_(in_school(Staff, school), Staff.id == GroupTeacher.staff_id))
        .where(in_school(GroupTeacher, school), GroupTeacher.group_id.in_(group_ids), Staff.active)  # type: ignore[attr-defined]
        .order_by(Staff.surname, Staff.forename, Staff.id)
    )
    stmt = _within(stmt, Staff.id, principal.teacher_scope)
    return _grouped(await _pairs(session, stmt), group_ids)


async def groups_of_staff(
    session: AsyncSession, principal: Principal, staff_ids: Sequence[uuid.UUID]
) -> list[list[Group]]:
    school = principal.school_id
    stmt = (
        select(GroupTeacher.staff_id, Group)
        .join(Group, and_(in_school(Group, school), Group.id == GroupTeacher.group_id))
        .where(in_school(GroupTeacher, school), GroupTeacher.staff_id.in_(staff_ids), Group.active)  # type: ignore[attr-defined]
        .order_by(Group.name, Group.id)
    )
    stmt = _within(stmt, Group.id, principal.group_scope)
    return _grouped(await _pairs(session, stmt), staff_ids)


async def contacts_of_pupils(
    session: AsyncSession, principal: Principal, pupil_ids: Sequence[uuid.UUID]
) -> list[list[Contact]]:
    """A pupil's contacts: school admins see all; a parent only themself."""
    school = principal.school_id
    stmt = (
        select(PupilContact.pupil_id, Contact)
        .join(Contact, and_(in_school(Contact, school), Contact.id == PupilContact.contact_id))
        .where(in_school(PupilContact, school), PupilContact.pupil_id.in_(pupil_ids))  # type: ignore[attr-defined]
        .order_by(Contact.surname, Contact.forename, Contact.id)
    )
    if not principal.is_admin:
        stmt = stmt.where(or_(false(), Contact.id == principal.contact_id))
    return _grouped(await _pairs(session, stmt), pupil_ids)


async def accounts_of_people(
    session: AsyncSession, principal: Principal, person_ids: Sequence[uuid.UUID]
) -> list[Account | None]:
    """The account of each staff, pupil or contact id (school admins only: callers check the policy)."""
    stmt = scoped(Account, principal.school_id).where(
        or_(
            Account.staff_id.in_(person_ids),  # type: ignore[union-attr]
            Account.pupil_id.in_(person_ids),  # type: ignore[union-attr]
            Account.contact_id.in_(person_ids),  # type: ignore[union-attr]
        )
    )
    by_person: dict[uuid.UUID, Account] = {}
    for account in (await session.execute(stmt)).scalars():
        for person in (account.staff_id, account.pupil_id, account.contact_id):
            if person is not None:
                by_person[person] = account
    return [by_person.get(pid) for pid in person_ids]


async def pupil_rows_by_ids(
    session: AsyncSession, principal: Principal, model: Any, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """Rows of ``model`` (a school's table with a ``pupil_id``: judgements, achievements, goals,
    prints, consents...) by id, of pupils the caller may see; one statement. The same scope as the lists of a
    pupil's rows, so ``node(id)`` shows exactly what those lists show: nothing of a restricted pupil but to
    a school admin (LL-S2 (xiii))."""
    if not ids:
        return {}
    stmt = scoped(model, principal.school_id).where(
        model.id.in_(ids), visible_to(principal, model, model.pupil_id)
    )
    rows = (await session.execute(stmt)).scalars().all()
    return {row.id: row for row in rows if principal.may_see_pupil(row.pupil_id)}


async def accounts_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Account]:
    """Accounts by id: any of the school's for a school admin, otherwise only the caller's own."""
    if principal.role is not Role.SCHOOL_ADMIN:
        ids = [i for i in ids if i == principal.account_id]
    if not ids:
        return {}
    stmt = scoped(Account, principal.school_id).where(Account.id.in_(ids))  # type: ignore[attr-defined]
    return {row.id: row for row in (await session.execute(stmt)).scalars()}

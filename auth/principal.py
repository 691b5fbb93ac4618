"""Who is calling: the typed :class:`Principal` and the facts permission checks need, loaded once a request.

Row access (which pupils, groups and staff a caller may see) is decided from the preloaded scopes below,
so every permission check is a cheap, synchronous set lookup. A scope of ``None`` means "the whole school".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Account, AuthSession, Contact, Group, GroupPupil, GroupTeacher, Pupil, PupilContact, Staff
from tenants.scoping import in_school


class Role(StrEnum):
    SCHOOL_ADMIN = "SCHOOL_ADMIN"
    STAFF = "STAFF"
    PUPIL = "PUPIL"
    PARENT = "PARENT"


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
    pupil_scope: frozenset[uuid.UUID] | None = frozenset()
    """Pupils whose records this caller may see; None: every pupil of the school."""
    group_scope: frozenset[uuid.UUID] | None = frozenset()
    """Groups this caller may see; None: every group of the school."""
    teacher_scope: frozenset[uuid.UUID] | None = frozenset()
    """Staff whose names this caller may see (their own or their children's teachers); None: all staff."""
    school_wide_reason: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.SCHOOL_ADMIN

    @property
    def is_staff(self) -> bool:
        """Staff in the broad sense: staff accounts and school admins (the staff directory is theirs)."""
        return self.role in (Role.STAFF, Role.SCHOOL_ADMIN)

    @property
    def school_wide_pupils(self) -> bool:
        return self.pupil_scope is None

    def may_see_pupil(self, pupil_id: uuid.UUID) -> bool:
        return self.pupil_scope is None or pupil_id in self.pupil_scope

    def may_see_group(self, group_id: uuid.UUID) -> bool:
        return self.group_scope is None or group_id in self.group_scope

    def may_see_staff_name(self, staff_id: uuid.UUID) -> bool:
        return self.teacher_scope is None or staff_id in self.teacher_scope

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.role.value,)


async def load_principal(
    session: AsyncSession,
    *,
    school_id: uuid.UUID,
    account_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
) -> Principal | None:
    """The principal of a live session, or None when the session or account is revoked, expired or disabled.

    Issues two statements: the session with its account, then the row scopes of the account's role.
    """
    row = (
        await session.execute(
            select(
                Account,
                Staff.pupil_access,
                Staff.pupil_access_reason,
                func.coalesce(Staff.active, Pupil.active, Contact.active, True),
            )
            .join(
                AuthSession,
                and_(in_school(AuthSession, school_id), AuthSession.account_id == Account.id),
            )
            .outerjoin(Staff, and_(in_school(Staff, school_id), Staff.id == Account.staff_id))
            .outerjoin(Pupil, and_(in_school(Pupil, school_id), Pupil.id == Account.pupil_id))
            .outerjoin(Contact, and_(in_school(Contact, school_id), Contact.id == Account.contact_id))
            .where(
                in_school(Account, school_id),
                Account.id == account_id,
                AuthSession.id == session_id,
                AuthSession.revoked_at.is_(None),  # type: ignore[union-attr]
                AuthSession.expires_at > now,
                Account.status == "ACTIVE",
            )
        )
    ).one_or_none()
    if row is None:
        return None
    account, pupil_access, reason, person_active = row
    if not person_active:
        # A leaver reaches nothing, even before the account itself is disabled (LL 11.1, LL 11.2).
        return None
    role = Role(account.role)
    base = {
        "account_id": account.id,
        "username": account.username,
        "school_id": school_id,
        "role": role,
        "session_id": session_id,
        "staff_id": account.staff_id,
        "pupil_id": account.pupil_id,
        "contact_id": account.contact_id,
        "must_change_password": account.must_change_password,
    }
    if role is Role.SCHOOL_ADMIN:
        return Principal(**base, pupil_scope=None, group_scope=None, teacher_scope=None)
    if role is Role.STAFF:
        assert account.staff_id is not None
        if pupil_access == "SCHOOL":
            return Principal(
                **base, pupil_scope=None, group_scope=None, teacher_scope=None, school_wide_reason=reason
            )
        taught = (
            await session.execute(
                select(GroupTeacher.group_id, GroupPupil.pupil_id)
                .join(
                    Group, and_(in_school(Group, school_id), Group.id == GroupTeacher.group_id, Group.active)
                )
                .outerjoin(
                    GroupPupil,
                    and_(in_school(GroupPupil, school_id), GroupPupil.group_id == GroupTeacher.group_id),
                )
                .where(in_school(GroupTeacher, school_id), GroupTeacher.staff_id == account.staff_id)
            )
        ).all()
        return Principal(
            **base,
            pupil_scope=frozenset(p for _, p in taught if p is not None),
            group_scope=frozenset(g for g, _ in taught),
            teacher_scope=None,
        )
    # Pupils see themselves; parents their linked children. Both see those pupils' groups and teachers.
    if role is Role.PUPIL:
        assert account.pupil_id is not None
        pupils = frozenset({account.pupil_id})
    else:
        children = await session.execute(
            select(PupilContact.pupil_id).where(
                in_school(PupilContact, school_id), PupilContact.contact_id == account.contact_id
            )
        )
        pupils = frozenset(children.scalars())
    groups_teachers = (
        await session.execute(
            select(GroupPupil.group_id, GroupTeacher.staff_id)
            .join(Group, and_(in_school(Group, school_id), Group.id == GroupPupil.group_id, Group.active))
            .outerjoin(
                GroupTeacher,
                and_(in_school(GroupTeacher, school_id), GroupTeacher.group_id == GroupPupil.group_id),
            )
            .where(in_school(GroupPupil, school_id), GroupPupil.pupil_id.in_(pupils))  # type: ignore[attr-defined]
        )
    ).all()
    return Principal(
        **base,
        pupil_scope=pupils,
        group_scope=frozenset(g for g, _ in groups_teachers),
        teacher_scope=frozenset(s for _, s in groups_teachers if s is not None),
    )

"""School-admin operations on a school's staff, pupils, groups, memberships and contacts.

One module per entity (:mod:`people.staff`, :mod:`people.pupils`, :mod:`people.groups`,
:mod:`people.memberships`, :mod:`people.contacts`) over the shared field rules (:mod:`people.validation`),
row lookups (:mod:`people.rows`) and leaver handling (:mod:`people.leaving`); this module is their one
entry point, which the GraphQL layer calls.

Obligations carried out here: LL 4.3 (the school admin manages the Registered Users), LL 6.3.1 (staff are
named, with a work email), LL 6.3.2 (an accurate date of birth), LL 11.1 and LL 11.2 (a leaver's access
ends at once: their account is disabled and every session revoked), LL-S1 (the Schedule 1 fields).

Contract of every operation:

* It takes the request's session (bound to the school), the calling :class:`Principal` (a school admin:
  the GraphQL layer enforces the policy), one input dataclass and ``now``.
* It validates the whole input first and reports every problem at once as a :class:`DomainError` whose
  fields are camelCase dotted paths of the mutation input (``upn``, ``pupilIds.2``); nothing is written
  then. Only after that does it write, through the scoping helper, ``flush()`` and never ``commit()``.
* A row of another school is exactly an unknown row: NOT_FOUND, never a hint that it exists.
* Updates change only the fields given: :data:`UNSET` means "not given", ``None`` means "clear it" (and is
  refused with REQUIRED for a field that cannot be empty).
"""

from __future__ import annotations

from people.contacts import (
    ContactLink,
    ContactUnlink,
    NewContact,
    create_contact,
    link_contact,
    unlink_contact,
)
from people.groups import GroupChanges, GroupRef, NewGroup, create_group, deactivate_group, update_group
from people.memberships import (
    GroupPupils,
    GroupTeacherRef,
    add_group_pupils,
    add_group_teacher,
    remove_group_pupils,
    remove_group_teacher,
)
from people.pupils import NewPupil, PupilChanges, PupilLeaving, create_pupil, deactivate_pupil, update_pupil
from people.rows import MAX_GROUP_MEMBERS_PER_CALL
from people.staff import (
    NewStaff,
    PupilAccessGrant,
    StaffChanges,
    StaffLeaving,
    create_staff,
    deactivate_staff,
    set_staff_pupil_access,
    update_staff,
)
from people.validation import EARLIEST_DATE_OF_BIRTH, MAX_PUPIL_AGE, MIN_PUPIL_AGE, YEAR_GROUPS

__all__ = [
    "EARLIEST_DATE_OF_BIRTH",
    "MAX_GROUP_MEMBERS_PER_CALL",
    "MAX_PUPIL_AGE",
    "MIN_PUPIL_AGE",
    "YEAR_GROUPS",
    "ContactLink",
    "ContactUnlink",
    "GroupChanges",
    "GroupPupils",
    "GroupRef",
    "GroupTeacherRef",
    "NewContact",
    "NewGroup",
    "NewPupil",
    "NewStaff",
    "PupilAccessGrant",
    "PupilChanges",
    "PupilLeaving",
    "StaffChanges",
    "StaffLeaving",
    "add_group_pupils",
    "add_group_teacher",
    "create_contact",
    "create_group",
    "create_pupil",
    "create_staff",
    "deactivate_group",
    "deactivate_pupil",
    "deactivate_staff",
    "link_contact",
    "remove_group_pupils",
    "remove_group_teacher",
    "set_staff_pupil_access",
    "unlink_contact",
    "update_group",
    "update_pupil",
    "update_staff",
]

"""Who may read and change learning data: policies over the rows the learning types wrap.

The objects given to these policies carry ``pupil_id`` (judgements, progress, submissions, achievements,
goals) or ``group_id`` (assignments, group progress). Row scopes come from the :class:`Principal` as
everywhere else: ``may_see_pupil`` admits school admins, staff who teach the pupil, staff with
school-wide pupil access, the pupil and their parents. The predicates are also used by the services for
their row checks, so a mutation and the fields it returns never disagree.
"""

from __future__ import annotations

import uuid

from auth.policies import InPupilScope, Policy, for_partners
from auth.principal import Principal, Role
from auth.scopes import ACHIEVEMENTS_READ, PROGRESS_READ


def may_assess(principal: Principal, pupil_id: uuid.UUID) -> bool:
    """Staff who teach the pupil (or have school-wide pupil access) and school admins."""
    return principal.is_staff and principal.may_see_pupil(pupil_id)


def may_teach_group(principal: Principal, group_id: uuid.UUID) -> bool:
    """Staff who teach the group (every group with school-wide access) and school admins."""
    return principal.is_staff and principal.may_see_group(group_id)


def sees_school_progress(principal: Principal) -> bool:
    return principal.is_staff and principal.school_wide_pupils


LEARNING_RECORD = Policy(
    "learning_record",
    "as the pupil record: school admins, staff who teach the pupil or have school-wide pupil access, "
    "the pupil, the pupil's parents",
    InPupilScope("pupil_id"),
)
PROGRESS_RECORD = for_partners(LEARNING_RECORD, PROGRESS_READ)
"""A judgement's level, dates and rung, and a pupil's progress on a ladder: the learning record's readers,
and integration partners granted progress.read (issue 14)."""
ACHIEVEMENT_RECORD = for_partners(LEARNING_RECORD, ACHIEVEMENTS_READ)
"""An achievement's fields: the learning record's readers, and partners granted achievements.read."""
ASSESSOR = Policy(
    "assessor",
    "school admins, staff who teach the pupil or have school-wide pupil access",
    lambda p, row: may_assess(p, row.pupil_id),
)
GROUP_WORK = Policy(
    "group_work",
    "school admins, staff who teach the group, the group's pupils and their parents",
    lambda p, row: p.may_see_group(row.group_id),
)
GROUP_PROGRESS = Policy(
    "group_progress",
    "school admins, staff who teach the group or have school-wide pupil access",
    lambda p, row: may_teach_group(p, row.group_id),
)
SCHOOL_PROGRESS = Policy(
    "school_progress",
    "school admins and staff with school-wide pupil access",
    lambda p, _: sees_school_progress(p),
)
SUBMITTER = Policy(
    "submitter",
    "pupils (their own work)",
    lambda p, _: p.role is Role.PUPIL,
)
CONTENT_ADMIN = Policy(
    "content_admin",
    "school admins (the download log, print grants, reviewing reports: LL 7.1.4, LL 6.4.2, LL 13.3)",
    lambda p, _: p.role is Role.SCHOOL_ADMIN,
)
CONTENT_REPORT = Policy(
    "content_report",
    "school admins, and the account that made the report",
    lambda p, row: p.role is Role.SCHOOL_ADMIN or p.account_id == row.reported_by,
)

ALL: tuple[Policy, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Policy))

"""Who may read the audit log (LRS 7.3 spot checks, LRS 8.9 activity reported to administrators).

Policies in the sense of :mod:`auth.policies`: small named predicates ``(principal, object) -> bool``, here
about audit entries (or, for the root fields, the school of the request). A school's audit log is read by
its school admins only; every check also compares the object's school with the caller's, so an entry of
another school is refused even if a query ever returned one.
"""

from __future__ import annotations

import uuid
from typing import Any

from auth.policies import Policy
from auth.principal import Principal, Role


def _school_of(obj: Any) -> uuid.UUID | None:
    """The school an object belongs to: an entry's ``school_id``, or the id of the request's school."""
    school_id = getattr(obj, "school_id", None)
    if school_id is None:
        school_id = getattr(obj, "id", None)
    return school_id if isinstance(school_id, uuid.UUID) else None


def _school_admin_of(principal: Principal, obj: Any) -> bool:
    return principal.role is Role.SCHOOL_ADMIN and _school_of(obj) == principal.school_id


AUDIT_LOG = Policy(
    "audit_log",
    "school admins, for their own school's audit log only",
    _school_admin_of,
)
AUDIT_PERSONAL = Policy(
    "audit_personal",
    "school admins, for their own school's audit log only (the username at the time and the client "
    "address: outside the hash chain, blanked when the person is erased)",
    _school_admin_of,
)

ALL: tuple[Policy, ...] = (AUDIT_LOG, AUDIT_PERSONAL)

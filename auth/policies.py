"""Permission policies: small named predicates ``(principal, object) -> bool``.

Each policy states in words who it admits; the GraphQL layer attaches policies to fields and mutations
(``graph/permissions.py``) and docs/permissions.md is generated from these descriptions. Objects are the
rows the GraphQL types wrap; a policy may rely on the row having passed the caller's row scope already,
but never assumes it: each checks the row it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from auth.principal import Principal, Role
from auth.scopes import ACHIEVEMENTS_READ, PROGRESS_READ, ROSTER_READ


@dataclass(frozen=True)
class Policy:
    name: str
    who: str
    check: Callable[[Principal, Any], bool]
    lrs_agreement: bool = False
    """ULN and learner-record data: only for callers who accepted the current LRS user agreement (LRS 1.1)."""
    scopes: frozenset[str] = frozenset()
    """The integration partners' scopes that open it (issue 14). None: no partner ever passes, whatever
    ``check`` says (default deny: a partner's row scopes are the whole school, so ``check`` must not be
    what admits it)."""

    def __call__(self, principal: Principal | None, obj: Any) -> bool:
        verdict = self._callers_verdict(principal)
        return self.check(principal, obj) if verdict is None else verdict

    def admits_each(self, principal: Principal | None, objects: Iterable[Any]) -> bool:
        """Whether it admits the caller for every one of ``objects``: as ``all(self(principal, o) for o
        in objects)``, what depends on the caller alone asked once (a class view asks about 30 pupils)."""
        verdict = self._callers_verdict(principal)
        if verdict is not None:
            return verdict or not any(True for _ in objects)  # each object gets it; none: vacuously true
        check = self.check
        if isinstance(check, InPupilScope):
            return check.each(principal, objects)
        return all(check(principal, obj) for obj in objects)

    def _callers_verdict(self, principal: Principal | None) -> bool | None:
        """The verdict the caller alone decides (nobody, an integration partner by its scopes, a caller
        without the LRS agreement a policy needs), or None when ``check`` decides, object by object."""
        if principal is None:
            return False
        if getattr(principal, "role", None) is Role.PARTNER:
            return not self.scopes.isdisjoint(principal.scopes)
        if self.lrs_agreement and principal.lrs_pending:
            return False
        return None


class InPupilScope:
    """The check "the caller may see the pupil the object names" (the object's ``attribute``: a pupil's
    ``id``, a learning row's ``pupil_id``), which also decides many objects at once: :meth:`each`, one set
    inclusion made in C (:meth:`Principal.may_see_pupils`), where asking each object costs three Python
    calls (a class view asks about its 30 pupils for each of two policies; ADR 13, eleventh pass)."""

    __slots__ = ("_pupil_id",)

    def __init__(self, attribute: str) -> None:
        self._pupil_id = attrgetter(attribute)

    def __call__(self, principal: Principal, obj: Any) -> bool:
        return principal.may_see_pupil(self._pupil_id(obj))

    def each(self, principal: Principal, objects: Iterable[Any]) -> bool:
        """Whether the caller may see the pupil of every one of ``objects``."""
        return principal.may_see_pupils(map(self._pupil_id, objects))


def for_partners(policy: Policy, *scopes: str) -> Policy:
    """``policy`` that also admits integration partners granted one of ``scopes`` (and names them, so the
    permission matrix shows it)."""
    suffix = "_".join(scope.replace(".", "_") for scope in scopes)
    return Policy(
        f"{policy.name}_or_{suffix}",
        f"{policy.who}; integration partners granted {' or '.join(scopes)}",
        policy.check,
        lrs_agreement=policy.lrs_agreement,
        scopes=policy.scopes | frozenset(scopes),
    )


def _pupil_id(obj: Any) -> Any:
    return obj.id


# --- anyone signed in -----------------------------------------------------------------------------------
SIGNED_IN = Policy("signed_in", "any signed-in account of this school", lambda p, _: True)
SCHOOL_ADMIN = Policy("school_admin", "school admins", lambda p, _: p.role is Role.SCHOOL_ADMIN)
STAFF = Policy("staff", "school admins and staff", lambda p, _: p.is_staff)
PARENT = Policy("parent", "parents", lambda p, _: p.role is Role.PARENT)
PUPIL = Policy("pupil", "pupils", lambda p, _: p.role is Role.PUPIL)
OWN_DATA = Policy(
    "own_data", "parents and pupils, for their own data", lambda p, _: p.role in (Role.PARENT, Role.PUPIL)
)

# --- pupils ---------------------------------------------------------------------------------------------
PUPIL_RECORD = Policy(
    "pupil_record",
    "school admins, staff who teach the pupil or have school-wide pupil access, the pupil, the pupil's parents",
    InPupilScope("id"),
)
PUPIL_IDENTIFIER = Policy(
    "pupil_identifier",
    "school admins and staff with school-wide pupil access (UPN is an administrative identifier)",
    lambda p, pupil: p.is_staff and p.school_wide_pupils,
)
PUPIL_LEARNER_NUMBER = Policy(
    "pupil_learner_number",
    "school admins, staff with school-wide pupil access, the pupil, the pupil's parents; each having accepted "
    "the current LRS user agreement",
    lambda p, pupil: (
        (p.is_staff and p.school_wide_pupils)
        or (p.role in (Role.PUPIL, Role.PARENT) and p.may_see_pupil(pupil.id))
    ),
    lrs_agreement=True,
)
LEARNER_RECORD = Policy(
    "learner_record",
    "any signed-in account of this school that accepted the current LRS user agreement (then by pupil scope)",
    lambda p, _: True,
    lrs_agreement=True,
)
PUPIL_ADMINISTRATION = Policy(
    "pupil_administration",
    "school admins",
    lambda p, _: p.role is Role.SCHOOL_ADMIN,
)

# --- consent (LL 6.3.2): the pupil's parents and the school's admins; nobody else, staff included ----------
CONSENT_MANAGER = Policy(
    "consent_manager",
    "school admins and parents (a parent for their own children only)",
    lambda p, _: p.role in (Role.SCHOOL_ADMIN, Role.PARENT),
)
CONSENT_RECORD = Policy(
    "consent_record",
    "school admins, the pupil's parents",
    lambda p, consent: (
        p.role is Role.SCHOOL_ADMIN or (p.role is Role.PARENT and p.may_see_pupil(consent.pupil_id))
    ),
)

# --- staff ----------------------------------------------------------------------------------------------
STAFF_NAME = Policy(
    "staff_name",
    "school admins and staff (the directory); pupils and parents for the teachers of their (children's) groups",
    lambda p, staff: p.may_see_staff_name(staff.id),
)
STAFF_DIRECTORY = Policy(
    "staff_directory",
    "school admins and staff (role, work email)",
    lambda p, _: p.is_staff,
)
STAFF_PRIVATE = Policy(
    "staff_private",
    "school admins, and the member of staff themself",
    lambda p, staff: p.role is Role.SCHOOL_ADMIN or p.staff_id == staff.id,
)

# --- groups ---------------------------------------------------------------------------------------------
GROUP = Policy(
    "group",
    "school admins, staff who teach the group (all groups with school-wide access), its pupils, their parents",
    lambda p, group: p.may_see_group(group.id),
)
GROUP_ADMINISTRATION = Policy(
    "group_administration",
    "school admins and staff",
    lambda p, group: p.is_staff and p.may_see_group(group.id),
)

# --- contacts -------------------------------------------------------------------------------------------
CONTACT = Policy(
    "contact",
    "school admins, and the contact themself",
    lambda p, contact: p.role is Role.SCHOOL_ADMIN or p.contact_id == contact.id,
)

# --- accounts -------------------------------------------------------------------------------------------
OWN_ACCOUNT = Policy(
    "own_account",
    "the account holder and school admins",
    lambda p, account: p.role is Role.SCHOOL_ADMIN or p.account_id == account.id,
)

ALL: tuple[Policy, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Policy))


# --- integration partners (issue 14): what roster.read opens at the GraphQL endpoint ---------------------
# The roster a OneRoster consumer reads (partners.oneroster.resources), and nothing else: no account, no
# contact, no learning record, no administration field. Every other policy refuses a partner.
SIGNED_IN_ROSTER = for_partners(SIGNED_IN, ROSTER_READ)
STAFF_ROSTER = for_partners(STAFF, ROSTER_READ)
PUPIL_RECORD_ROSTER = for_partners(PUPIL_RECORD, ROSTER_READ)
PUPIL_IDENTIFIER_ROSTER = for_partners(PUPIL_IDENTIFIER, ROSTER_READ)
PUPIL_LEARNER_NUMBER_ROSTER = for_partners(PUPIL_LEARNER_NUMBER, ROSTER_READ)
STAFF_NAME_ROSTER = for_partners(STAFF_NAME, ROSTER_READ)
STAFF_DIRECTORY_ROSTER = for_partners(STAFF_DIRECTORY, ROSTER_READ)
GROUP_ROSTER = for_partners(GROUP, ROSTER_READ)

# progress.read: the curriculum ladders and the pupils' progress on them (learning.policies.PROGRESS_RECORD
# for the judgements' and progress's own fields); achievements.read: a pupil's learning record's
# achievements (learning.policies.ACHIEVEMENT_RECORD). Neither opens a judgement's note or assessor, a
# goal, a submission or any mutation.
SIGNED_IN_PROGRESS = for_partners(SIGNED_IN, PROGRESS_READ)
LEARNER_RECORD_ACHIEVEMENTS = for_partners(LEARNER_RECORD, ACHIEVEMENTS_READ)
PUPIL_RECORD_ACHIEVEMENTS = for_partners(PUPIL_RECORD, ACHIEVEMENTS_READ)

PARTNERS_ONLY = Policy(
    "partners_only", "no account of the school (a feed for integration partners)", lambda p, _: False
)
ROSTER_CHANGES = for_partners(PARTNERS_ONLY, ROSTER_READ)
"""The roster change feed at the GraphQL endpoint (``rosterChanges``): integration partners granted
roster.read, as the REST feed; no account uses it."""
LEARNING_CHANGES = for_partners(PARTNERS_ONLY, PROGRESS_READ, ACHIEVEMENTS_READ)
"""The learning change feed (``learningChanges``): integration partners granted progress.read (its
judgements) or achievements.read (its achievements); each is served only the collections its scopes
open (``partners.changes.collections_for``); no account uses it."""

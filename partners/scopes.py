"""The scopes a partner may be granted, and what each one opens (issue 14).

Scopes are the unit of a school's approval: the operator registers which scopes a partner may ask for, a
school admin approves a subset, and a token carries the intersection of that approval and what the token
request asked for. What a scope exposes is generated from the declarations that enforce it (the OneRoster
resources' field lists in :mod:`partners.oneroster.resources`), never written twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from auth.scopes import ACHIEVEMENTS_READ, PROGRESS_READ, ROSTER_EXTENDED_READ, ROSTER_READ, ROSTER_WRITE

__all__ = [
    "ACHIEVEMENTS_READ",
    "PROGRESS_READ",
    "ROSTER_EXTENDED_READ",
    "ROSTER_READ",
    "ROSTER_WRITE",
    "SCOPES",
]

SCOPES: dict[str, str] = {
    ROSTER_READ: "Read the school's roster: the school, its terms, classes, staff, pupils, contacts and "
    "enrolments, and pupils' basic demographics (date of birth, sex).",
    ROSTER_EXTENDED_READ: "Read pupils' extended data (SEN, pupil premium, EAL, looked-after) - only while the "
    "school has opted in to extended data (LL-A 3.2), and only with roster.read.",
    ROSTER_WRITE: "Submit a OneRoster package into the school's roster import (dry run first).",
    PROGRESS_READ: "Read pupils' progress on the school's curriculum ladders.",
    ACHIEVEMENTS_READ: "Read pupils' achievements.",
}
"""Every scope schoolgraph knows, with the sentence shown to a school deciding whether to approve it."""


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """The members of ``scopes`` that are not scopes schoolgraph knows, in their order."""
    return [scope for scope in scopes if scope not in SCOPES]


def normalise(scopes: Iterable[str]) -> list[str]:
    """``scopes`` without repeats, in the order of :data:`SCOPES` (stored and compared in that form)."""
    wanted = set(scopes)
    return [scope for scope in SCOPES if scope in wanted]


def exposed_by(scope: str) -> list[tuple[str, tuple[str, ...]]]:
    """What ``scope`` opens: ``(collection, fields)`` for each OneRoster collection it reads, generated from
    the resources' declarations (:data:`partners.oneroster.resources.RESOURCES`)."""
    from partners.oneroster.resources import EXTENDED_FIELDS, RESOURCES

    exposed = [
        (r.collection, tuple(f for f in r.fields if f != "metadata"))
        for r in RESOURCES.values()
        if r.scope == scope
    ]
    if scope == ROSTER_EXTENDED_READ:
        exposed.append(("demographics", tuple(f"metadata.{name}" for name in EXTENDED_FIELDS)))
    if scope == ROSTER_WRITE:
        from roster.oneroster_spec import SPECS_11

        # POST .../packages: what the importer reads from a pushed OneRoster 1.1 package.
        exposed.append(("packages", tuple(SPECS_11)))
    return exposed

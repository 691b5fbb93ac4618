"""The partners' change feed (issue 14): every change to a person, class, judgement or achievement, in
version order, with deactivations and deletions as tombstones, never skipping a change that commits late.

One feed, several collections, each opened by a scope (:data:`FED`): ``users`` (staff, pupils, contacts)
and ``classes`` (groups) with roster.read, ``judgements`` with progress.read, ``achievements`` with
achievements.read. The REST door (``GET .../ims/oneroster/v1p1/changes``) and the GraphQL connection
``rosterChanges`` read the roster collections; ``learningChanges`` reads the learning ones; a caller is
served only the collections its scopes cover (:func:`collections_for`).

Each row of a fed table carries ``changed_version``, stamped by a database trigger on every insert and
update (so no writer can forget it): the writer's transaction id plus a constant above every version of
the first design (migrations 0015, 0017: one trigger function for every table). No lock and no read, so
writers of one school never queue behind each other (the first design, 0011, took each version from the
school's row in ``roster_change_heads``, locked until the writer committed: one school's writes queued,
and under load timed out). Versions are handed out in the order the writers started, not the order they
commit, so the feed serves only the versions below ``roster_change_horizon()``, read first in a statement
of its own: the oldest transaction id still held by a transaction of this database (whatever table it
writes), or the first not yet assigned. A change that has not committed yet is at or above the horizon, and
so is every later one: a consumer that has read up to N never misses a change by asking for versions after
N. A long transaction (an import) holds the feed back while it runs; nothing is skipped.

A consumer pages with the opaque ``next`` it is given (the last ``(version, collection, sourcedId)``,
keyset); a row changed twice is served once, at its latest version. A person or class that leaves is
deactivated (``status`` ``tobedeleted``). A row that is deleted (an erased person and their judgements and
achievements, a deleted class) leaves a tombstone in ``change_tombstones`` (the fed tables'
``record_change_tombstone`` trigger, migration 0017), versioned the same way and served as ``status``
``deleted`` with its collection and sourcedId, so that the partner deletes its copy (GDPR Art. 17(2), 19).
The tombstone keeps nothing else and is purged 30 days after the deletion (the retention step;
docs/adr/0016). The newest version purged is remembered per school and collection
(``change_purge_horizons``, migration 0031's trigger): a consumer whose position is at or before it may
have missed a deletion and is refused (:class:`SinceTooOld`), to read the feed again from the start
(``since`` 0), as Ed-Fi's oldest available change version and the "full sync required" of other feeds do.
A pupil whose processing is restricted is never served: neither as a person, nor their judgements and
achievements, nor those rows' tombstones while the pupil exists.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import UUID, BigInteger, Text, case, cast, func, literal, select, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from audit.queries import BULK_PUPIL_READ
from common.events import emit
from models import Contact, Group, Pupil, Staff
from models.curriculum import Judgement
from models.learning import Achievement
from models.partners import ChangePurgeHorizon, ChangeTombstone
from partners.oneroster.resources import served_persons
from partners.scopes import ACHIEVEMENTS_READ, PROGRESS_READ, ROSTER_READ
from people.processing import visible_to_all
from roster.reading import SchoolRef
from roster.records import key
from tenants.scoping import in_school

DELETED = "deleted"
"""The status of a tombstone: the object no longer exists (delete the copy)."""


def _pupil_rows(model: Any) -> ColumnElement[bool]:
    """A judgement or achievement is served as its pupil is (the same restriction as ``served_persons``)."""
    return visible_to_all(model, model.pupil_id)


def _every_row(model: Any) -> ColumnElement[bool]:
    return literal(True)  # a class carries no person: every one is served


@dataclasses.dataclass(frozen=True)
class Fed:
    """One table of the feed: its collection, the scope that opens it, its sourcedId's column (None: the
    row's own id), which of its rows are served, and its pupil (for the pupil access report)."""

    collection: str
    model: Any
    scope: str
    sourced_id: str | None
    served: Callable[[Any], ColumnElement[bool]]
    pupil: str | None = None

    def rows(self, school: SchoolRef) -> Any:
        model = self.model
        sourced = key(model, self.sourced_id) if self.sourced_id else cast(model.id, Text)
        status = case((model.active, "active"), else_="tobedeleted") if hasattr(model, "active") else "active"
        pupil = getattr(model, self.pupil) if self.pupil else literal(None)
        return select(
            col(model.changed_version).label("version"),
            literal(self.collection, Text).label("collection"),
            sourced.label("sourcedId"),
            (literal(status, Text) if isinstance(status, str) else status).label("status"),
            cast(pupil, UUID(as_uuid=True)).label("pupil_id"),
        ).where(in_school(model, school.id), self.served(model))


FED: tuple[Fed, ...] = (
    Fed("users", Staff, ROSTER_READ, "source_id", served_persons),
    Fed("users", Pupil, ROSTER_READ, "source_id", served_persons, pupil="id"),
    Fed("users", Contact, ROSTER_READ, "source_id", served_persons),
    Fed("classes", Group, ROSTER_READ, "external_id", _every_row),
    Fed("judgements", Judgement, PROGRESS_READ, None, _pupil_rows, pupil="pupil_id"),
    Fed("achievements", Achievement, ACHIEVEMENTS_READ, None, _pupil_rows, pupil="pupil_id"),
)
"""Every fed table. Migration 0017's ``TOMBSTONED`` names the same tables, collections and sourcedIds for
the tombstone trigger (tests/test_partners_changes.py checks they agree)."""

ROSTER = ("users", "classes")
LEARNING = ("judgements", "achievements")


def collections_for(scopes: Iterable[str], among: Iterable[str]) -> tuple[str, ...]:
    """The collections of ``among`` that ``scopes`` open, in feed order."""
    granted, wanted = set(scopes), set(among)
    found: list[str] = []
    for fed in FED:
        if fed.collection in wanted and fed.scope in granted and fed.collection not in found:
            found.append(fed.collection)
    return tuple(found)


class BadCursor(ValueError):
    """``since`` is neither a version nor a cursor this feed gave out."""


class SinceTooOld(ValueError):
    """The feed cannot serve from ``since``: a tombstone of one of the collections asked, at or after
    ``since``, was purged (``purged``, the newest version purged), so the consumer may have missed a
    deletion. It must read the collections again from the start (``since`` 0: every object as it is now,
    and the deletions still kept) and replace its copy with what that serves."""

    def __init__(self, since: int, purged: int) -> None:
        super().__init__(
            f"since {since}: deletions up to version {purged} are no longer kept (a deleted object's "
            "tombstone is kept only for the school's retention period), so some may have been missed. Read "
            "the feed again from since=0 and replace your copy with what it serves."
        )
        self.since, self.purged = since, purged


@dataclasses.dataclass(frozen=True)
class Cursor:
    """A position in the feed: after the change ``(version, collection, sourced_id)`` (a bare version N:
    every change of version N and later), and ``purged``, the newest purged version the consumer's copy
    is known to be complete against (0: none known; see :func:`read`)."""

    version: int
    collection: str = ""
    sourced_id: str = ""
    purged: int = 0

    def encode(self) -> str:
        key = [self.version, self.collection, self.sourced_id] + ([self.purged] if self.purged else [])
        raw = json.dumps(key, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """A whole number N (every change of version N and later) or a ``next`` this feed returned (those
        given out before migration 0031 carry no purged version: read as 0)."""
        if text.isdigit() and len(text) <= 19:
            return cls(int(text))
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, RecursionError):
            raise BadCursor(text) from None
        if (
            not isinstance(raw, list)
            or len(raw) not in (3, 4)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in (raw[0], *raw[3:]))
            or not all(isinstance(v, str) for v in raw[1:3])
        ):
            raise BadCursor(text)
        return cls(*raw)


START = Cursor(0)
"""``since`` 0: the feed from its start (every object as it is now, and the deletions still kept)."""


@dataclasses.dataclass(frozen=True)
class Feed:
    changes: list[Any]
    next: Cursor


def _tombstones(school: SchoolRef, collections: tuple[str, ...]) -> Any:
    return select(
        col(ChangeTombstone.changed_version).label("version"),
        col(ChangeTombstone.collection).label("collection"),
        col(ChangeTombstone.sourced_id).label("sourcedId"),
        literal(DELETED, Text).label("status"),
        cast(literal(None), UUID(as_uuid=True)).label("pupil_id"),
    ).where(
        in_school(ChangeTombstone, school.id),
        col(ChangeTombstone.collection).in_(collections),
        # A pupil's judgement or achievement, deleted while the pupil is restricted, stays hidden (the
        # pupil's erasure empties pupil_id, and the tombstone is served then).
        visible_to_all(ChangeTombstone, ChangeTombstone.pupil_id),
    )


def _rows(school: SchoolRef, collections: tuple[str, ...]) -> Any:
    parts = [fed.rows(school) for fed in FED if fed.collection in collections]
    parts.append(_tombstones(school, collections))
    return union_all(*parts).subquery("changes")


def _horizon(school: SchoolRef, collections: tuple[str, ...]) -> Any:
    """``roster_change_horizon()`` where the school's rows are written, and the newest version purged of
    ``collections``' tombstones (NULL when none was): an aggregate over (at most one of) the school's own
    tombstones, so that on Citus the statement is routed whole to the worker holding the school's shards
    and the function reads that node's transactions, whose ids the school's versions are (on plain
    PostgreSQL, the one server's). One row whether or not the school has a tombstone."""
    one = select(literal(1)).where(in_school(ChangeTombstone, school.id)).limit(1).subquery("one")
    purged = select(func.max(ChangePurgeHorizon.version)).where(
        in_school(ChangePurgeHorizon, school.id), col(ChangePurgeHorizon.collection).in_(collections)
    )
    return select(func.roster_change_horizon() + 0 * func.count(), purged.scalar_subquery()).select_from(one)


async def restamp_person(session: AsyncSession, school_id: uuid.UUID, person_id: uuid.UUID) -> None:
    """Give every fed row of a person (their own row, and a pupil's judgements, achievements and the
    tombstones that name them) a new change version, as of this transaction: called when a restriction of
    their processing is lifted (by the ``liftRestriction`` mutation, in its transaction). While it was in force the feed left those rows out, so a partner read past
    their versions without them; restamped above what it has read, they are served to it again (the
    trigger stamps every update, so an update that changes nothing else is enough). One statement a
    table, each by the school and the person's id: routed to the school's worker on Citus."""
    for fed in FED:
        if fed.served is _every_row:
            continue  # a class: no person's row
        column = fed.model.id if fed.pupil in (None, "id") else getattr(fed.model, fed.pupil)
        await session.execute(
            update(fed.model)
            .where(in_school(fed.model, school_id), column == person_id)
            .values(changed_version=fed.model.changed_version)
        )
    await session.execute(
        update(ChangeTombstone)
        .where(in_school(ChangeTombstone, school_id), col(ChangeTombstone.pupil_id) == person_id)
        .values(changed_version=ChangeTombstone.changed_version)
    )


async def read(
    session: AsyncSession,
    school: SchoolRef,
    since: Cursor,
    limit: int,
    collections: tuple[str, ...],
    *,
    via: str,
) -> Feed:
    """The changes of ``collections`` after ``since`` and below the horizon (the versions no transaction
    still running can be given: :mod:`partners.changes`), oldest first, at most ``limit``; the pupils
    among them (a pupil's record, their judgements and achievements) are recorded for the pupil access
    report as read ``via`` this door. Two statements: the horizon first, then the rows, in a later
    snapshot (and a third to record the pupils, when there are any).

    Raises :class:`SinceTooOld` when a tombstone the consumer may not have read was purged. Each position
    given out carries the newest purged version the consumer's copy is complete against (``purged``):
    when the school has purged a newer one, only a position past it has read those tombstones (or the
    start, which needs none of them). A consumer refused reads again from the start, whose positions then
    carry the school's purged version: it is not refused again for the same purge."""
    if not collections:
        return Feed([], since)
    horizon, purged = (await session.execute(_horizon(school, collections))).one()
    purged = purged or 0
    if since.purged < purged:
        # Tombstones were purged since this position was given out (or it is a bare version, or from
        # before 0031). The start needs none of them (the consumer holds nothing yet); a position past
        # their version has read them. Any other may have missed one: refused, to read from the start.
        # (At their very version, a position may have read them all or not: refused too, to be safe.)
        if since != START and since.version <= purged:
            raise SinceTooOld(since.version, purged)
        since = dataclasses.replace(since, purged=purged)
    rows = _rows(school, collections)
    after = tuple_(rows.c.version, rows.c.collection, rows.c.sourcedId) > tuple_(
        literal(since.version, BigInteger), literal(since.collection, Text), literal(since.sourced_id, Text)
    )
    stmt = (
        select(rows)
        .where(after, rows.c.version < horizon)
        .order_by(rows.c.version, rows.c.collection, rows.c.sourcedId)
        .limit(limit)
    )
    found = list((await session.execute(stmt)).all())
    following = since
    if found:
        last = found[-1]
        following = Cursor(last.version, last.collection, last.sourcedId, since.purged)
    pupils = sorted({str(r.pupil_id) for r in found if r.pupil_id is not None})
    if pupils:
        await emit(session, BULK_PUPIL_READ, detail={"pupil_ids": pupils, "via": via})
    return Feed(found, following)

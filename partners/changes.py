"""The roster change feed for partners (issue 14): every change to a person or a class, in version order,
with deactivations as tombstones, never skipping a change that commits late.

Each row of ``staff``, ``pupils``, ``contacts`` and ``groups`` carries ``changed_version``, stamped by a
database trigger on every insert and update (so no writer can forget it): the writer's transaction id
plus a constant above every version of the first design (migration 0015). No lock and no read, so roster
writers of one school never queue behind each other (the first design, 0011, took each version from the
school's row in ``roster_change_heads``, locked until the writer committed: one school's writes queued,
and under load timed out). Versions are handed out in the order the writers started, not the order they
commit, so the feed serves only the versions below ``roster_change_horizon()``, read first in a
statement of its own: the oldest transaction id still held by a transaction of this database, or the
first not yet assigned. A change that has not committed yet is at or above the horizon, and so is every
later one: a consumer that has read up to N never misses a change by asking for versions after N. A
long transaction (an import) holds the feed back while it runs; nothing is skipped.

A consumer pages with the opaque ``next`` it is given (the last ``(version, collection, sourcedId)``,
keyset); a row changed twice is served once, at its latest version. Deleting a person is not a feed
event: people leave by deactivation (``status`` ``tobedeleted``, the tombstone); only erasure removes
rows, and an erasure must not leave the erased person's identifier behind in a feed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import UUID, BigInteger, Text, case, cast, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from audit.queries import BULK_PUPIL_READ
from common.events import emit
from models import Contact, Group, Pupil, Staff
from partners.oneroster.resources import served_persons
from roster.reading import SchoolRef
from roster.records import key
from tenants.scoping import in_school

FED = (("users", Staff, "source_id"), ("users", Pupil, "source_id"), ("users", Contact, "source_id"),
       ("classes", Group, "external_id"))  # fmt: skip


class BadCursor(ValueError):
    """``since`` is neither a version nor a cursor this feed gave out."""


@dataclass(frozen=True)
class Cursor:
    version: int
    collection: str = ""
    sourced_id: str = ""

    def encode(self) -> str:
        raw = json.dumps([self.version, self.collection, self.sourced_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """A whole number N (every change of version N and later) or a ``next`` this feed returned."""
        if text.isdigit() and len(text) <= 19:
            return cls(int(text))
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, RecursionError):
            raise BadCursor(text) from None
        if (
            not isinstance(raw, list)
            or len(raw) != 3
            or not isinstance(raw[0], int)
            or not all(isinstance(v, str) for v in raw[1:])
        ):
            raise BadCursor(text)
        return cls(raw[0], raw[1], raw[2])


@dataclass(frozen=True)
class Feed:
    changes: list[Any]
    next: Cursor


def _rows(school: SchoolRef) -> Any:
    parts: list[Any] = []
    for collection, model, column in FED:
        pupil = model.id if model is Pupil else literal(None)
        parts.append(
            select(
                col(model.changed_version).label("version"),
                literal(collection, Text).label("collection"),
                key(model, column).label("sourcedId"),
                case((model.active, "active"), else_="tobedeleted").label("status"),
                cast(pupil, UUID(as_uuid=True)).label("pupil_id"),
            ).where(in_school(model, school.id), served_persons(model))
        )
    return union_all(*parts).subquery("changes")


async def read(session: AsyncSession, school: SchoolRef, since: Cursor, limit: int) -> Feed:
    """The changes after ``since`` and below the horizon (the versions no transaction still running can
    be given: :mod:`partners.changes`), oldest first, at most ``limit``; the pupils among them are
    recorded for the pupil access report. Two statements: the horizon first, then the rows, in a later
    snapshot."""
    horizon = (await session.execute(select(func.roster_change_horizon()))).scalar_one()
    rows = _rows(school)
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
        following = Cursor(last.version, last.collection, last.sourcedId)
    pupils = [str(r.pupil_id) for r in found if r.pupil_id is not None]
    if pupils:
        await emit(session, BULK_PUPIL_READ, detail={"pupil_ids": pupils, "via": "oneroster changes"})
    return Feed(found, following)

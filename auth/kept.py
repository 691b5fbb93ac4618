"""Principals a server keeps between a caller's requests, and the versions that say they are still current.

Reading a caller's principal (``auth.principal``: the account, the session, the role's scopes, the documents
owed, consent) was most of the database's work for a small request. A server now keeps each principal it
read with the versions it was read at (ADR 13, twelfth pass; migration 0033):

* the school's ``principal_epoch``, raised as it commits by every transaction that wrote to a table the
  principal is read from, other than the account and the session;
* the account's and the session's row versions.

Each request sends the versions it holds with ``app_enter_school`` (still the request's one round trip),
which answers "kept" only when all three are what the database holds now and the session has not expired;
otherwise it reads the principal again, and that replaces the one kept. So a write through any server (or
by hand) reaches the very next request at every server, as it did when nothing was kept.

Time is the principal's other input: a kept principal is offered only from the instant it was read until
its ``valid_until`` (the session's expiry, or the next policy document's ``effective_from``, whichever is
first) and on the London date it was read for (the age-13 rule of the documents owed,
:func:`auth.agreements.born_after`).

Nothing is kept on Citus, where the request reads its principal with separate statements (ADR 19).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auth.principal import Principal

Key = tuple[uuid.UUID, uuid.UUID, uuid.UUID]
"""(school, account, session): a verified access token's."""

Versions = tuple[int, int, int]
"""(the school's principal epoch, the account row's version, the session row's version)."""


@dataclass(frozen=True, slots=True)
class Kept:
    principal: Principal
    versions: Versions
    read_at: datetime
    valid_until: datetime
    born_after: date


class KeptPrincipals:
    """A server's kept principals, at most ``capacity`` of them (the oldest kept is dropped first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._kept: dict[Key, Kept] = {}
        self.outcomes = {"kept": 0, "changed": 0, "read": 0}
        """Signed-in callers' requests by how their principal was had: ``kept`` (the one kept, confirmed by
        the database), ``changed`` (the one kept was no longer current: read again), ``read`` (none to
        offer: none kept, or kept too long). ``/metrics`` shows them (server/metrics.py)."""

    def offer(self, key: Key, now: datetime, born_after: date) -> Kept | None:
        """The principal kept for ``key`` if it may still be current at ``now``: its versions are then sent
        for the database to confirm."""
        kept = self._kept.get(key)
        if kept is None or not kept.read_at <= now < kept.valid_until or kept.born_after != born_after:
            return None
        return kept

    def confirmed(self, kept: Kept) -> Principal:
        self.outcomes["kept"] += 1
        return kept.principal

    def keep(self, key: Key, kept: Kept | None, *, offered: bool) -> None:
        """Keep what was read now for ``key`` (``offered``: instead of the one kept, which had changed); None
        (no principal: refused) forgets it."""
        self.outcomes["changed" if offered else "read"] += 1
        if kept is None:
            self._kept.pop(key, None)
            return
        if self._kept.pop(key, None) is None and len(self._kept) >= self.capacity:
            del self._kept[next(iter(self._kept))]
        self._kept[key] = kept

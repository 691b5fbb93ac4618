"""Remembered positions of the keyed plan (:mod:`partners.oneroster.users`): OneRoster pages by ``offset``,
and an offset costs every row before it; a consumer paging through a school asks for offset 0, then
``limit``, then ``2 * limit``... (the ``Link: rel="next"`` it was given). So after serving the page that
ends at offset N with sourcedId S, the provider remembers "offset N starts after S", and the total, and
the next page starts at S through the index instead of counting N rows again.

A remembered position is only as good as the roster it was read from: it is stamped with the school's
roster version (``roster_change_heads``), which every write to a person, every removal of one and every
restriction of processing bumps (migrations 0011, 0014), and which the page statement reads in its own
snapshot. A page read at another version is discarded and read again by offset, with its total. So a
position never outlives the roster it describes, and a response is the same as counting the offset afresh.

Positions live in the server process (each instance learns its own), bounded: at most
:data:`MAX_LISTINGS` listings (school and collection), least recently used dropped first, each holding
at most :data:`MAX_POSITIONS` offsets.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_LISTINGS = 512
MAX_POSITIONS = 2048


@dataclass
class Listing:
    stamp: int
    total: int
    after: dict[int, str] = field(default_factory=dict)
    """offset: the sourcedId the page at that offset starts after."""


class Positions:
    """The remembered positions of every listing this process served."""

    def __init__(self) -> None:
        self._listings: OrderedDict[tuple[uuid.UUID, str], Listing] = OrderedDict()

    def get(self, school_id: uuid.UUID, collection: str) -> Listing | None:
        listing = self._listings.get((school_id, collection))
        if listing is not None:
            self._listings.move_to_end((school_id, collection))
        return listing

    def start(self, school_id: uuid.UUID, collection: str, stamp: int, total: int) -> Listing:
        listing = Listing(stamp, total)
        self._listings[(school_id, collection)] = listing
        self._listings.move_to_end((school_id, collection))
        while len(self._listings) > MAX_LISTINGS:
            self._listings.popitem(last=False)
        return listing

    @staticmethod
    def remember(listing: Listing, offset: int, after: str) -> None:
        if offset in listing.after or len(listing.after) < MAX_POSITIONS:
            listing.after[offset] = after

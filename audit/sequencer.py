"""The sequencer: numbers a school's committed entries, chains them, grows its Merkle tree, signs its head.

Requests only insert their entries (pending: no ``seq``). :func:`sequence_schools` takes each school's
pending entries in insertion order, gives them the next ``seq`` numbers, their hash in the school's chain
(``audit.chain``) and their leaves in its Merkle tree (``audit.merkle``), moves ``audit_heads`` (the last
entry and the tree's right edge) and stores a signed tree head, for up to :data:`TOGETHER` schools in one
transaction (:func:`sequence_school` for one). One sequencer at a time per school, across every server
instance and the jobs runner: the transaction takes each school's advisory lock with
``pg_try_advisory_xact_lock`` and leaves a school another holds to it.

Only committed entries are visible to the sequencer, so an entry is sequenced exactly when its request
committed; a crash between the commit and the sequencing loses nothing (the entries wait, pending, for
the next run: the server's interval or ``schoolgraph jobs run``).

:class:`AuditSequencer` runs inside the server (started by the app's lifespan): woken after each commit
that recorded something, and every few seconds to sweep schools with pending entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import DateTime, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, BYTEA, INTEGER, TEXT, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.chain import GENESIS, canonical, chained_hash
from audit.merkle import Frontier, head_payload, leaf_hash, leaf_of
from audit.spool import AuditSpool
from audit.store import PENDING_COLUMNS, stream_entries
from auth.tokens import SigningKeys
from common.clock import Clock
from common.faults import database_unavailable
from models import AuditEntry, AuditHead, AuditTreeHead, School
from tenants.context import bind, on_citus
from tenants.scoping import among_schools, in_schools

log = logging.getLogger("schoolgraph.audit")

BATCH = 2000
"""Pending entries read in one transaction at most (one signed tree head per school and transaction)."""
TOGETHER = 100
"""Schools sequenced in one transaction at most (its binding, its locks and its statement grow with them)."""
HEAD_TYPE = "audit-tree-head+jws"

_TRY_LOCKS = text(
    "SELECT s FROM unnest(CAST(:schools AS uuid[])) AS s"
    " WHERE pg_try_advisory_xact_lock(hashtextextended('audit:' || s::text, 0))"
).bindparams(bindparam("schools", type_=ARRAY(UUID(as_uuid=True))))
"""The schools of ``:schools`` whose sequencing lock this transaction took (``audit:<school id>``, held until it
ends); a school another transaction holds is not returned. A statement of its own, before the reads: under
READ COMMITTED the transaction's later statements then see whatever the previous holder committed."""

_SEQUENCE = text(
    "UPDATE audit_log SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
    " FROM unnest(:ids, :seqs, :prev_hashes, :hashes) AS v(id, seq, prev_hash, hash)"
    " WHERE audit_log.school_id = :school_id AND audit_log.id = v.id AND audit_log.seq IS NULL"
).bindparams(
    bindparam("ids", type_=ARRAY(BIGINT)),
    bindparam("seqs", type_=ARRAY(BIGINT)),
    bindparam("prev_hashes", type_=ARRAY(BYTEA)),
    bindparam("hashes", type_=ARRAY(BYTEA)),
)
"""One school's batch onto its pending entries, one array per column (Citus: a router statement)."""

_SEQUENCE_AND_SIGN = text(
    "WITH sequenced AS ("
    " UPDATE audit_log SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
    " FROM unnest(CAST(:entry_schools AS uuid[]), CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]),"
    " CAST(:prev_hashes AS bytea[]), CAST(:hashes AS bytea[])) AS v(school_id, id, seq, prev_hash, hash)"
    " WHERE audit_log.school_id = v.school_id AND audit_log.id = v.id AND audit_log.seq IS NULL"
    " RETURNING 1"
    "), head AS ("
    " INSERT INTO audit_heads (school_id, seq, hash, frontier)"
    " SELECT h.school_id, h.seq, h.hash, (CAST(:frontiers AS bytea[]))[h.first:h.last]"
    " FROM unnest(CAST(:schools AS uuid[]), CAST(:sizes AS bigint[]), CAST(:chain_hashes AS bytea[]),"
    " CAST(:firsts AS int[]), CAST(:lasts AS int[])) AS h(school_id, seq, hash, first, last)"
    " ON CONFLICT (school_id) DO UPDATE"
    " SET seq = excluded.seq, hash = excluded.hash, frontier = excluded.frontier"
    " RETURNING 1"
    ") INSERT INTO audit_tree_heads (school_id, tree_size, root_hash, chain_hash, signed_at, signature)"
    " SELECT t.school_id, t.tree_size, t.root_hash, t.chain_hash, :signed_at, t.signature"
    " FROM unnest(CAST(:schools AS uuid[]), CAST(:sizes AS bigint[]), CAST(:roots AS bytea[]),"
    " CAST(:chain_hashes AS bytea[]), CAST(:signatures AS text[]))"
    " AS t(school_id, tree_size, root_hash, chain_hash, signature)"
).bindparams(
    bindparam("entry_schools", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("ids", type_=ARRAY(BIGINT)),
    bindparam("seqs", type_=ARRAY(BIGINT)),
    bindparam("prev_hashes", type_=ARRAY(BYTEA)),
    bindparam("hashes", type_=ARRAY(BYTEA)),
    bindparam("frontiers", type_=ARRAY(BYTEA)),
    bindparam("schools", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("sizes", type_=ARRAY(BIGINT)),
    bindparam("chain_hashes", type_=ARRAY(BYTEA)),
    bindparam("firsts", type_=ARRAY(INTEGER)),
    bindparam("lasts", type_=ARRAY(INTEGER)),
    bindparam("roots", type_=ARRAY(BYTEA)),
    bindparam("signatures", type_=ARRAY(TEXT)),
    bindparam("signed_at", type_=DateTime(timezone=True)),
)
"""Plain PostgreSQL: every batch of the transaction (one or many schools') in one statement: the entries'
numbers and hashes, each school's head (its frontier a slice of one array: the frontiers' lengths differ)
and its signed tree head. One round trip however many schools a run sequences."""


@dataclass
class _Chained:
    """One school's batch, numbered and chained, with its new head and signed tree head."""

    school_id: uuid.UUID
    ids: list[int]
    seqs: list[int]
    prev_hashes: list[bytes]
    hashes: list[bytes]
    head: AuditHead
    tree: AuditTreeHead


def _chain(
    school_id: uuid.UUID,
    pending: Sequence[Any],
    state: tuple[int, bytes, Frontier],
    keys: SigningKeys,
    now: datetime,
) -> _Chained:
    """Number ``pending`` (the school's next entries, in insertion order) after ``state`` (its head), chain
    them, append them to its tree and sign the new tree head."""
    seq, prev, frontier = state
    ids, seqs, prev_hashes, hashes = [], [], [], []
    for row in pending:
        seq += 1
        body = canonical(SimpleNamespace(**row._mapping, seq=seq))  # once, for the chain and the tree
        digest = chained_hash(prev, body)
        frontier.append(leaf_of(body))
        ids.append(row.id)
        seqs.append(seq)
        prev_hashes.append(prev)
        hashes.append(digest)
        prev = digest
    root = frontier.root()
    payload = head_payload(school_id=school_id, tree_size=seq, root_hash=root, chain_hash=prev, signed_at=now)
    return _Chained(
        school_id,
        ids,
        seqs,
        prev_hashes,
        hashes,
        AuditHead(school_id=school_id, seq=seq, hash=prev, frontier=frontier.hashes),
        AuditTreeHead(
            school_id=school_id,
            tree_size=seq,
            root_hash=root,
            chain_hash=prev,
            signed_at=now,
            signature=keys.sign_jws(payload, typ=HEAD_TYPE),
        ),
    )


def _arrays(batches: Sequence[_Chained], now: datetime) -> dict[str, Any]:
    """:data:`_SEQUENCE_AND_SIGN`'s parameters for these batches."""
    values: dict[str, Any] = {
        name: []
        for name in (
            "entry_schools", "ids", "seqs", "prev_hashes", "hashes", "frontiers",
            "schools", "sizes", "chain_hashes", "firsts", "lasts", "roots", "signatures",
        )
    }  # fmt: skip
    for batch in batches:
        values["entry_schools"] += [batch.school_id] * len(batch.ids)
        values["ids"] += batch.ids
        values["seqs"] += batch.seqs
        values["prev_hashes"] += batch.prev_hashes
        values["hashes"] += batch.hashes
        frontier = batch.head.frontier or []
        values["firsts"].append(len(values["frontiers"]) + 1)  # PostgreSQL's arrays count from 1
        values["frontiers"] += frontier
        values["lasts"].append(len(values["frontiers"]))
        values["schools"].append(batch.school_id)
        values["sizes"].append(batch.head.seq)
        values["chain_hashes"].append(batch.head.hash)
        values["roots"].append(batch.tree.root_hash)
        values["signatures"].append(batch.tree.signature)
    return {**values, "signed_at": now}


async def _write(session: AsyncSession, batches: Sequence[_Chained], now: datetime) -> None:
    """Write sequenced batches in the session's transaction: on plain PostgreSQL one statement for all
    (:data:`_SEQUENCE_AND_SIGN`); on Citus three per school (a data-modifying CTE across distributed tables
    is not a plain router query there)."""
    connection = await session.connection()
    if not on_citus(connection):
        await connection.execute(_SEQUENCE_AND_SIGN, _arrays(batches, now))
        return
    for batch in batches:
        await session.execute(
            _SEQUENCE,
            {
                "school_id": batch.school_id,
                "ids": batch.ids,
                "seqs": batch.seqs,
                "prev_hashes": batch.prev_hashes,
                "hashes": batch.hashes,
            },
        )
        head = batch.head
        await session.execute(
            pg_insert(AuditHead)
            .values(school_id=head.school_id, seq=head.seq, hash=head.hash, frontier=head.frontier)
            .on_conflict_do_update(
                index_elements=["school_id"],
                set_={"seq": head.seq, "hash": head.hash, "frontier": head.frontier},
            )
        )
        session.add(batch.tree)


@dataclass(frozen=True)
class Sequenced:
    school_id: uuid.UUID
    entries: int
    """Entries sequenced in this run."""
    tree_size: int
    """The school's tree size after it."""
    busy: bool = False
    """Another sequencer held the school: nothing was done here."""


@dataclass
class Sequencing:
    """A run over several schools (:func:`sequence_schools`)."""

    done: list[Sequenced] = field(default_factory=list)
    failed: dict[uuid.UUID, Exception] = field(default_factory=dict)
    """Schools whose state could not be sequenced (a head that does not match its entries), with why;
    their entries stay pending."""


async def _heads(
    session: AsyncSession, schools: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, bytes, Frontier]]:
    """Each school's sequencer state; the tree's right edge rebuilt from the entries when it is missing
    (entries chained before the Merkle tree existed)."""
    rows = {
        row[0]: row
        for row in await session.execute(
            select(AuditHead.school_id, AuditHead.seq, AuditHead.hash, AuditHead.frontier).where(
                among_schools(AuditHead, schools)
            )
        )
    }
    states: dict[uuid.UUID, tuple[int, bytes, Frontier]] = {}
    for school_id in schools:
        row = rows.get(school_id)
        if row is None:
            states[school_id] = (0, GENESIS, Frontier())
            continue
        seq, digest, hashes = int(row[1]), bytes(row[2]), row[3]
        if hashes is not None:
            states[school_id] = (seq, digest, Frontier(seq, [bytes(h) for h in hashes]))
            continue
        frontier = Frontier()
        async for entry in stream_entries(session, school_id, upto=seq):
            frontier.append(leaf_hash(entry))
        if frontier.size != seq:
            raise RuntimeError(f"audit log of school {school_id}: {frontier.size} entries up to head {seq}")
        states[school_id] = (seq, digest, frontier)
    return states


async def _sequence_together(
    engine: AsyncEngine,
    schools: Sequence[uuid.UUID],
    keys: SigningKeys,
    *,
    now: datetime,
    batch: int,
    progress: dict[uuid.UUID, Sequenced],
) -> None:
    """Sequence the pending entries of ``schools`` together: each transaction locks every school it can, reads
    their pending entries (``batch`` at most, by school and insertion order) and their heads, and writes every
    school's batch, head and signed tree head in one statement, so a run costs the same few round trips
    however many schools it finds. ``progress`` holds each school's result so far, updated after each commit
    (a later transaction's failure leaves the earlier ones' results true)."""
    # Python orders uuids as PostgreSQL does: by their 16 bytes, the most significant first.
    remaining = sorted(schools)
    while remaining:
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, remaining)
            locked = set((await session.execute(_TRY_LOCKS, {"schools": remaining})).scalars())
            held = [school for school in remaining if school in locked]
            pending: Sequence[Any] = []
            if held:
                pending = (
                    await session.execute(
                        select(*PENDING_COLUMNS)
                        .where(among_schools(AuditEntry, held), AuditEntry.seq.is_(None))  # type: ignore[union-attr]
                        .order_by(AuditEntry.school_id, AuditEntry.id)
                        .limit(batch)
                    )
                ).all()
            grouped: dict[uuid.UUID, list[Any]] = {}
            for row in pending:
                grouped.setdefault(row.school_id, []).append(row)
            states = await _heads(session, held) if held else {}
            batches = [_chain(school, rows, states[school], keys, now) for school, rows in grouped.items()]
            if batches:
                await _write(session, batches, now)
        for school in remaining:
            before = progress.get(school, Sequenced(school, 0, 0))
            if school not in locked:  # another sequencer holds it: left to that one
                progress[school] = replace(before, busy=before.entries == 0)
            else:
                done = len(grouped.get(school, ()))
                progress[school] = Sequenced(school, before.entries + done, states[school][0] + done)
        if len(pending) < batch:
            return
        last = pending[-1].school_id  # it may have more; the schools after it were not read
        remaining = [school for school in held if school >= last]


async def sequence_school(
    engine: AsyncEngine, school_id: uuid.UUID, keys: SigningKeys, *, now: datetime, batch: int = BATCH
) -> Sequenced:
    """Sequence every pending entry of the school, ``batch`` at a time (one transaction and one signed
    tree head per batch). Returns at once, ``busy``, when another sequencer holds the school."""
    progress: dict[uuid.UUID, Sequenced] = {}
    await _sequence_together(engine, [school_id], keys, now=now, batch=batch, progress=progress)
    return progress[school_id]


async def sequence_schools(
    engine: AsyncEngine, schools: Iterable[uuid.UUID], keys: SigningKeys, *, now: datetime, batch: int = BATCH
) -> Sequencing:
    """Sequence every pending entry of these schools, :data:`TOGETHER` at a time in each transaction (on
    Citus one school at a time, so that each transaction stays on one school's shards). When a group's
    transaction fails short of the database being unreachable (one school's head that does not match its
    entries), its schools are sequenced one at a time, so that one school's broken state holds back no other;
    the school that fails alone is in ``failed``, its entries left pending. A school another sequencer holds
    is ``busy``. A lost connection is raised."""
    outcome = Sequencing()
    progress: dict[uuid.UUID, Sequenced] = {}
    ordered = sorted(set(schools))
    size = 1 if on_citus(engine) else TOGETHER
    for start in range(0, len(ordered), size):
        group = ordered[start : start + size]
        try:
            await _sequence_together(engine, group, keys, now=now, batch=batch, progress=progress)
            continue
        except Exception as error:
            if database_unavailable(error):
                raise
            if len(group) == 1:
                outcome.failed[group[0]] = error
                continue
        for school in group:
            try:
                await _sequence_together(engine, [school], keys, now=now, batch=batch, progress=progress)
            except Exception as error:
                if database_unavailable(error):
                    raise
                outcome.failed[school] = error
    outcome.done = [
        progress[school] for school in ordered if school in progress and school not in outcome.failed
    ]
    return outcome


_SWEEP_CHUNK = 500


async def pending_schools(engine: AsyncEngine) -> list[uuid.UUID]:
    """The schools with pending entries (:func:`pending`)."""
    return (await pending(engine))[0]


async def pending(engine: AsyncEngine) -> tuple[list[uuid.UUID], datetime | None]:
    """The schools with pending entries, and when the oldest pending entry occurred (None: nothing
    pending), read through row-level security like everything else: the transaction is bound to a chunk of
    schools at a time, and the partial index of pending entries answers."""
    found: list[uuid.UUID] = []
    oldest: datetime | None = None
    async with AsyncSession(engine) as session, session.begin():
        everyone = list((await session.execute(select(School.id).order_by(School.id))).scalars())
        for start in range(0, len(everyone), _SWEEP_CHUNK):
            chunk = everyone[start : start + _SWEEP_CHUNK]
            await bind(session, chunk)
            rows = await session.execute(
                select(AuditEntry.school_id, func.min(AuditEntry.occurred_at))
                .where(in_schools(AuditEntry, chunk), AuditEntry.seq.is_(None))  # type: ignore[union-attr]
                .group_by(AuditEntry.school_id)
            )
            for school, occurred in rows.all():
                found.append(school)
                oldest = occurred if oldest is None else min(oldest, occurred)
    return found, oldest


async def sequence_all(
    engine: AsyncEngine, keys: SigningKeys, *, now: datetime, spool: AuditSpool | None = None
) -> Sequencing:
    """Sequence every school with pending entries (``schoolgraph audit sequence``), after replaying
    ``spool``'s entries into their logs."""
    if spool is not None:
        await spool.replay(engine)
    return await sequence_schools(engine, await pending_schools(engine), keys, now=now)


class AuditSequencer:
    """The sequencer inside a server: a background task woken after commits and every ``interval``.

    :meth:`wake` only notes the schools and sets an event (cheap, on the request path, after the commit);
    the task sequences them a moment later (``settle``, a second), so a burst of requests makes one tree
    head: at most about one head a second per school and instance, however busy the school.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        keys: SigningKeys,
        clock: Clock,
        *,
        interval: float = 5.0,
        settle: float = 1.0,
        spool: AuditSpool | None = None,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.engine, self.keys, self.clock = engine, keys, clock
        self.spool = spool
        """Failed requests' entries the database could not take: replayed first, once it answers."""
        self.on_lag = on_lag
        """Told, at each sweep, how many seconds the oldest pending entry has waited (0: none waits)."""
        self.interval, self.settle = interval, settle
        self._dirty: set[uuid.UUID] = set()
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self, schools: Iterable[uuid.UUID]) -> None:
        self._dirty.update(schools)
        if self._dirty:
            self._event.set()

    def start(self) -> None:
        if self._task is None:
            self._event = asyncio.Event()
            if self._dirty:
                self._event.set()
            self._task = asyncio.create_task(self._run(), name="audit-sequencer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            sweep = False
            try:
                await asyncio.wait_for(self._event.wait(), self.interval)
                await asyncio.sleep(self.settle)
            except TimeoutError:
                sweep = True
            self._event.clear()
            schools, self._dirty = self._dirty, set()
            try:
                if self.spool is not None and self.spool.files():
                    schools |= (await self.spool.replay(self.engine)).schools
                if sweep:
                    waiting, oldest = await pending(self.engine)
                    schools |= set(waiting)
                    if self.on_lag is not None:
                        lag = 0.0 if oldest is None else (self.clock.now() - oldest).total_seconds()
                        self.on_lag(max(lag, 0.0))
                outcome = await sequence_schools(self.engine, schools, self.keys, now=self.clock.now())
                for school, error in outcome.failed.items():
                    # One school's broken state (a head that does not match its entries) is logged and left
                    # pending; it does not hold back the other schools.
                    log.error("the audit sequencer failed for school %s", school, exc_info=error)
                self._dirty |= set(outcome.failed)
                # A school another instance holds: look again next time.
                self._dirty |= {done.school_id for done in outcome.done if done.busy}
            except asyncio.CancelledError:
                raise
            except Exception:
                # The entries stay pending and are picked up by the next sweep (or `jobs run`).
                log.exception("the audit sequencer failed; pending entries wait for the next run")
                self._dirty |= schools

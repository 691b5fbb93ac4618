"""The sequencer: numbers a school's committed entries, chains them, grows its Merkle tree, signs its head.

Requests only insert their entries (pending: no ``seq``). :func:`sequence_school` takes the school's
pending entries in insertion order, gives them the next ``seq`` numbers, their hash in the school's chain
(``audit.chain``) and their leaves in its Merkle tree (``audit.merkle``), moves ``audit_heads`` (the last
entry and the tree's right edge) and stores a signed tree head, all in one transaction. One sequencer at a
time per school, across every server instance and the jobs runner: the transaction takes the school's
advisory lock with ``pg_try_advisory_xact_lock`` and, when another holds it, leaves the school to it.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, BYTEA
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
from tenants.scoping import in_school, in_schools

log = logging.getLogger("schoolgraph.audit")

BATCH = 2000
HEAD_TYPE = "audit-tree-head+jws"

_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")

_SEQUENCE_BATCH = (
    "UPDATE audit_log SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
    " FROM unnest(:ids, :seqs, :prev_hashes, :hashes) AS v(id, seq, prev_hash, hash)"
    " WHERE audit_log.school_id = :school_id AND audit_log.id = v.id AND audit_log.seq IS NULL"
)
"""A batch's sequence numbers and hashes onto its pending entries: one array per column."""

_BATCH_PARAMETERS = (
    bindparam("ids", type_=ARRAY(BIGINT)),
    bindparam("seqs", type_=ARRAY(BIGINT)),
    bindparam("prev_hashes", type_=ARRAY(BYTEA)),
    bindparam("hashes", type_=ARRAY(BYTEA)),
)

_SEQUENCE = text(_SEQUENCE_BATCH).bindparams(*_BATCH_PARAMETERS)


_SEQUENCE_AND_SIGN = text(
    f"WITH sequenced AS ({_SEQUENCE_BATCH} RETURNING 1"  # noqa: S608 - the module's own constants
    "), head AS ("
    " INSERT INTO audit_heads (school_id, seq, hash, frontier) VALUES (:school_id, :seq, :hash, :frontier)"
    " ON CONFLICT (school_id) DO UPDATE"
    " SET seq = excluded.seq, hash = excluded.hash, frontier = excluded.frontier"
    " RETURNING 1"
    ") INSERT INTO audit_tree_heads (school_id, tree_size, root_hash, chain_hash, signed_at, signature)"
    " VALUES (:school_id, :seq, :root_hash, :hash, :signed_at, :signature)"
).bindparams(
    *_BATCH_PARAMETERS,
    bindparam("hash", type_=BYTEA),
    bindparam("frontier", type_=ARRAY(BYTEA)),
    bindparam("root_hash", type_=BYTEA),
)
"""Plain PostgreSQL: the batch's entries, the head and the signed tree head in one statement (one round
trip instead of three: the sequencer runs about once a second per busy school and instance)."""


async def _write(
    session: AsyncSession,
    school_id: uuid.UUID,
    entries: dict[str, list[Any]],
    head: AuditHead,
    tree: AuditTreeHead,
) -> None:
    """Write a sequenced batch: the entries' ``seq``, ``prev_hash`` and ``hash``, the school's head and its
    signed tree head, in the session's transaction. On Citus, three statements (a data-modifying CTE
    across distributed tables is not a plain router query there)."""
    connection = await session.connection()
    if not on_citus(connection):
        await connection.execute(
            _SEQUENCE_AND_SIGN,
            {
                **entries,
                "school_id": school_id,
                "seq": head.seq,
                "hash": head.hash,
                "frontier": head.frontier,
                "root_hash": tree.root_hash,
                "signed_at": tree.signed_at,
                "signature": tree.signature,
            },
        )
        return
    await session.execute(_SEQUENCE, {**entries, "school_id": school_id})
    await session.execute(
        pg_insert(AuditHead)
        .values(school_id=school_id, seq=head.seq, hash=head.hash, frontier=head.frontier)
        .on_conflict_do_update(
            index_elements=["school_id"],
            set_={"seq": head.seq, "hash": head.hash, "frontier": head.frontier},
        )
    )
    session.add(tree)


@dataclass(frozen=True)
class Sequenced:
    school_id: uuid.UUID
    entries: int
    """Entries sequenced in this run."""
    tree_size: int
    """The school's tree size after it."""
    busy: bool = False
    """Another sequencer held the school: nothing was done here."""


async def _head(session: AsyncSession, school_id: uuid.UUID) -> tuple[int, bytes, Frontier]:
    """The school's sequencer state; the tree's right edge rebuilt from the entries when it is missing
    (entries chained before the Merkle tree existed)."""
    row = (
        await session.execute(
            select(AuditHead.seq, AuditHead.hash, AuditHead.frontier).where(in_school(AuditHead, school_id))
        )
    ).one_or_none()
    if row is None:
        return 0, GENESIS, Frontier()
    seq, digest, hashes = int(row[0]), bytes(row[1]), row[2]
    if hashes is not None:
        return seq, digest, Frontier(seq, [bytes(h) for h in hashes])
    frontier = Frontier()
    async for entry in stream_entries(session, school_id, upto=seq):
        frontier.append(leaf_hash(entry))
    if frontier.size != seq:
        raise RuntimeError(f"audit log of school {school_id}: {frontier.size} entries up to head {seq}")
    return seq, digest, frontier


async def sequence_school(
    engine: AsyncEngine, school_id: uuid.UUID, keys: SigningKeys, *, now: datetime, batch: int = BATCH
) -> Sequenced:
    """Sequence every pending entry of the school, ``batch`` at a time (one transaction and one signed
    tree head per batch). Returns at once, ``busy``, when another sequencer holds the school."""
    total, size = 0, 0
    while True:
        async with AsyncSession(engine) as session, session.begin():
            await bind(session, [school_id])
            if not (await session.execute(_TRY_LOCK, {"key": f"audit:{school_id}"})).scalar_one():
                return Sequenced(school_id, total, size, busy=total == 0)
            pending = (
                await session.execute(
                    select(*PENDING_COLUMNS)
                    .where(in_school(AuditEntry, school_id), AuditEntry.seq.is_(None))  # type: ignore[union-attr]
                    .order_by(AuditEntry.id)
                    .limit(batch)
                )
            ).all()
            seq, prev, frontier = await _head(session, school_id)
            if not pending:
                return Sequenced(school_id, total, seq)
            ids, seqs, prevs, hashes = [], [], [], []
            for row in pending:
                seq += 1
                body = canonical(SimpleNamespace(**row._mapping, seq=seq))  # once, for the chain and the tree
                digest = chained_hash(prev, body)
                frontier.append(leaf_of(body))
                ids.append(row.id)
                seqs.append(seq)
                prevs.append(prev)
                hashes.append(digest)
                prev = digest
            root = frontier.root()
            payload = head_payload(
                school_id=school_id, tree_size=seq, root_hash=root, chain_hash=prev, signed_at=now
            )
            await _write(
                session,
                school_id,
                {"ids": ids, "seqs": seqs, "prev_hashes": prevs, "hashes": hashes},
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
        total, size = total + len(pending), seq
        if len(pending) < batch:
            return Sequenced(school_id, total, size)


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
) -> list[Sequenced]:
    """Sequence every school with pending entries (the jobs runner's step, ``schoolgraph audit
    sequence``), after replaying ``spool``'s entries into their logs."""
    if spool is not None:
        await spool.replay(engine)
    return [await sequence_school(engine, school, keys, now=now) for school in await pending_schools(engine)]


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
                for school in schools:
                    try:
                        done = await sequence_school(self.engine, school, self.keys, now=self.clock.now())
                    except Exception as error:
                        if database_unavailable(error):
                            raise
                        # One school's broken state (a head that does not match its entries) is logged
                        # and left pending; it does not hold back the other schools.
                        log.exception("the audit sequencer failed for school %s", school)
                        self._dirty.add(school)
                        continue
                    if done.busy:
                        self._dirty.add(school)  # another instance holds it: look again next time
            except asyncio.CancelledError:
                raise
            except Exception:
                # The entries stay pending and are picked up by the next sweep (or `jobs run`).
                log.exception("the audit sequencer failed; pending entries wait for the next run")
                self._dirty |= schools

"""The audit spool: where a failed request's entries wait while the database cannot take them.

A request that failed is recorded in a fresh transaction (:func:`audit.recorder.record_failed_request`);
when that transaction cannot reach the database (the fault that failed the request, often), the entries
are appended instead to a local file, and the sequencer (in the server and in ``schoolgraph jobs run``)
replays them into the school's log, or the platform log, once the database answers (LRS 5.1: all
activity, a failure included).

The files: ``<data_dir>/audit-spool/<host>-<pid>-<token>.jsonl``, one per process, one JSON line per
failed request, appended under an exclusive ``flock`` and ``fsync``'d (and the directory with it when the
file is new) before the request is answered. A line holds what the log itself would hold and nothing
more: the trail's actor (type, id, username at the time, role), request id, client address, the time,
and its events with outcome FAILED (ids, codes and the events' own details).

Replay (:meth:`AuditSpool.replay`): each file is taken under the same lock without waiting (a writer or
another replayer holding it is left for the next run), its records are written one transaction each, and
the file is removed once every record is in. Exactly once: each record carries an id of its own (the
``spool`` key of its entries' ``detail``); its transaction takes an advisory lock on that id and writes
nothing when an entry with it is already in the log (found through the log's time index: the entries keep
the request's time). So a crash in the middle of a replay, or between its last commit and the removal,
loses nothing and duplicates nothing: the next replay writes what is missing and skips the rest. A
school that no longer exists (its data destroyed since) has its record replayed into the platform log,
naming the school. A line that cannot be read (a write torn by a crash before its ``fsync``, so never
acknowledged) or a record the database refuses for another reason than a connection fault is set aside in
``<file>.rejected`` and logged, so one bad line never blocks the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.platform import PlatformTrail
from audit.platform import write as write_platform
from audit.recorder import Actor, AuditTrail, Event
from common.faults import database_unavailable
from models import AuditEntry, School
from models.platform import PlatformAuditEntry
from tenants.context import bind
from tenants.scoping import in_school

log = logging.getLogger("schoolgraph.audit")

SPOOL_DIRECTORY = "audit-spool"
"""Under the data directory: keep it on a volume that outlives the container."""
VERSION = 1
MARK = "spool"
"""The key of an entry's ``detail`` that names the spooled record it was replayed from."""

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def spool_directory(data_dir: Path) -> Path:
    return data_dir / SPOOL_DIRECTORY


@dataclass
class Replayed:
    records: int = 0
    """Records written into the logs by this replay."""
    skipped: int = 0
    """Records already in the logs (replayed before a crash, or by another replayer)."""
    rejected: int = 0
    """Lines or records set aside (unreadable, or refused by the database)."""
    files: int = 0
    """Spool files replayed completely and removed."""
    schools: set[uuid.UUID] = field(default_factory=set)
    """Schools whose logs received entries (their sequencers have work)."""


class AuditSpool:
    """The spool directory of a server or jobs runner: appends a failed request's entries, replays them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # --- writing ---------------------------------------------------------------------------------------

    def _own_file(self) -> Path:
        return self.directory / _process_file_name()

    async def add(self, trail: AuditTrail, *, now: datetime) -> str | None:
        """Spool ``trail``'s events as a failed request's (outcome FAILED), durably; the record's id (None:
        the trail had nothing to record)."""
        record = record_of(trail, now=now)
        platform = record.get("platform", {})
        if not (
            record.get("events") or any(platform.get(k) for k in ("events", "school_events", "unchained"))
        ):
            return None
        await asyncio.to_thread(self._append, record)
        return str(record["id"])

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            path = self._own_file()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                status = os.fstat(fd)
                if status.st_nlink == 0:
                    continue  # replayed and removed while we waited for the lock: start a new file
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)  # and the lock with it
            if status.st_size == 0:
                _fsync_directory(self.directory)  # the new file's name is durable too
            return

    # --- replaying -------------------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The spool files waiting to be replayed (this process's and any other's)."""
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix == ".jsonl")
        except FileNotFoundError:
            return []

    async def replay(self, engine: AsyncEngine) -> Replayed:
        """Write every spooled record into its log, exactly once, and remove the files replayed. A fault of
        the database connection stops the replay (raised; the file stays for the next run)."""
        done = Replayed()
        for path in self.files():
            with _locked(path) as fd:
                if fd is None:
                    continue  # gone, or held by a writer or another replayer: next run
                records, bad = _read(fd)
                for line in bad:
                    log.error("audit spool %s: an unreadable line set aside", path.name)
                    _set_aside(path, line)
                    done.rejected += 1
                for record in records:
                    try:
                        written = await _replay_one(engine, record)
                    except Exception as error:
                        if database_unavailable(error):
                            raise
                        log.exception("audit spool %s: record %s refused; set aside", path.name, record["id"])
                        _set_aside(path, json.dumps(record, separators=(",", ":"), sort_keys=True).encode())
                        done.rejected += 1
                        continue
                    if written is None:
                        done.skipped += 1
                    else:
                        done.records += 1
                        done.schools |= written
                path.unlink()
                _fsync_directory(self.directory)
                done.files += 1
        if done.records or done.rejected:
            log.warning(
                "audit spool: %d failed requests' entries replayed, %d already in, %d set aside",
                done.records,
                done.skipped,
                done.rejected,
            )
        return done


_process: tuple[int, str] = (0, "")


def _process_file_name() -> str:
    """This process's spool file name: one per process (a forked worker gets its own)."""
    global _process
    if _process[0] != os.getpid():
        pid = os.getpid()
        _process = (pid, f"{socket.gethostname()[:40]}-{pid}-{uuid.uuid4().hex[:8]}.jsonl")
    return _process[1]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int | None]:
    """The file open and exclusively locked, without waiting; None when it is gone or held elsewhere."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield None if os.fstat(fd).st_nlink == 0 else fd
    finally:
        os.close(fd)


def _read(fd: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The records of a locked spool file, and the lines that are not one (a torn last line included)."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    records: list[dict[str, Any]] = []
    bad: list[bytes] = []
    for line in b"".join(chunks).split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or record.get("v") != VERSION or "id" not in record:
                raise ValueError("not a spooled record")
        except ValueError:
            bad.append(line)
            continue
        records.append(record)
    return records, bad


def _set_aside(path: Path, line: bytes) -> None:
    fd = os.open(path.with_suffix(".rejected"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line.rstrip(b"\n") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- records -----------------------------------------------------------------------------------------------


def _actor(actor: Actor | None) -> dict[str, Any] | None:
    if actor is None:
        return None
    return {
        "type": actor.type,
        "id": None if actor.id is None else str(actor.id),
        "username": actor.username,
        "role": actor.role,
    }


def _actor_of(data: dict[str, Any] | None) -> Actor | None:
    if data is None:
        return None
    return Actor(data["type"], _uuid(data["id"]), data["username"], data["role"])


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _event(event: Event, record_id: str) -> dict[str, Any]:
    return {
        "action": event.action,
        "outcome": event.outcome,
        "target_type": event.target_type,
        "target_id": None if event.target_id is None else str(event.target_id),
        "detail": {**event.detail, MARK: record_id},
        "actor": _actor(event.actor),
    }


def _event_of(data: dict[str, Any]) -> Event:
    return Event(
        data["action"],
        data["outcome"],
        data["target_type"],
        _uuid(data["target_id"]),
        data["detail"],
        _actor_of(data["actor"]),
    )


def record_of(trail: AuditTrail, *, now: datetime) -> dict[str, Any]:
    """A failed request's trail as one spool record: its events with outcome FAILED, as
    :meth:`AuditTrail.write_failed` would have written them, each marked with the record's id."""
    record_id = uuid.uuid4().hex
    record: dict[str, Any] = {
        "v": VERSION,
        "id": record_id,
        "occurred_at": now.isoformat(),
        "request_id": trail.request_id,
        "client_address": trail.client_address,
        "actor": _actor(trail.actor),
    }
    events = [_event(e, record_id) for e in trail.failed()]  # a platform trail's school events turn too
    if isinstance(trail, PlatformTrail):
        record["platform"] = {
            "trust_id": None if trail.trust_id is None else str(trail.trust_id),
            "events": events,
            "school_events": [[str(s), _event(e, record_id)] for s, e in trail.school_events],
            "unchained": [[str(s), _event(e, record_id)] for s, e in trail.unchained],
        }
    else:
        record["school_id"] = str(trail.school_id)
        record["events"] = events
    return record


async def _replay_one(engine: AsyncEngine, record: dict[str, Any]) -> set[uuid.UUID] | None:
    """Write one record in a transaction of its own; None when it was in the log already. The schools
    whose logs received entries."""
    now = datetime.fromisoformat(record["occurred_at"])
    actor = _actor_of(record["actor"]) or Actor.anonymous()
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(_LOCK, {"key": f"audit-spool:{record['id']}"})
        trail: AuditTrail
        if "platform" in record:
            data = record["platform"]
            trail = PlatformTrail(
                actor=actor,
                request_id=record["request_id"],
                client_address=record["client_address"],
                trust_id=_uuid(data["trust_id"]),
            )
            trail.school_events = [(uuid.UUID(s), _event_of(e)) for s, e in data["school_events"]]
            trail.unchained = [(uuid.UUID(s), _event_of(e)) for s, e in data["unchained"]]
            events = [_event_of(e) for e in data["events"]]
        else:
            school_id = uuid.UUID(record["school_id"])
            events = [_event_of(e) for e in record["events"]]
            if await _school_exists(session, school_id):
                trail = AuditTrail(
                    actor=actor,
                    request_id=record["request_id"],
                    client_address=record["client_address"],
                    school_id=school_id,
                )
            else:  # destroyed since: the platform log, which outlives a school, names it
                trail = PlatformTrail(
                    actor=actor, request_id=record["request_id"], client_address=record["client_address"]
                )
                trail.unchained = [(school_id, e) for e in events]
                events = []
        if await _in_log(session, trail, record, now):
            return None
        if isinstance(trail, PlatformTrail):
            await write_platform(session, trail, now=now, events=events)
        else:
            await trail.write_events(session, events, now=now)
        return trail.schools()


async def _school_exists(session: AsyncSession, school_id: uuid.UUID) -> bool:
    found = await session.execute(select(literal(1)).where(School.id == school_id))
    return found.first() is not None


async def _in_log(session: AsyncSession, trail: AuditTrail, record: dict[str, Any], now: datetime) -> bool:
    """Whether the record's entries are in their log already (all of a record's entries are written in
    one transaction: one found means all are)."""
    marked = {MARK: record["id"]}
    if isinstance(trail, PlatformTrail):
        stmt: Any = select(literal(1)).where(
            PlatformAuditEntry.occurred_at == now,
            PlatformAuditEntry.request_id == trail.request_id,
            PlatformAuditEntry.detail.contains(marked),  # type: ignore[attr-defined]
        )
    else:
        assert trail.school_id is not None
        await bind(session, [trail.school_id])
        stmt = select(literal(1)).where(
            in_school(AuditEntry, trail.school_id),
            AuditEntry.occurred_at == now,
            AuditEntry.request_id == trail.request_id,
            AuditEntry.detail.contains(marked),  # type: ignore[attr-defined]
        )
    return (await session.execute(stmt.limit(1))).first() is not None

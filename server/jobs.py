"""``schoolgraph jobs run``: apply everything that is due, once.

Steps, in order: accepted novations on their effective date (LL 20), suspensions that have ended (LL-A 9.1),
licence renewals and endings (LL 15.1), renewal and price notices (LL 15.1, LL 15.2), non-payment
(LL 15.4: refuse the school until paid; restore it when paid), destruction of terminated schools' data
(LL 5.1.3, LL-A 9.3; needs the owner connection) and every copy of it purged after the handover, pupils who
turned 13 and owe their own consent (LL 6.3.3), leaving dates that have come (LL 11.1), the registry's
retention rules (LL-S2 (v)), the stored files of erased people (LL 5.1.6), subject access exports built and
purged (LL 5.1.1), the outbox (notices to Super-Users and trust admins) and, last, the audit sequencer (every
school's pending audit entries numbered, chained, added to its Merkle tree under a signed tree head:
``audit.sequencer``).

Exactly once, however many runners: each change is one transaction that first claims its row with
``SELECT ... FOR UPDATE SKIP LOCKED`` and re-checks that it is still due. A concurrent runner skips a
claimed row; once the claim commits the row is no longer due, so a later pick does not find it. Running
again finds nothing to do. An item that fails is rolled back, logged, reported, and not retried in the same
run (the next run tries again); it never stops the other items. One that lost a lock conflict with another
transaction (a deadlock between two runners) did nothing, and is claimed again (:meth:`_Run.each`).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, not_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.platform import JOBS, PlatformTrail
from audit.sequencer import pending_schools, sequence_schools
from audit.spool import AuditSpool, spool_directory
from auth.tokens import SigningKeys
from common.clock import utcnow
from common.events import attach
from common.faults import lock_conflict
from models import School
from models.licensing import DestructionRecord, Licence, Novation, Suspension
from models.platform import JobRun, OutboxMessage
from privacy import consent_at_13, erasure, exporter, leavers, retention, subject_access
from storage.files import local_store
from subscriptions import handover, licences, novation, outbox, suspension, termination
from subscriptions.outbox import MailSettings
from tenants.context import bind

log = logging.getLogger("schoolgraph.jobs")

STEPS = (
    "novations",
    "suspensions",
    "renewals",
    "renewal_notices",
    "non_payment",
    "destructions",
    "handovers",
    "consent_at_13",
    "leavers",
    "retention",
    "erasure_files",
    "subject_access",
    "outbox",
    "audit",
)


LOCK_CONFLICT_RETRIES = 5
"""How many times a step claims again after a lock conflict (:meth:`_Run.each`) before it treats the next
one as the failure of its change (or, at a claim, of the run)."""


@dataclass
class StepReport:
    step: str
    applied: list[str] = field(default_factory=list)
    """What was done, one entry per change: ``<row id>`` or ``<row id>:<what>``."""
    failed: list[str] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class JobReport:
    runner: str
    steps: list[StepReport] = field(default_factory=list)

    def step(self, name: str) -> StepReport:
        return next(s for s in self.steps if s.step == name)

    @property
    def applied(self) -> int:
        return sum(len(s.applied) for s in self.steps)

    @property
    def failed(self) -> int:
        return sum(len(s.failed) for s in self.steps)


Pick = Callable[[list[Any]], Any]
Apply = Callable[[AsyncSession, Any, PlatformTrail], Awaitable[str | None]]


@dataclass(frozen=True)
class _Run:
    engine: AsyncEngine
    owner_engine: AsyncEngine | None
    data_dir: Path
    mail: MailSettings
    now: datetime
    runner: str
    keys: SigningKeys | None = None
    leaver_retention_days: int = 0
    export_key_file: Path | None = None

    @property
    def export_key(self) -> bytes:
        """The key that seals the passwords of the exports this run builds (``privacy.exporter``)."""
        return exporter.export_key(self.data_dir, self.export_key_file)

    async def each(
        self, report: StepReport, pick: Pick, apply: Apply, *, engine: AsyncEngine | None = None
    ) -> None:
        """Claim, apply and commit due rows one at a time until none is left. A claim or a change that
        another transaction's locks failed (a deadlock, a serialization failure: :func:`lock_conflict`) was
        rolled back whole and did nothing: it is claimed again, up to :data:`LOCK_CONFLICT_RETRIES` times a
        step, since the other transaction, which went on, no longer stands in the way. On Citus a claim
        (``FOR UPDATE`` on a reference table's placements) and another runner's writes in another step can
        take the same shard locks in opposite orders; on one server, rows locked in opposite orders."""
        tried: list[Any] = []
        conflicts = 0
        while True:
            claimed: Any = None
            async with AsyncSession(engine or self.engine, expire_on_commit=False) as session:
                try:
                    async with session.begin():
                        row = (await session.execute(pick(tried))).scalar_one_or_none()
                        if row is None:
                            return
                        claimed = row.id
                        tried.append(claimed)
                        trail = PlatformTrail(
                            actor=JOBS, request_id=f"jobs:{self.runner}"[:64], client_address=None
                        )
                        attach(session, trail)
                        what = await apply(session, row, trail)
                        await trail.write(session, now=self.now)
                except Exception as error:
                    if lock_conflict(error) and conflicts < LOCK_CONFLICT_RETRIES:
                        conflicts += 1
                        if claimed is not None:
                            tried.remove(claimed)  # rolled back: still due, and this runner's to claim again
                        log.warning(
                            "jobs: %s: a lock conflict with another transaction; claiming again", report.step
                        )
                        continue
                    if claimed is None:
                        raise  # the database itself is failing: stop the run
                    log.exception("jobs: %s: %s failed", report.step, claimed)
                    report.failed.append(str(claimed))
                    continue
            if what is not None:
                report.applied.append(f"{claimed}:{what}" if what else str(claimed))

    # --- the steps ------------------------------------------------------------------------------------

    async def novations(self, report: StepReport) -> None:
        today = self.now.date()

        def pick(tried: list[Any]) -> Any:
            return _claim(
                select(Novation).where(novation.due(today)), Novation, tried, Novation.effective_date
            )

        async def apply(session: AsyncSession, row: Novation, trail: PlatformTrail) -> str:
            await novation.apply(session, row, now=self.now)  # emits novation.applied
            return ""

        await self.each(report, pick, apply)

    async def suspensions(self, report: StepReport) -> None:
        def pick(tried: list[Any]) -> Any:
            return _claim(
                select(Suspension).where(suspension.due_lift(self.now)), Suspension, tried, Suspension.ends_at
            )

        async def apply(session: AsyncSession, row: Suspension, trail: PlatformTrail) -> str:
            await suspension.lift(session, row, by=None, reason="EXPIRED", now=self.now)  # emits the lifting
            return ""

        await self.each(report, pick, apply)

    async def renewals(self, report: StepReport) -> None:
        today = self.now.date()

        def pick(tried: list[Any]) -> Any:
            return _claim(
                select(Licence).where(licences.due_renewal(today)), Licence, tried, Licence.term_end
            )

        async def apply(session: AsyncSession, row: Licence, trail: PlatformTrail) -> str:
            done = await licences.renew(session, row, today=today, now=self.now)
            trail.record("licence.renewal", target_type="Licence", target_id=row.id, detail={"done": done})
            return ",".join(done)

        await self.each(report, pick, apply)

    async def renewal_notices(self, report: StepReport) -> None:
        today = self.now.date()

        def pick(tried: list[Any]) -> Any:
            return _claim(
                select(Licence).where(licences.due_renewal_notice(today)), Licence, tried, Licence.term_end
            )

        async def apply(session: AsyncSession, row: Licence, trail: PlatformTrail) -> str:
            await licences.send_renewal_notice(session, row, today=today, now=self.now)
            trail.record("licence.renewal_notice", target_type="Licence", target_id=row.id)
            return str(row.term_end)

        await self.each(report, pick, apply)

    async def non_payment(self, report: StepReport) -> None:
        today = self.now.date()
        unpaid = licences.unpaid_condition(today)

        def pick_refuse(tried: list[Any]) -> Any:
            return _claim(select(School).where(School.status == "ACTIVE", unpaid), School, tried, School.slug)

        def pick_restore(tried: list[Any]) -> Any:
            stmt = select(School).where(
                School.status == "SUSPENDED", School.status_reason == licences.UNPAID, not_(unpaid)
            )
            return _claim(stmt, School, tried, School.slug)

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            change = await licences.settle_access(session, row.id, now=self.now)  # emits the change
            if change is None:
                return None
            status = change[0]
            if status != "ACTIVE":
                await outbox.enqueue(
                    session,
                    kind="LICENCE_UNPAID",
                    subject=f"{row.name}: access ended for non-payment",
                    body=(
                        f"An invoice for the licence covering {row.name} was not paid by its due date, so access "
                        "has ended for every user of the school (LL 15.4) until it is paid."
                    ),
                    now=self.now,
                    tenant_id=row.id,
                )
            return status.lower()

        await self.each(report, pick_refuse, apply)
        await self.each(report, pick_restore, apply)

    async def destructions(self, report: StepReport) -> None:
        if self.owner_engine is None:
            report.skipped = "needs the owner connection (DATABASE_URL)"
            return
        today = self.now.date()

        def pick(tried: list[Any]) -> Any:
            return _claim(
                select(DestructionRecord).where(termination.due(today)),
                DestructionRecord,
                tried,
                DestructionRecord.destroy_on,
            )

        async def apply(session: AsyncSession, row: DestructionRecord, trail: PlatformTrail) -> str:
            await termination.destroy(session, row, data_dir=self.data_dir, key=self.export_key, now=self.now)
            trail.for_school(
                row.tenant_id,
                "school.data_destroyed",
                target_type="DestructionRecord",
                target_id=row.id,
                detail={"rows": row.total_rows, "exportSha256": row.export_sha256},
                chain=False,
            )
            return str(row.total_rows)

        await self.each(report, pick, apply, engine=self.owner_engine)
        # After the commits: the stored files of every destroyed school (copied into its export) go too.
        async with AsyncSession(self.owner_engine) as session:
            destroyed = (
                await session.execute(
                    select(DestructionRecord.tenant_id).where(DestructionRecord.status == "DESTROYED")
                )
            ).scalars()
            for school_id in termination.purge_files(self.data_dir, list(destroyed)):
                report.applied.append(f"files:{school_id}")

    async def handovers(self, report: StepReport) -> None:
        """Every copy of a destroyed school's data purged (LL 5.1.3, LL-A 9.3): at once when its trust chose
        DELETE, after the return window otherwise; the destruction record says when."""
        today = self.now.date()

        def pick(tried: list[Any]) -> Any:
            return _claim(handover.purge_due(today), DestructionRecord, tried, DestructionRecord.destroy_on)

        async def apply(session: AsyncSession, row: DestructionRecord, trail: PlatformTrail) -> str:
            await handover.purge_copies(row, now=self.now)
            trail.record(
                "termination.copies_purged",
                target_type="DestructionRecord",
                target_id=row.id,
                detail={"handover": row.handover},
            )
            return str(row.handover or "RETURN_WINDOW_ENDED")

        await self.each(report, pick, apply)

    async def consent_at_13(self, report: StepReport) -> None:
        """Each school that is not terminated, once a run, in its own transaction bound to it: flagging is
        idempotent (a flagged pupil is not flagged again), so a concurrent runner changes nothing."""

        def pick(tried: list[Any]) -> Any:
            return _claim(select(School).where(School.status != "TERMINATED"), School, tried, School.slug)

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            await bind(session, [row.id])
            flagged = await consent_at_13.flag_turned_13(session, row.id, now=self.now)
            if not flagged:
                return None
            trail.for_school(
                row.id,
                "consent.own_consent_due",
                target_type="School",
                target_id=row.id,
                detail={"pupils": flagged},
            )
            return str(flagged)

        await self.each(report, pick, apply)

    def _schools(self, tried: list[Any]) -> Any:
        return _claim(select(School).where(School.status != "TERMINATED"), School, tried, School.slug)

    async def leavers(self, report: StepReport) -> None:
        """Leaving dates that have come (LL 11.1, LRS 7.1): each school in its own bound transaction."""

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            await bind(session, [row.id])
            left = await leavers.apply_due(session, row.id, now=self.now)
            return str(left) if left else None

        await self.each(report, self._schools, apply)

    async def retention(self, report: StepReport) -> None:
        """The registry's retention rules (LL-S2 (v)): each school's tables in its own bound transaction,
        then the platform's tables; ``<school or platform>:<table>=<rows>`` per table purged."""

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            await bind(session, [row.id])
            done = await retention.purge(session, row.id, self.now)
            erased = await retention.erase_leavers(
                session, row.id, days=self.leaver_retention_days, now=self.now
            )
            if erased:
                done["leavers_erased"] = erased
            if done:
                trail.for_school(
                    row.id, "retention.purged", target_type="School", target_id=row.id, detail=done
                )
            return ",".join(f"{table}={n}" for table, n in sorted(done.items())) or None

        await self.each(report, self._schools, apply)
        async with AsyncSession(self.engine) as session, session.begin():
            done = await retention.purge(session, None, self.now)
        report.applied += [f"platform:{table}={n}" for table, n in sorted(done.items())]

    async def erasure_files(self, report: StepReport) -> None:
        """The stored files of erased people (LL 5.1.6), removed from the store once their erasure committed:
        each school with erasures whose files are pending, in its own transaction bound to it."""
        store = local_store(self.data_dir)

        def pick(tried: list[Any]) -> Any:
            return _claim(select(School).where(School.status != "TERMINATED"), School, tried, School.slug)

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            await bind(session, [row.id])
            records = (await session.execute(erasure.pending_files(row.id).with_for_update())).scalars().all()
            removed = 0
            for record in records:
                removed += await erasure.purge_files(session, store, record, now=self.now)
            return str(removed) if records else None

        await self.each(report, pick, apply)

    async def subject_access(self, report: StepReport) -> None:
        """Subject access exports (LL 5.1.1): each school's OPEN requests built and staged, released
        archives past their download window purged, and files no live request owns (an erased person's
        export) removed; one transaction per school, bound to it."""
        store = local_store(self.data_dir)

        def pick(tried: list[Any]) -> Any:
            return _claim(select(School).where(School.status != "TERMINATED"), School, tried, School.slug)

        async def apply(session: AsyncSession, row: School, trail: PlatformTrail) -> str | None:
            await bind(session, [row.id])
            due = subject_access.scoped_open(row.id).with_for_update(skip_locked=True)
            built = [r for r in (await session.execute(due)).scalars()]
            for request in built:
                await subject_access.build(
                    session, request, data_dir=self.data_dir, store=store, key=self.export_key, now=self.now
                )
            expired = subject_access.purge_due(row.id, self.now).with_for_update(skip_locked=True)
            purged = [r for r in (await session.execute(expired)).scalars()]
            for request in purged:
                await subject_access.purge(session, request, data_dir=self.data_dir, now=self.now)
            swept = await subject_access.sweep(session, row.id, data_dir=self.data_dir)
            if not built and not purged and not swept:
                return None
            return f"built={len(built)},purged={len(purged)}" + (f",swept={swept}" if swept else "")

        await self.each(report, pick, apply)

    async def outbox(self, report: StepReport) -> None:
        def pick(tried: list[Any]) -> Any:
            return outbox.pick_unsent(tried)

        async def apply(session: AsyncSession, row: OutboxMessage, trail: PlatformTrail) -> str | None:
            if await outbox.send_one(session, self.mail, row, self.now):
                return str(row.recipients)
            report.failed.append(str(row.id))
            return None

        await self.each(report, pick, apply)

    async def audit(self, report: StepReport) -> None:
        """Replay the audit spool under the data directory (failed requests' entries the database could
        not take when they failed: ``audit.spool``), then sequence every school's pending audit entries
        (those of this run's steps included); a school another sequencer holds at the moment is left to
        it."""
        if self.keys is None:
            report.skipped = "no signing keys"
            return
        replayed = await AuditSpool(spool_directory(self.data_dir)).replay(self.engine)
        if replayed.records or replayed.rejected:
            report.applied.append(
                f"spool: {replayed.records} failed requests replayed, {replayed.rejected} set aside"
            )
        outcome = await sequence_schools(
            self.engine, await pending_schools(self.engine), self.keys, now=self.now
        )
        for school, error in outcome.failed.items():
            # A school whose log does not match its head is named, not a stop for every other school.
            log.error("jobs: audit: school %s could not be sequenced", school, exc_info=error)
            report.failed.append(str(school))
        for done in outcome.done:
            if done.entries:
                report.applied.append(f"{done.school_id}:{done.entries} entries, tree size {done.tree_size}")


def _claim(stmt: Any, model: Any, tried: list[Any], order: Any) -> Any:
    """The next due row not tried in this run, locked; rows another runner holds are skipped."""
    if tried:
        stmt = stmt.where(model.id.not_in(tried))
    return stmt.order_by(order, model.id).limit(1).with_for_update(skip_locked=True)


def runner_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def run_jobs(
    engine: AsyncEngine,
    *,
    owner_engine: AsyncEngine | None,
    data_dir: Path,
    mail: MailSettings | None = None,
    now: datetime | None = None,
    steps: Sequence[str] = STEPS,
    keys: SigningKeys | None = None,
    leaver_retention_days: int = 0,
    export_key_file: Path | None = None,
) -> JobReport:
    """Run the steps (all by default) with the runtime engine, destruction with the owner engine; the
    audit step signs tree heads with ``keys`` (skipped without them)."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown job steps: {sorted(unknown)}")
    run = _Run(
        engine,
        owner_engine,
        data_dir,
        mail or MailSettings.from_env(),
        now or utcnow(),
        runner_name(),
        keys=keys,
        leaver_retention_days=leaver_retention_days,
        export_key_file=export_key_file,
    )
    report = JobReport(runner=run.runner)
    for name in STEPS:
        if name not in steps:
            continue
        step = StepReport(name)
        report.steps.append(step)
        started = utcnow()
        await getattr(run, name)(step)
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(
                insert(JobRun).values(
                    id=uuid.uuid4(),
                    step=name,
                    runner=run.runner,
                    started_at=started,
                    finished_at=utcnow(),
                    applied=len(step.applied),
                    failed=len(step.failed),
                    detail={
                        "now": run.now.isoformat(),
                        "applied": step.applied[:500],
                        "skipped": step.skipped,
                    },
                )
            )
    return report

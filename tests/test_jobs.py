"""``schoolgraph jobs run``: everything due is applied exactly once, whether the jobs run twice in a row or
two runners run at the same time (LL 20 novations, LL-A 9.1 suspensions, LL 15.1 renewals, LL 15.4
non-payment, the Super-Users' outbox)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import URL, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import REPO_ROOT, Settings
from graph.core.relay import to_global_id
from models import AuditEntry, School, SchoolTrustMembership
from models.licensing import Invoice, Licence, Novation, Suspension
from models.platform import JobRun, OperatorAccount, OutboxMessage
from server.database import DatabaseUrls, create_engine
from server.jobs import JobReport, StepReport, _claim, _Run, run_jobs
from subscriptions.licences import CURRENT_TERMS_VERSION
from subscriptions.outbox import MailSettings
from tenants.context import bind
from tests.factories import clock
from tests.factories.databases import scratch_database
from tests.factories.schools import SchoolData, SchoolFactory
from tests.factories.trusts import TrustFactory, platform_gql, platform_login, trust_gql, trust_login


@dataclass
class Due:
    """One of each kind of due change, all falling due on ``day``."""

    day: date
    novation_id: uuid.UUID
    moving: SchoolData
    suspended: SchoolData
    licence_id: uuid.UUID
    licensed: SchoolData

    def mine(self, report: JobReport, step: str) -> list[str]:
        ids = {str(self.novation_id), str(self.licence_id), str(self.licensed.id)}
        return [a for a in report.step(step).applied if a.split(":")[0] in ids or self._suspension(a)]

    def _suspension(self, applied: str) -> bool:
        return applied.split(":")[0] in self.suspension_ids

    suspension_ids: tuple[str, ...] = ()


def _gid(global_id: str) -> uuid.UUID:
    import base64

    return uuid.UUID(
        base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":", 1)[1]
    )


async def _due(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> Due:
    """An accepted novation effective in 40 days, a suspension ending before then, and a licence whose
    term ends (renewal) and whose first invoice falls overdue by then."""
    operator = await platform_login(client, (await trusts.operator()).username)
    old, new = await trusts.trust(), await trusts.trust()
    moving, suspended, licensed = await factory.school(), await factory.school(), await factory.school()
    for school in (moving, licensed):
        await trusts.join(school, old, effective_from=clock.platform_day() - timedelta(days=400))
    day = clock.platform_day() + timedelta(days=40)
    proposed = await platform_gql(
        client,
        """mutation($i: ProposeNovationInput!) { proposeNovation(input: $i) { novation { id } errors { code } } }""",
        {
            "i": {
                "schoolId": to_global_id("School", moving.id),
                "toTrust": new.slug,
                "effectiveDate": str(day),
                "reason": "TRUST_TRANSFER",
            }
        },
        token=operator,
    )
    novation = proposed["data"]["proposeNovation"]["novation"]["id"]
    accepted = await trust_gql(
        client,
        new.slug,
        """mutation($n: ID!, $v: String!) { acceptNovation(input: {novationId: $n, acceptLicenceTerms: true,
             termsVersion: $v}) { novation { status } errors { code } } }""",
        {"n": novation, "v": CURRENT_TERMS_VERSION},
        token=await trust_login(client, new.slug),
    )
    assert accepted["data"]["acceptNovation"]["novation"]["status"] == "ACCEPTED"
    suspension = await platform_gql(
        client,
        """mutation($s: ID!) { suspendSchool(input: {schoolId: $s, reason: SECURITY_BREACH, days: 10}) {
             errors { code } } }""",
        {"s": to_global_id("School", suspended.id)},
        token=operator,
    )
    assert suspension["data"]["suspendSchool"]["errors"] == []
    licence = await platform_gql(
        client,
        """mutation($t: ID!, $s: ID!, $start: Date!) { createLicence(input: {licensee: {trustId: $t}, schoolIds: [$s],
             termStart: $start, annualFeePence: 99000}) { licence { id termEnd } errors { code } } }""",
        {
            "t": to_global_id("Trust", old.id),
            "s": to_global_id("School", licensed.id),
            "start": str(day - timedelta(days=365)),
        },
        token=operator,
    )
    made = licence["data"]["createLicence"]["licence"]
    assert made["termEnd"] <= str(day), made
    async with AsyncSession(engine) as session:
        suspension_ids = tuple(
            str(s)
            for s in (
                await session.execute(select(Suspension.id).where(Suspension.tenant_id == suspended.id))
            ).scalars()
        )
    return Due(day, _gid(novation), moving, suspended, _gid(made["id"]), licensed, suspension_ids)


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)


async def _state(engine: AsyncEngine, due: Due) -> dict[str, Any]:
    """Everything the changes write, counted: it must show each change made exactly once."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [due.moving.id, due.suspended.id, due.licensed.id])
        memberships = (
            await session.execute(
                select(func.count())
                .select_from(SchoolTrustMembership)
                .where(SchoolTrustMembership.school_id == due.moving.id)
            )
        ).scalar_one()
        chain: dict[str, int] = {}
        for school in (due.moving, due.suspended, due.licensed):
            rows = await session.execute(
                select(AuditEntry.action, func.count())
                .where(AuditEntry.school_id.in_([school.id]))  # type: ignore[attr-defined]
                .group_by(AuditEntry.action)
            )
            for action, n in rows.all():
                chain[f"{school.slug}:{action}"] = int(n)
        licence = await session.get(Licence, due.licence_id)
        assert licence is not None
        invoices = (
            await session.execute(
                select(func.count()).select_from(Invoice).where(Invoice.licence_id == due.licence_id)
            )
        ).scalar_one()
        novation = await session.get(Novation, due.novation_id)
        assert novation is not None
        statuses = {
            s.slug: (s.status, s.status_reason)
            for s in (
                await session.execute(
                    select(School).where(School.id.in_([due.moving.id, due.suspended.id, due.licensed.id]))  # type: ignore[attr-defined]
                )
            ).scalars()
        }
        outbox = (
            await session.execute(
                select(OutboxMessage.kind, OutboxMessage.attempts, OutboxMessage.sent_at.is_not(None)).where(  # type: ignore[union-attr]
                    OutboxMessage.tenant_id.in_([due.moving.id, due.suspended.id, due.licensed.id])  # type: ignore[union-attr]
                )
            )
        ).all()
    return {
        "memberships": memberships,
        "novation": novation.status,
        "renewals": licence.renewals,
        "invoices": invoices,
        "statuses": statuses,
        "chain": {
            k: v
            for k, v in chain.items()
            if k.split(":", 1)[1] in ("novation.applied", "school.suspension_lifted", "school.access_refused")
        },
        "outbox": sorted((kind, attempts, sent) for kind, attempts, sent in outbox),
    }


def _expected(due: Due, state: dict[str, Any]) -> None:
    assert state["memberships"] == 2  # the old row ended, one new row: no third
    assert state["novation"] == "APPLIED"
    assert state["renewals"] == 1 and state["invoices"] == 2
    assert state["statuses"][due.suspended.slug] == ("ACTIVE", None)
    assert state["statuses"][due.licensed.slug] == ("SUSPENDED", "LICENCE_UNPAID")
    assert state["chain"] == {
        f"{due.moving.slug}:novation.applied": 1,
        f"{due.suspended.slug}:school.suspension_lifted": 1,
        f"{due.licensed.slug}:school.access_refused": 1,
    }
    # Every notice to these schools' Super-Users was sent, each by one attempt.
    assert state["outbox"] and all(attempts == 1 and sent for _, attempts, sent in state["outbox"])


STEPS = ["novations", "suspensions", "renewals", "non_payment", "outbox"]


async def test_running_the_jobs_twice_applies_each_change_once(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """LL 20, LL-A 9.1, LL 15.1, LL 15.4: nothing is applied before it is due; on the day, the first run
    applies every change and the second finds nothing left to do."""
    due = await _due(client, factory, trusts, engine)
    early = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=tmp_path,
        mail=MailSettings(),
        now=_at(due.day - timedelta(days=35)),
        steps=STEPS,
    )
    assert due.mine(early, "novations") == [] and due.mine(early, "renewals") == []
    first = await run_jobs(
        engine, owner_engine=None, data_dir=tmp_path, mail=MailSettings(), now=_at(due.day), steps=STEPS
    )
    second = await run_jobs(
        engine, owner_engine=None, data_dir=tmp_path, mail=MailSettings(), now=_at(due.day), steps=STEPS
    )
    for step in ("novations", "suspensions", "renewals", "non_payment"):
        assert len(due.mine(first, step)) == 1, step
        assert due.mine(second, step) == [], step
    _expected(due, await _state(engine, due))
    async with AsyncSession(engine) as session:
        logged = (
            (await session.execute(select(JobRun.step).where(JobRun.runner == first.runner))).scalars().all()
        )
    assert sorted(logged) == sorted(STEPS)


async def test_two_runners_at_once_apply_each_change_once(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """LL 20, LL-A 9.1, LL 15.1, LL 15.4: two runners started together (two machines' cron) share the work:
    each due change is claimed by exactly one of them (FOR UPDATE SKIP LOCKED), and applied once."""
    due = await _due(client, factory, trusts, engine)
    reports = await asyncio.gather(
        *(
            run_jobs(
                engine,
                owner_engine=None,
                data_dir=tmp_path,
                mail=MailSettings(),
                now=_at(due.day),
                steps=STEPS,
            )
            for _ in range(2)
        )
    )
    for step in ("novations", "suspensions", "renewals", "non_payment"):
        claimed = [a for report in reports for a in due.mine(report, step)]
        assert len(claimed) == 1, (step, claimed)
    assert all(report.failed == 0 for report in reports)
    _expected(due, await _state(engine, due))


@pytest.mark.plain_only(
    reason="the victim is the backend whose deadlock_timeout fires first, one server's rule; Citus's "
    "distributed detector picks by its own"
)
async def test_a_change_that_loses_a_deadlock_is_claimed_again_and_applied_once(
    engine: AsyncEngine, owner_engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """LL 20, LL 15.1: two runners' transactions can wait on each other (on Citus, a claim and another
    step's writes take the same shard locks in opposite orders). A real deadlock: the runner claims school
    A and then needs school B, which another transaction holds while it waits for A. PostgreSQL aborts the
    runner's transaction (it waited first); the runner claims A again once the other has committed, and
    applies the change once, reporting no failure."""
    first, second = await factory.school(pupils_per_group=1), await factory.school(pupils_per_group=1)
    run = _Run(engine, None, tmp_path, MailSettings(), _at(date(2026, 12, 4)), "deadlock-test")
    report = StepReport("deadlock")
    attempts: list[uuid.UUID] = []
    runner_waits = asyncio.Event()

    def pick(tried: list[Any]) -> Any:
        return _claim(select(School).where(School.id == first.id), School, tried, School.id)

    async def apply(session: AsyncSession, row: School, trail: Any) -> str:
        attempts.append(row.id)
        runner_waits.set()
        await session.execute(select(School.id).where(School.id == second.id).with_for_update())
        return "done"

    async with AsyncSession(owner_engine) as other, other.begin():
        await other.execute(select(School.id).where(School.id == second.id).with_for_update())
        running = asyncio.create_task(run.each(report, pick, apply))
        await runner_waits.wait()
        await _until_waiting_on_a_lock(owner_engine)
        # Now the other transaction wants the row the runner holds: a cycle, which the runner's backend,
        # waiting longer, finds first.
        await other.execute(select(School.id).where(School.id == first.id).with_for_update())
    await running
    assert attempts == [first.id, first.id]
    assert (report.applied, report.failed) == ([f"{first.id}:done"], [])


async def _until_waiting_on_a_lock(owner_engine: AsyncEngine) -> None:
    """Until a backend of the test's database waits on a lock: the runner's, blocked on the row it needs
    (nothing else runs on that database meanwhile)."""
    for _ in range(200):
        async with owner_engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the runner never waited on the lock")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "server.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_cli_creates_an_operator_and_runs_the_jobs(
    database_urls: DatabaseUrls, owner_engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """`schoolgraph operator create` bootstraps the platform's first operator (a temporary password, shown
    once, to change at first sign-in); `schoolgraph jobs run` runs every step and says what it applied.

    The commands run on the host's clock (they take no "now"), so on a database of their own: on the
    suite's, `jobs run` would apply what the host's date makes due to every other test's schools."""
    async with scratch_database(owner_engine, database_urls.owner) as database:
        await _cli_on_a_database_of_its_own(database, settings, tmp_path)


async def _cli_on_a_database_of_its_own(database: URL, settings: Settings, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "SCHOOLGRAPH_DATA_DIR": str(tmp_path),
        "SCHOOLGRAPH_ARGON2_TIME_COST": "1",
        "SCHOOLGRAPH_ARGON2_MEMORY_KIB": "8",
        "SCHOOLGRAPH_ARGON2_PARALLELISM": "1",
        "COLUMNS": "200",
    }
    migrated = await asyncio.to_thread(_cli, "db", "upgrade", env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    username = f"root-{uuid.uuid4().hex[:6]}"
    create = [
        "operator",
        "create",
        "--username",
        username,
        "--name",
        "Rita Root",
        "--email",
        "rita@platform.example",
    ]
    created = await asyncio.to_thread(_cli, *create, env=env)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Temporary password" in created.stdout
    duplicate = await asyncio.to_thread(_cli, *create, env=env)
    assert duplicate.returncode == 2
    assert duplicate.stdout.splitlines()[-1] == "--username: An operator with this username exists already."
    bad = ["operator", "create", "--username", "a b", "--name", " ", "--email", "rita"]
    refused = await asyncio.to_thread(_cli, *bad, env=env)
    assert refused.returncode == 2  # each problem under the option that gave the input
    assert [line.split(":")[0] for line in refused.stdout.splitlines()[-3:]] == [
        "--username",
        "--email",
        "--name",
    ]
    engine = create_engine(database, settings, pool_size=1)
    try:
        async with AsyncSession(engine) as session:
            account = (
                await session.execute(select(OperatorAccount).where(OperatorAccount.username == username))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert account.must_change_password is True and account.status == "ACTIVE"

    ran = await asyncio.to_thread(_cli, "jobs", "run", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for step in (
        "novations:",
        "suspensions:",
        "renewals:",
        "renewal_notices:",
        "non_payment:",
        "destructions:",
        "outbox:",
    ):
        assert step in ran.stdout
    unknown = await asyncio.to_thread(_cli, "jobs", "run", "--step", "nope", env=env)
    assert unknown.returncode == 2

"""Licences (LL 15): the schools they cover, the renewal and notice dates, renewal, price changes, invoices,
and non-payment ending access for every user until paid."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import Settings
from graph.core.relay import to_global_id
from models.licensing import Invoice, Licence, LicenceSchool
from models.platform import OutboxMessage
from server.jobs import run_jobs
from tests.factories import clock
from tests.factories.schools import LOGIN, PASSWORD, SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import (
    TrustData,
    TrustFactory,
    platform_gql,
    platform_login,
    trust_gql,
    trust_login,
)

CREATE = """
mutation($i: CreateLicenceInput!) { createLicence(input: $i) {
  licence { id reference termStart termEnd autoRenew cancellationDeadline priceChangeNoticeDue annualFeePence
            status schools { school { slug } coveredFrom coveredTo }
            invoices { id number amountPence dueOn status } }
  errors { field code message } } }
"""
LICENCE = """
query($s: String!) { school(slug: $s) { status statusReason
  licence { id reference termStart termEnd renewals annualFeePence nextFeePence status cancellationReceivedOn
            invoices { id amountPence periodStart dueOn status } }
  licences { reference status } } }
"""


def _input(trust: TrustData, schools: list[SchoolData], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "licensee": {"trustId": to_global_id("Trust", trust.id)},
        "schoolIds": [to_global_id("School", s.id) for s in schools],
        "termStart": str(clock.platform_day()),
        "annualFeePence": 120_000,
    }
    return {"i": base | kw}


async def _licensed(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, **kw: Any
) -> tuple[TrustData, SchoolData, str, dict[str, Any]]:
    trust = await trusts.trust()
    school = await factory.school()
    await trusts.join(school, trust)
    token = await platform_login(client, (await trusts.operator()).username)
    body = await platform_gql(client, CREATE, _input(trust, [school], **kw), token=token)
    assert body["data"]["createLicence"]["errors"] == [], body
    return trust, school, token, body["data"]["createLicence"]["licence"]


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)


async def test_renewal_and_notice_dates_are_computed(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 15.1, LL 15.2: a licence renews a year after it starts; written notice of cancellation must arrive
    90 days before that; a price change must be notified 30 days before the 90-day period begins."""
    start = clock.platform_day()
    _, school, _, licence = await _licensed(client, factory, trusts, termStart=str(start))
    term_end = (
        start.replace(year=start.year + 1)
        if not (start.month == 2 and start.day == 29)
        else date(start.year + 1, 2, 28)
    )
    assert licence["termEnd"] == str(term_end) and licence["autoRenew"] is True
    assert licence["cancellationDeadline"] == str(term_end - timedelta(days=90))
    assert licence["priceChangeNoticeDue"] == str(term_end - timedelta(days=120))
    assert licence["schools"] == [
        {"school": {"slug": school.slug}, "coveredFrom": str(start), "coveredTo": None}
    ]
    # The first invoice, for the first year, due in 30 days.
    assert licence["invoices"] == [
        {
            "id": licence["invoices"][0]["id"],
            "number": licence["invoices"][0]["number"],
            "amountPence": 120_000,
            "dueOn": str(clock.platform_day() + timedelta(days=30)),
            "status": "DUE",
        }
    ]


async def _licences_of(engine: AsyncEngine, school: SchoolData) -> int:
    async with AsyncSession(engine) as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(LicenceSchool)
                    .where(LicenceSchool.tenant_id == school.id)
                )
            ).scalar_one()
        )


async def test_overlapping_licences_are_refused_and_write_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, engine: AsyncEngine
) -> None:
    """LL 15.1: a school is covered by one licence at a time; a second licence overlapping the first (which
    renews every year, so runs on) is a UserError and writes nothing, nor do other invalid licences."""
    trust, school, token, _ = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=10))
    )
    other_trust = await trusts.trust()
    elsewhere = await factory.school()
    invoices_before = await _count(engine, Invoice)
    cases = [
        (
            _input(trust, [school], termStart=str(clock.platform_day() + timedelta(days=400))),
            "schoolIds.0",
            "OVERLAPPING_LICENCE",
        ),
        (
            _input(trust, [school], termEnd=str(clock.platform_day() - timedelta(days=1))),
            "termEnd",
            "INVALID_TERM",
        ),
        (_input(other_trust, [elsewhere]), "schoolIds.0", "SCHOOL_NOT_IN_TRUST"),
        (
            {
                "i": _input(trust, [elsewhere])["i"]
                | {"licensee": {"schoolId": to_global_id("School", school.id)}}
            },
            "schoolIds",
            "SCHOOL_LICENSEE",
        ),
        ({"i": _input(trust, [school])["i"] | {"licensee": {}}}, "licensee", "ONE_LICENSEE"),
    ]
    for variables, field, code in cases:
        body = await platform_gql(client, CREATE, variables, token=token)
        payload = body["data"]["createLicence"]
        assert payload["licence"] is None
        assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], (code, payload)
    assert await _licences_of(engine, school) == 1
    assert await _licences_of(engine, elsewhere) == 0
    assert await _count(engine, Invoice) == invoices_before


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with AsyncSession(engine) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


CANCEL = """
mutation($l: ID!, $on: Date) { cancelLicence(input: {licenceId: $l, receivedOn: $on}) {
  licence { cancellationReceivedOn } errors { field code } } }
"""
NEXT_FEE = """
mutation($l: ID!, $fee: Int!) { setNextTermFee(input: {licenceId: $l, annualFeePence: $fee}) {
  licence { nextFeePence } errors { field code } } }
"""


async def test_cancellation_needs_ninety_days_notice(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 15.1: notice of cancellation arriving later than 90 days before renewal is refused (the licence
    renews once more); in time, the licence ends on its renewal date instead of renewing."""
    _, _, token, late = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=300))
    )
    refused = await platform_gql(client, CANCEL, {"l": late["id"]}, token=token)
    assert refused["data"]["cancelLicence"]["errors"] == [
        {"field": "receivedOn", "code": "NOTICE_PERIOD_PASSED"}
    ]

    _, school, token, licence = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=200))
    )
    done = await platform_gql(client, CANCEL, {"l": licence["id"]}, token=token)
    assert done["data"]["cancelLicence"] == {
        "licence": {"cancellationReceivedOn": str(clock.platform_day())},
        "errors": [],
    }
    twice = await platform_gql(client, CANCEL, {"l": licence["id"]}, token=token)
    assert twice["data"]["cancelLicence"]["errors"] == [{"field": "licenceId", "code": "ALREADY_CANCELLED"}]
    term_end = date.fromisoformat(licence["termEnd"])
    await run_jobs(
        engine, owner_engine=None, data_dir=settings.data_dir, now=_at(term_end), steps=["renewals"]
    )
    view = await platform_gql(client, LICENCE, {"s": school.slug}, token=token)
    # Ended, not renewed: its cover runs to the renewal date and no further, and there is no new invoice.
    assert view["data"]["school"]["licences"] == [{"reference": licence["reference"], "status": "ENDED"}]
    assert view["data"]["school"]["licence"]["renewals"] == 0
    assert len(view["data"]["school"]["licence"]["invoices"]) == 1
    async with AsyncSession(engine) as session:
        cover = (
            await session.execute(select(LicenceSchool).where(LicenceSchool.tenant_id == school.id))
        ).scalar_one()
    assert cover.covered_to == term_end


async def test_price_changes_are_notified_in_time_or_not_at_all(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 15.2: a new price for the coming year is notified at once, at least 30 days before the 90-day
    notice period; later it is refused. On renewal the new price is invoiced."""
    _, _, token, late = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=260))
    )
    refused = await platform_gql(client, NEXT_FEE, {"l": late["id"], "fee": 150_000}, token=token)
    assert refused["data"]["setNextTermFee"]["errors"] == [
        {"field": "annualFeePence", "code": "PRICE_NOTICE_TOO_LATE"}
    ]

    trust, school, token, licence = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=30))
    )
    done = await platform_gql(client, NEXT_FEE, {"l": licence["id"], "fee": 150_000}, token=token)
    assert done["data"]["setNextTermFee"] == {"licence": {"nextFeePence": 150_000}, "errors": []}
    async with AsyncSession(engine) as session:
        notices = (
            (
                await session.execute(
                    select(OutboxMessage.audience).where(
                        OutboxMessage.kind == "PRICE_CHANGE",
                        (OutboxMessage.trust_id == trust.id) | (OutboxMessage.tenant_id == school.id),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(notices) == ["SUPER_USERS", "TRUST_ADMINS"]
    await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        now=_at(date.fromisoformat(licence["termEnd"])),
        steps=["renewals"],
    )
    view = await platform_gql(client, LICENCE, {"s": school.slug}, token=token)
    renewed = view["data"]["school"]["licence"]
    assert (
        renewed["renewals"] == 1 and renewed["annualFeePence"] == 150_000 and renewed["nextFeePence"] is None
    )
    assert [i["amountPence"] for i in renewed["invoices"]] == [120_000, 150_000]


async def test_renewal_and_its_notice_happen_once_each(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 15.1, LL 15.2: before the notice period the licensee is told the renewal date, the last day to
    cancel and the coming price, once; on the renewal date the licence renews for a year with a new invoice,
    once, however often the jobs run."""
    _, school, _, licence = await _licensed(
        client, factory, trusts, termStart=str(clock.platform_day() - timedelta(days=250))
    )
    licence_id = uuid.UUID(_raw(licence["id"]))
    for _ in range(2):
        await run_jobs(
            engine, owner_engine=None, data_dir=settings.data_dir, now=clock.now(), steps=["renewal_notices"]
        )
    async with AsyncSession(engine) as session:
        notices = (
            await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "RENEWAL_NOTICE", OutboxMessage.tenant_id == school.id)
            )
        ).scalar_one()
    assert notices == 1
    term_end = date.fromisoformat(licence["termEnd"])
    before = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        now=_at(term_end - timedelta(days=1)),
        steps=["renewals"],
    )
    assert not [a for a in before.step("renewals").applied if str(licence_id) in a]
    runs = [
        await run_jobs(
            engine, owner_engine=None, data_dir=settings.data_dir, now=_at(term_end), steps=["renewals"]
        )
        for _ in range(2)
    ]
    assert [len([a for a in r.step("renewals").applied if str(licence_id) in a]) for r in runs] == [1, 0]
    async with AsyncSession(engine) as session:
        row = await session.get(Licence, licence_id)
        assert row is not None
        assert (
            row.renewals == 1
            and row.term_start == term_end
            and row.term_end == term_end.replace(year=term_end.year + 1)
        )
        invoices = (
            await session.execute(
                select(func.count()).select_from(Invoice).where(Invoice.licence_id == licence_id)
            )
        ).scalar_one()
    assert invoices == 2


def _raw(global_id: str) -> str:
    import base64

    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":", 1)[1]


async def test_an_unpaid_invoice_ends_access_for_every_user_until_paid(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """LL 15.4: an invoice not paid by its due date ends access for every registered user of the school,
    with the reason LICENCE_UNPAID, until it is paid; paying restores access at once."""
    trust, school, token, licence = await _licensed(
        client,
        factory,
        trusts,
        firstInvoiceDueOn=str(clock.platform_day()),
        termStart=str(clock.platform_day()),
    )
    tokens = {u: await login(client, school.slug, u) for u in ("admin", "teacher1", "pupil1", "parent1")}
    on_due_date = await run_jobs(
        engine, owner_engine=None, data_dir=settings.data_dir, now=clock.now(), steps=["non_payment"]
    )
    assert not [a for a in on_due_date.step("non_payment").applied if str(school.id) in a]
    await gql(client, school.slug, "{ viewer { username } }", token=tokens["admin"])

    overdue = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=settings.data_dir,
        now=_at(clock.platform_day() + timedelta(days=1)),
        steps=["non_payment"],
    )
    assert [a for a in overdue.step("non_payment").applied if str(school.id) in a] == [
        f"{school.id}:suspended"
    ]
    for username, old in tokens.items():
        refused = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": "{ viewer { username } }"},
            headers={"authorization": f"Bearer {old}"},
        )
        assert refused.status_code == 403, username
        assert refused.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "LICENCE_UNPAID"}
    signing_in = await client.post(
        f"/schools/{school.slug}/graphql", json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}}
    )
    assert signing_in.status_code == 403
    trust_view = await trust_gql(
        client,
        trust.slug,
        "{ schools { slug status statusReason } }",
        token=await trust_login(client, trust.slug),
    )
    assert {"slug": school.slug, "status": "SUSPENDED", "statusReason": "LICENCE_UNPAID"} in trust_view[
        "data"
    ]["schools"]

    paid = await platform_gql(
        client,
        'mutation($i: ID!) { recordPayment(input: {invoiceId: $i, reference: "BACS 7781"}) '
        "{ invoice { status paidOn } restoredSchools { slug status } errors { code } } }",
        {"i": licence["invoices"][0]["id"]},
        token=token,
    )
    assert paid["data"]["recordPayment"] == {
        "invoice": {"status": "PAID", "paidOn": str(clock.platform_day())},
        "restoredSchools": [{"slug": school.slug, "status": "ACTIVE"}],
        "errors": [],
    }
    body = await gql(client, school.slug, "{ viewer { username } }", token=tokens["pupil1"])
    assert body["data"]["viewer"] == {"username": "pupil1"}
    await login(client, school.slug, "teacher1")
    again = await platform_gql(
        client,
        "mutation($i: ID!) { recordPayment(input: {invoiceId: $i}) { errors { field code } } }",
        {"i": licence["invoices"][0]["id"]},
        token=token,
    )
    assert again["data"]["recordPayment"]["errors"] == [{"field": "invoiceId", "code": "ALREADY_PAID"}]

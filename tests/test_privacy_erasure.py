"""Erasure, the right to be forgotten (LL 5.1.6, LL-S2 (xii)), through the school schema over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.tokens import SigningKeys
from common.settings import Settings
from server.jobs import run_jobs
from storage.files import local_store
from tests.factories import clock
from tests.factories.audit import sequence, verify
from tests.factories.learning import PDF, gid, mutate, problems, seed_judgements, starter, today, upload
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_learning_assignments import ASSIGNMENT, SUBMISSION
from tests.test_learning_records import ULN, _give_uln, _record
from tests.test_termination import rows_per_table

ERASE = "erasure { id subjectType reference reason totalRows rowCounts { table rows } }"
TABLES = text(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
    "AND table_type = 'BASE TABLE' ORDER BY table_name"
)
HASHED = ("actor_id", "target_id", "detail")
"""The audit chain's hashed part (ids, codes and times only): the ids in it are opaque once the person is
erased, and it is what keeps the chain verifiable (docs/adr/0006-audit-log.md)."""
SCHOOL_TABLES = text(
    "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'school_id'"
)


async def scan(
    owner_engine: AsyncEngine, school_id: uuid.UUID, needles: list[str], *, ids: tuple[str, ...] = ()
) -> dict[str, set[str]]:
    """Every table (the school's rows, and the global tables) whose rows, as text, contain a needle:
    {needle: tables}. For the ``ids`` among the needles the audit chain's hashed part is left out."""
    found: dict[str, set[str]] = {n: set() for n in needles}
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school_id)})
        tenant = set((await connection.execute(SCHOOL_TABLES)).scalars())
        for table in (await connection.execute(TABLES)).scalars():
            where = "school_id = :s AND " if table in tenant else ""
            for needle in needles:
                row = "to_jsonb(t)"
                if table == "audit_log" and needle in ids:
                    row += "".join(f" - '{c}'" for c in HASHED)
                hit = await connection.execute(
                    text(f'SELECT 1 FROM "{table}" t WHERE {where}({row})::text LIKE :n LIMIT 1'),
                    {"n": f"%{needle}%", "s": school_id},
                )
                if hit.first() is not None:
                    found[needle].add(table)
    return found


async def _erase(client: httpx.AsyncClient, school: SchoolData, token: str, **input: Any) -> dict[str, Any]:
    return await mutate(client, school.slug, token, "erasePerson", ERASE, **input)


async def _busy_pupil(client: httpx.AsyncClient, school: SchoolData) -> dict[str, Any]:
    """pupil1 with a ULN, achievements, a goal, a judgement, submitted work with a file, a parent code, a
    session and audit entries: rows in as many of the tables that reach a pupil as the product writes."""
    await _give_uln(client, school, "pupil1")
    teacher = await login(client, school.slug, "teacher1")
    await _record(client, school, teacher)
    ladder = starter("Y4-MATHS")
    pupil = school.pupils["pupil1"]
    set_ = await mutate(
        client, school.slug, teacher, "setAssignment", ASSIGNMENT,
        groupId=gid("Group", school.groups["A"]), title="Spellings", kind="HOMEWORK",
        dueOn=str(today()), instructions="Learn them.",
    )  # fmt: skip
    assert set_["errors"] == [], set_
    pupil_token = await login(client, school.slug, "pupil1")
    body = await upload(
        client, school.slug, pupil_token, "submitWork", SUBMISSION,
        file_name="spellings.pdf", data=PDF, assignmentId=set_["assignment"]["id"], text="My spellings",
    )  # fmt: skip
    assert body["data"]["submitWork"]["errors"] == [], body
    admin = await login(client, school.slug, "admin")
    issued = await gql(
        client, school.slug,
        "mutation($p: ID!) { issueParentCode(input: {pupilId: $p}) { code errors { code } } }",
        {"p": gid("Pupil", pupil)}, token=admin,
    )  # fmt: skip
    assert issued["data"]["issueParentCode"]["code"]
    return {"ladder": ladder, "pupil_token": pupil_token, "admin": admin}


async def test_erasing_a_pupil_leaves_nothing_of_them_but_a_pseudonymous_record(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    keys: SigningKeys,
) -> None:
    """LL 5.1.6, LL-S2 (xii): after a school admin erases a pupil, a scan of every table finds none of their
    ids, names, UPN, ULN, e-mail or username (the audit chain's hashed ids aside); their sessions end; the
    audit chain still verifies; their submitted file leaves the store after the commit; classmates stay."""
    school = await factory.school()
    bystander = await factory.school()
    made = await _busy_pupil(client, school)
    await seed_judgements(
        engine,
        school,
        [(school.pupils["pupil1"].id, made["ladder"].id, made["ladder"].rung_ids[2], "SECURE", today())],
    )
    await sequence(engine, school.id, keys)  # the pupil's entries are in the signed tree before the erasure
    pupil = school.pupils["pupil1"]
    account = school.accounts["pupil1"]
    store = local_store(settings.data_dir)
    stored = await scan(owner_engine, school.id, ["spellings.pdf"])
    assert "stored_files" in stored["spellings.pdf"]
    needles = [
        str(pupil.id),
        str(account.id),
        pupil.forename,
        pupil.upn or "",
        ULN,
        pupil.email or "",
        "pupil1",
        *([pupil.source_id] if pupil.source_id else []),
    ]
    before = await scan(owner_engine, school.id, needles)
    for table in ("pupils", "accounts", "achievements", "learning_goals", "judgements", "submissions",
                  "group_pupils", "pupil_contacts", "pupil_consents", "parent_codes", "auth_sessions"):  # fmt: skip
        assert table in before[str(pupil.id)] | before[str(account.id)], table
    assert "audit_log" in before["pupil1"]  # the username at the time, beside the chain
    others = await rows_per_table(owner_engine, bystander.id)
    classmates = len(school.pupils) - 1

    payload = await _erase(
        client, school, made["admin"],
        personId=gid("Pupil", pupil), reason="Parent's request under Article 17", confirmName="PatA1 Pupil0001",
    )  # fmt: skip
    assert payload["errors"] == [], payload
    erasure = payload["erasure"]
    assert erasure["subjectType"] == "PUPIL" and erasure["reason"] == "Parent's request under Article 17"
    counts = {c["table"]: c["rows"] for c in erasure["rowCounts"]}
    assert counts["pupils"] == 1 and counts["accounts"] == 1 and counts["submissions"] == 1
    assert counts["judgements"] == 1 and counts["achievements"] == 2 and counts["stored_files"] == 1
    assert erasure["totalRows"] == sum(counts.values())

    after = await scan(
        owner_engine, school.id, [*needles, erasure["reference"]], ids=(str(pupil.id), str(account.id))
    )
    # The one thing left that names them: the tombstone of their record in the partners' change feed (its
    # OneRoster sourcedId: their MIS id, or their record's id), so that partners holding a copy delete it
    # (GDPR Art. 17(2), 19); the registry keeps it with that reason, and it is purged after 30 days
    # (tests/test_partners_changes.py). Their judgements' and achievements' tombstones name no one.
    sourced_id = pupil.source_id or str(pupil.id)
    allowed = {sourced_id: {"change_tombstones"}} if sourced_id in needles else {}
    assert {n: t for n, t in after.items() if t and n != erasure["reference"]} == allowed
    assert after[erasure["reference"]] == {"erasure_records"}
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school.id)})
        tombstones = (
            (
                await connection.execute(
                    text("SELECT to_jsonb(t) AS row FROM change_tombstones t WHERE school_id = :s"),
                    {"s": school.id},
                )
            )
            .scalars()
            .all()
        )
    assert {frozenset(row) for row in tombstones} == {
        frozenset({"school_id", "collection", "sourced_id", "changed_version", "deleted_at", "pupil_id"})
    }
    assert all(row["pupil_id"] is None for row in tombstones)
    by_collection = sorted(row["collection"] for row in tombstones)
    assert by_collection == sorted(
        ["users"] + ["judgements"] * counts["judgements"] + ["achievements"] * counts["achievements"]
    )
    assert [row["sourced_id"] for row in tombstones if row["collection"] == "users"] == [sourced_id]
    # Their session is gone: the token they signed in with is anonymous now.
    refused = await gql(client, school.slug, "{ viewer { username } }", token=made["pupil_token"])
    assert refused == {"data": {"viewer": None}}
    await sequence(engine, school.id, keys)
    verdict = await verify(engine, school.id, keys)
    assert verdict.fault is None and verdict.pending == 0 and verdict.entries > 10
    listed = await gql(
        client, school.slug, "{ pupils(first: 50) { edges { node { forename } } } }", token=made["admin"]
    )
    assert len(listed["data"]["pupils"]["edges"]) == classmates
    assert await rows_per_table(owner_engine, bystander.id) == others

    # The file leaves the store after the commit, by the jobs step.
    key = next(iter(await _pending_files(owner_engine, school.id)))
    assert await store.get(key) == PDF
    report = await run_jobs(engine, owner_engine=owner_engine, data_dir=settings.data_dir, now=clock.now(),
                            steps=["erasure_files"])  # fmt: skip
    assert report.step("erasure_files").applied and report.failed == 0
    assert not (Path(settings.data_dir) / "files" / key).exists()


async def _pending_files(owner_engine: AsyncEngine, school_id: uuid.UUID) -> list[str]:
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school_id)})
        rows = await connection.execute(text("SELECT unnest(files_pending) FROM erasure_records"))
        return [str(r[0]) for r in rows]


async def test_bad_erasures_are_user_errors_and_write_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, owner_engine: AsyncEngine
) -> None:
    """LL 5.1.6: an unknown person, a wrong confirmation, no reason, a second erasure: each a UserError
    naming the field, with nothing written."""
    school = await factory.school()
    other = await factory.school()
    admin = await login(client, school.slug, "admin")
    pupil = gid("Pupil", school.pupils["pupil2"])
    before = await rows_per_table(owner_engine, school.id)
    cases = [
        ({"personId": gid("Pupil", uuid.uuid4()), "reason": "r", "confirmName": "x"}, [("personId", "NOT_FOUND")]),
        ({"personId": gid("Pupil", other.pupils["pupil2"]), "reason": "r", "confirmName": "PatA2 Pupil0002"},
         [("personId", "NOT_FOUND")]),
        ({"personId": gid("Group", school.groups["A"]), "reason": "r", "confirmName": "x"}, [("personId", "NOT_FOUND")]),
        ({"personId": pupil, "reason": "r", "confirmName": "PatA2 Pupil0003"}, [("confirmName", "CONFIRMATION_MISMATCH")]),
        ({"personId": pupil, "reason": "  ", "confirmName": "PatA2 Pupil0002"}, [("reason", "REASON_REQUIRED")]),
        ({"personId": gid("Staff", school.staff["admin"]), "reason": "r", "confirmName": "Ada Admin"},
         [("personId", "CANNOT_ERASE_SELF")]),
    ]  # fmt: skip
    for input, expected in cases:
        assert problems(await _erase(client, school, admin, **input)) == expected, input
    after = await rows_per_table(owner_engine, school.id)
    assert {t: n for t, n in after.items() if t != "audit_log"} == {
        t: n for t, n in before.items() if t != "audit_log"
    }

    done = await _erase(
        client, school, admin, personId=pupil, reason="Left the UK", confirmName="pata2  pupil0002"
    )
    assert done["errors"] == []
    again = await _erase(
        client, school, admin, personId=pupil, reason="Left the UK", confirmName="PatA2 Pupil0002"
    )
    assert problems(again) == [("personId", "ALREADY_ERASED")]


async def test_only_the_schools_admins_may_erase(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 5.1.6: a teacher, a parent, an anonymous caller and another school's admin erase nothing."""
    school = await factory.school()
    other = await factory.school()
    input = {
        "personId": gid("Pupil", school.pupils["pupil1"]),
        "reason": "r",
        "confirmName": "PatA1 Pupil0001",
    }
    query = "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { erasure { id } errors { code } } }"
    for token in (
        await login(client, school.slug, "teacher1"),
        await login(client, school.slug, "parent1"),
        None,
    ):
        body = await gql(client, school.slug, query, {"i": input}, token=token)
        assert body["data"] is None or body["data"]["erasePerson"] is None
        assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")
    foreign = await gql(
        client, other.slug, query, {"i": input}, token=await login(client, other.slug, "admin")
    )
    assert foreign["data"]["erasePerson"] == {"erasure": None, "errors": [{"code": "NOT_FOUND"}]}
    admin = await login(client, school.slug, "admin")
    still = await gql(
        client, school.slug, "{ pupils(first: 50) { edges { node { forename } } } }", token=admin
    )
    assert {"node": {"forename": "PatA1"}} in still["data"]["pupils"]["edges"]


async def test_a_failure_mid_erasure_leaves_the_database_as_it_was(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    keys: SigningKeys,
) -> None:
    """LL 5.1.6: the erasure is one transaction. A fault injected into it (the database refusing one of its
    deletes, part-way through the tables) leaves every row of the school as it was, the client gets a masked
    error (no stack trace), and the audit chain still verifies."""
    school = await factory.school()
    made = await _busy_pupil(client, school)
    await sequence(engine, school.id, keys)
    before = await rows_per_table(owner_engine, school.id)
    trigger = f"fault_{uuid.uuid4().hex[:8]}"
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF OLD.school_id = '{school.id}' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN OLD; END $$"
            )
        )
        await connection.execute(
            text(
                f"CREATE TRIGGER {trigger} BEFORE DELETE ON submissions FOR EACH ROW EXECUTE FUNCTION {trigger}()"
            )
        )
    try:
        body = await gql(
            client, school.slug,
            "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { erasure { id } errors { code } } }",
            {"i": {"personId": gid("Pupil", school.pupils["pupil1"]), "reason": "r", "confirmName": "PatA1 Pupil0001"}},
            token=made["admin"], expect_status=None,
        )  # fmt: skip
    finally:
        async with owner_engine.begin() as connection:
            await connection.execute(text(f"DROP TRIGGER {trigger} ON submissions"))
            await connection.execute(text(f"DROP FUNCTION {trigger}()"))
    assert "injected fault" not in str(body) and "Traceback" not in str(body)
    assert body["errors"]
    after = await rows_per_table(owner_engine, school.id)
    assert {t: n for t, n in after.items() if t not in ("audit_log", "audit_heads")} == {
        t: n for t, n in before.items() if t not in ("audit_log", "audit_heads")
    }
    await sequence(engine, school.id, keys)
    verdict = await verify(engine, school.id, keys)
    assert verdict.fault is None and verdict.pending == 0 and verdict.entries > 10
    signed_in = await gql(client, school.slug, "{ viewer { username } }", token=made["pupil_token"])
    assert signed_in["data"]["viewer"] == {"username": "pupil1"}

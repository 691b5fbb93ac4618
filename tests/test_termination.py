"""Termination (LL 5.1.3, LL-A 9.3, LL-A 6.3.7): access ends at once; the jobs runner exports the school's
data for return and then destroys every tenant row, keeping a destruction record."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pyzipper
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import Settings
from graph.core.relay import to_global_id
from privacy.exporter import ExportKeys, export_key, unseal
from server.jobs import run_jobs
from storage.files import local_store
from storage.files import storage_key as file_key
from subscriptions.termination import exported_files_dir, school_files_dir
from tests.factories import clock
from tests.factories.schools import LOGIN, PASSWORD, SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustFactory, platform_gql, platform_login, trust_gql, trust_login
from tests.test_learning_records import ULN, _give_uln
from tests.test_learning_records import _record as _record_achievements

TENANT_TABLES = text(
    """
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'school_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
    """
)


async def rows_per_table(owner_engine: AsyncEngine, school_id: uuid.UUID) -> dict[str, int]:
    """Rows of the school in every table that has a school_id column, counted as the table owner (bound to
    the school: row-level security is forced on the owner too)."""
    async with owner_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(school_id)})
        tables = (await connection.execute(TENANT_TABLES)).scalars().all()
        counts = {}
        for table in tables:
            counts[table] = int(
                (
                    await connection.execute(
                        text(f'SELECT count(*) FROM "{table}" WHERE school_id = :s'), {"s": school_id}
                    )
                ).scalar_one()
            )
    return counts


TERMINATE = """
mutation($i: TerminateSchoolInput!) { terminateSchool(input: $i) {
  school { slug status statusReason } destruction { id status destroyOn } errors { field code } } }
"""
RECORD = """
query($s: String!) { school(slug: $s) { status statusReason licence { status } licences { status }
  destruction { status reason schoolSlug exportPath exportSha256 exportBytes destroyedAt totalRows
                rowCounts { table rows } } } }
"""


async def _busy_school(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory, operator: str
) -> SchoolData:
    """A school with people, accounts, sessions, audit entries, a parent code, a trust, a licence, a pending
    school admin with an activation code and a Super-User: rows in as many tenant tables as there are."""
    school = await factory.school()
    trust = await trusts.trust()
    await trusts.join(school, trust)
    admin = await login(client, school.slug, "admin")
    await login(client, school.slug, "pupil1")
    issued = await gql(
        client,
        school.slug,
        "mutation($p: ID!) { issueParentCode(input: {pupilId: $p}) { code errors { code } } }",
        {"p": to_global_id("Pupil", school.pupils["pupil2"].id)},
        token=admin,
    )
    assert issued["data"]["issueParentCode"]["code"]
    trust_token = await trust_login(client, trust.slug)
    made = await trust_gql(
        client,
        trust.slug,
        """mutation($s: ID!) { createSchoolAdmin(input: {schoolId: $s, forename: "Deb", surname: "Deputy",
             email: "deb@x.example", username: "deb", superUser: true}) { errors { code } } }""",
        {"s": to_global_id("School", school.id)},
        token=trust_token,
    )
    assert made["data"]["createSchoolAdmin"]["errors"] == []
    licence = await platform_gql(
        client,
        """mutation($t: ID!, $s: ID!) { createLicence(input: {licensee: {trustId: $t}, schoolIds: [$s],
             termStart: "%s", annualFeePence: 100000}) { errors { code } } }"""
        % (clock.platform_day() - timedelta(days=30)),
        {"t": to_global_id("Trust", trust.id), "s": to_global_id("School", school.id)},
        token=operator,
    )
    assert licence["data"]["createLicence"]["errors"] == []
    return school


async def test_termination_exports_then_destroys_every_tenant_row_with_a_record(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """LL 5.1.3, LL-A 9.3, LL-A 6.3.7: on termination every user is refused at once; then the school's data
    is exported for return and destroyed: zero rows of it in every table that has a school_id, a
    destruction record (what, when, who, row counts), and no other school touched."""
    operator_data = await trusts.operator()
    operator = await platform_login(client, operator_data.username)
    school = await _busy_school(client, factory, trusts, operator)
    await _give_uln(client, school, "pupil1")
    await _record_achievements(client, school, await login(client, school.slug, "teacher1"))
    bystander = await factory.school()
    await login(client, bystander.slug, "teacher1")
    before = await rows_per_table(owner_engine, school.id)
    for table in ("achievements", "pupils", "staff", "accounts", "auth_sessions", "audit_log", "parent_codes",
                  "school_trust_memberships", "account_activations", "super_users"):  # fmt: skip
        assert before[table] > 0, table
    bystander_before = await rows_per_table(owner_engine, bystander.id)
    # Files in the store (uploads, submitted work) are the school's data too; a bystander's stay.
    store = local_store(tmp_path)
    await store.put(file_key(school.id, "a" * 64), b"the school's homework")
    await store.put(file_key(bystander.id, "b" * 64), b"another school's homework")
    token = await login(client, school.slug, "teacher1")

    wrong = await platform_gql(
        client,
        TERMINATE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "END_OF_LICENCE",
                "confirmSlug": "nope",
            }
        },
        token=operator,
    )
    assert wrong["data"]["terminateSchool"]["errors"] == [
        {"field": "confirmSlug", "code": "CONFIRMATION_MISMATCH"}
    ]
    await gql(client, school.slug, "{ viewer { username } }", token=token)  # nothing changed

    done = await platform_gql(
        client,
        TERMINATE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "END_OF_LICENCE",
                "confirmSlug": school.slug,
            }
        },
        token=operator,
    )
    payload = done["data"]["terminateSchool"]
    assert payload["errors"] == []
    assert payload["school"] == {
        "slug": school.slug,
        "status": "TERMINATED",
        "statusReason": "END_OF_LICENCE",
    }
    assert payload["destruction"]["status"] == "PENDING" and payload["destruction"]["destroyOn"] == str(
        clock.platform_day()
    )
    for attempt in (
        await client.post(f"/schools/{school.slug}/graphql", json={"query": "{ viewer { username } }"},
                          headers={"authorization": f"Bearer {token}"}),
        await client.post(f"/schools/{school.slug}/graphql", json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}}),
    ):  # fmt: skip
        assert attempt.status_code == 403
        assert attempt.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "END_OF_LICENCE"}

    # What is left to destroy, with the audit of all the above.
    before = await rows_per_table(owner_engine, school.id)
    report = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["destructions"]
    )
    record_id = _raw(payload["destruction"]["id"])
    assert [a for a in report.step("destructions").applied if a.startswith(record_id)] != []

    after = await rows_per_table(owner_engine, school.id)
    assert set(after) == set(before)
    assert {table: n for table, n in after.items() if n} == {}
    assert await rows_per_table(owner_engine, bystander.id) == bystander_before
    await login(client, bystander.slug, "teacher1")

    view = await platform_gql(client, RECORD, {"s": school.slug}, token=operator)
    record = view["data"]["school"]["destruction"]
    assert view["data"]["school"]["status"] == "TERMINATED"
    assert view["data"]["school"]["licences"] == [{"status": "TERMINATED"}]
    assert record["status"] == "DESTROYED" and record["reason"] == "END_OF_LICENCE" and record["destroyedAt"]
    counts = {c["table"]: c["rows"] for c in record["rowCounts"]}
    assert counts == before
    assert record["totalRows"] == sum(before.values())

    export = Path(record["exportPath"])
    assert export.parent == tmp_path / "exports" and export.suffix == ".zip"
    packed = export.read_bytes()  # noqa: ASYNC240 - a test reading a small file
    assert (
        hashlib.sha256(packed).hexdigest() == record["exportSha256"] and len(packed) == record["exportBytes"]
    )
    assert export.stat().st_mode & 0o077 == 0  # noqa: ASYNC240 - readable by the service account only
    # Encrypted from the start (LRS 6.8): no plain copy beside it; the password is sealed on the record, and
    # only the server's export key opens the seal.
    mine = [p.name for p in export.parent.iterdir() if p.name.startswith(f"{school.slug}-")]
    assert mine == [export.name]  # other schools the step destroyed have theirs
    async with owner_engine.begin() as connection:
        sealed = (
            await connection.execute(
                text("SELECT sealed_password FROM destruction_records WHERE tenant_id = :s"), {"s": school.id}
            )
        ).scalar_one()
    password = unseal(sealed, record["exportSha256"], ExportKeys(export_key(tmp_path)))
    with pyzipper.AESZipFile(io.BytesIO(packed)) as archive:
        with pytest.raises(RuntimeError):
            archive.read("termination-export.json")
        archive.setpassword(password.encode())
        raw = archive.read("termination-export.json")
        homework = archive.read(f"files/{'a' * 64}")
    assert b"PROTECT" in raw.split(b"\n", 1)[0]
    data = json.loads(raw)
    assert data["school"]["slug"] == school.slug
    assert {p["upn"] for p in data["tables"]["pupils"]} == {p.upn for p in school.pupils.values()}
    assert len(data["tables"]["audit_log"]) == before["audit_log"]
    # The records of achievement, readable with the pupil's UPN and ULN (issue: "included in the export").
    assert [(r["title"], r["uln"], r["upn"]) for r in data["learner_records"]] == [
        ("Grade 1 Piano", ULN, school.pupils["pupil1"].upn),
        ("School choir", ULN, school.pupils["pupil1"].upn),
    ]
    assert "password_hash" not in raw.decode() and "token_hash" not in raw.decode()
    # The files went with the export and left the store; the bystander's are where they were.
    assert homework == b"the school's homework" and not exported_files_dir(export).exists()
    assert not school_files_dir(tmp_path, school.id).exists()
    assert await store.get(file_key(bystander.id, "b" * 64)) == b"another school's homework"
    assert f"files:{school.id}" in report.step("destructions").applied

    # The audit log is append-only again: its guard was disabled only inside the destroying transaction.
    async with owner_engine.begin() as connection:
        enabled = (
            await connection.execute(
                text("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_log_append_only'")
            )
        ).scalar_one()
    assert enabled == "O"
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('app.school_ids', :s, true)"), {"s": str(bystander.id)}
            )
            await connection.execute(text("DELETE FROM audit_log WHERE school_id = :s"), {"s": bystander.id})

    # Running the jobs again destroys nothing more and the slug keeps answering 403.
    again = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["destructions"]
    )
    assert [a for a in again.step("destructions").applied if a.startswith(record_id)] == []
    gone = await client.post(f"/schools/{school.slug}/graphql", json={"query": "{ school { slug } }"})
    assert gone.status_code == 403


def _raw(global_id: str) -> str:
    import base64

    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":", 1)[1]


async def test_destruction_waits_for_its_day_and_needs_the_owner(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    trusts: TrustFactory,
    engine: AsyncEngine,
    owner_engine: AsyncEngine,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """LL-A 9.3 (return or destroy as the school directs): destruction can be set for a later day, leaving
    time to return the export; the runtime role alone cannot destroy (the runner needs the owner)."""
    operator = await platform_login(client, (await trusts.operator()).username)
    school = await factory.school()
    later = clock.platform_day() + timedelta(days=7)
    done = await platform_gql(
        client,
        TERMINATE,
        {
            "i": {
                "schoolId": to_global_id("School", school.id),
                "reason": "AT_LICENSEE_REQUEST",
                "confirmSlug": school.slug,
                "destroyOn": str(later),
            }
        },
        token=operator,
    )
    record_id = _raw(done["data"]["terminateSchool"]["destruction"]["id"])
    no_owner = await run_jobs(
        engine,
        owner_engine=None,
        data_dir=tmp_path,
        now=datetime.combine(later, datetime.min.time(), tzinfo=UTC),
        steps=["destructions"],
    )
    assert no_owner.step("destructions").skipped
    early = await run_jobs(
        engine, owner_engine=owner_engine, data_dir=tmp_path, now=clock.now(), steps=["destructions"]
    )
    assert not [a for a in early.step("destructions").applied if a.startswith(record_id)]
    assert (await rows_per_table(owner_engine, school.id))["pupils"] == len(school.pupils)
    on_the_day = await run_jobs(
        engine,
        owner_engine=owner_engine,
        data_dir=tmp_path,
        now=datetime.combine(later, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2),
        steps=["destructions"],
    )
    assert [a for a in on_the_day.step("destructions").applied if a.startswith(record_id)]
    assert sum((await rows_per_table(owner_engine, school.id)).values()) == 0
    response = await client.post(
        f"/schools/{school.slug}/graphql", json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}}
    )
    # The school stays terminated after its data is gone: its address refuses with the reason.
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "reason": "AT_LICENSEE_REQUEST",
    }

"""Roster over GraphQL: the upload, history, export, activation of imported accounts, role views, default deny."""

from __future__ import annotations

import base64
import gc
import io
import json
import uuid
import zipfile
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from roster.oneroster import SPECS_11
from tenants.context import bind
from tests.factories import clock
from tests.factories.people import new_school, new_upn
from tests.factories.roster import (
    NEW_PASSWORD,
    activate,
    activation_codes,
    csv_text,
    enrol,
    imported_accounts,
    klass,
    oneroster,
    set_org,
    upload,
    user,
    with_file,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login
from tests.test_roster_import import years_ago


def _package() -> bytes:
    return oneroster(
        users=[
            user("t1", "teacher", "Tina", "Tutor", username="tina.tutor", email="tina@school.example"),
            user("p1", "student", "Olly", "Older", username="olly.older"),
            user("p2", "student", "Yan", "Young", username="yan.young"),
            user("p3", "student", "Nia", "Other", username="nia.other"),
            user("m1", "parent", "Mo", "Older", username="mo.older", email="mo@home.example", agents="p1"),
        ],
        classes=[klass("c1", "Class 8T"), klass("c2", "Class 8U")],
        enrollments=[
            enrol("e1", "c1", "t1", "teacher"),
            enrol("e2", "c1", "p1"),
            enrol("e3", "c1", "p2"),
            enrol("e4", "c2", "p3"),
        ],
        demographics=[
            {"sourcedId": "p1", "birthDate": years_ago(14), "sex": "male"},
            {"sourcedId": "p2", "birthDate": years_ago(10), "sex": "female"},
            {"sourcedId": "p3", "birthDate": years_ago(14), "sex": "female"},
        ],
    )


async def _imported(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> tuple[SchoolData, str]:
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    admin = await login(client, school.slug, "admin")
    body = await upload(client, school.slug, admin, _package())
    assert body["data"]["importRoster"]["errors"] == [], body
    return school, admin


async def test_a_school_admin_uploads_a_package_dry_run_first(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL-A 4.1, LL 10.2: the school admin uploads the CSV package (GraphQL multipart request); the dry run
    reports the counts and writes nothing; the import writes; the history lists both with file name and
    SHA-256; the audit log has the import's counts and no personal data."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    admin = await login(client, school.slug, "admin")
    dry = (await upload(client, school.slug, admin, _package(), dry_run=True))["data"]["importRoster"]
    assert dry["errors"] == []
    assert dry["rosterImport"]["outcome"] == "DRY_RUN"
    created = {c["entity"]: c["create"] for c in dry["rosterImport"]["counts"] if c["create"]}
    assert created == {"groups": 2, "staff": 1, "pupils": 3, "contacts": 1, "memberships": 3, "teaching": 1,
                       "contactLinks": 1, "accounts": 5}  # fmt: skip
    pupils = "{ pupils(first: 100) { edges { node { forename } } } }"
    before = await gql(client, school.slug, pupils, token=admin)
    assert "Olly" not in str(before)

    clock.CLOCK.advance(timedelta(minutes=1))  # the history is in time order: each upload a minute apart
    real = (await upload(client, school.slug, admin, _package()))["data"]["importRoster"]
    assert real["rosterImport"]["outcome"] == "COMMITTED"
    assert real["rosterImport"]["counts"] == dry["rosterImport"]["counts"]
    assert "Olly" in str(await gql(client, school.slug, pupils, token=admin))
    clock.CLOCK.advance(timedelta(minutes=1))
    again = (await upload(client, school.slug, admin, _package()))["data"]["importRoster"]
    assert again["rosterImport"]["changes"] == 0

    history = await gql(
        client,
        school.slug,
        "{ importHistory(first: 2) { edges { node { outcome dryRun fileName sha256 importedBy changes "
        "warningCount problemCodes { code count } } } pageInfo { hasNextPage endCursor } } }",
        token=admin,
    )
    page = history["data"]["importHistory"]
    assert [n["node"]["outcome"] for n in page["edges"]] == ["COMMITTED", "COMMITTED"]
    assert page["pageInfo"]["hasNextPage"] is True
    node = page["edges"][1]["node"]
    assert node["fileName"] == "roster.zip" and len(node["sha256"]) == 64 and node["importedBy"] == "admin"
    rest = await gql(
        client,
        school.slug,
        "query($a: String) { importHistory(first: 5, after: $a) { edges { node { outcome dryRun } } } }",
        {"a": page["pageInfo"]["endCursor"]},
        token=admin,
    )
    assert [n["node"] for n in rest["data"]["importHistory"]["edges"]] == [
        {"outcome": "DRY_RUN", "dryRun": True}
    ]

    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        rows = (
            await session.execute(
                text("SELECT outcome, detail::text FROM audit_log WHERE action = 'roster.import' ORDER BY id")
            )
        ).all()
        importing = (
            (
                await session.execute(
                    text(
                        "SELECT action FROM audit_log WHERE request_id IN "
                        "(SELECT request_id FROM audit_log WHERE action = 'roster.import')"
                    )
                )
            )
            .scalars()
            .all()
        )
    # LRS 5.1, one event per action: each import is one entry, the service's, naming the mutation.
    assert importing == ["roster.import"] * 3
    assert [r.outcome for r in rows] == ["SUCCESS", "SUCCESS", "SUCCESS"]
    assert all(json.loads(r.detail)["mutation"] == "importRoster" for r in rows)
    detail = json.loads(rows[1].detail)
    assert detail["counts"]["pupils"]["create"] == 3 and detail["outcome"] == "COMMITTED"
    for personal in ("Olly", "olly.older", "tina@school.example", "Tutor", "p1"):
        assert personal not in rows[1].detail


async def test_a_refused_upload_says_why_and_records_the_attempt(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: a package that is not this school's is refused with its problems; the history records it."""
    school = await new_school(factory)
    admin = await login(client, school.slug, "admin")
    body = (await upload(client, school.slug, admin, _package()))["data"]["importRoster"]
    assert [e["code"] for e in body["errors"]] == ["ROSTER_REFUSED"]
    assert body["rosterImport"]["outcome"] == "REFUSED"
    assert [(p["file"], p["column"], p["code"]) for p in body["problems"] if p["severity"] == "ERROR"] == [
        ("orgs.csv", "sourcedId", "NOT_THIS_SCHOOL")
    ]
    body = (await upload(client, school.slug, admin, b"not a zip"))["data"]["importRoster"]
    assert [p["code"] for p in body["problems"]] == ["NOT_A_ZIP"]


async def test_imported_staff_and_parents_log_in_after_activation(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 11.3: the import creates accounts ready for activation (PENDING, no password); with a one-time code
    from a school admin, staff and parents choose a password and sign in; a code works once; an under-13
    pupil cannot be activated until parental consent is recorded (LL 6.3.2)."""
    school, admin = await _imported(client, engine, factory)
    accounts = await imported_accounts(client, school.slug, admin)
    assert {a["username"]: a["status"] for a in accounts.values()} == {
        "tina.tutor": "PENDING", "olly.older": "PENDING", "yan.young": "PENDING", "nia.other": "PENDING",
        "mo.older": "PENDING",
    }  # fmt: skip
    refused = await gql(
        client, school.slug, "mutation($u: String!) { login(input: {username: $u, password: \"x\"}) { errors { code } } }",
        {"u": "tina.tutor"},
    )  # fmt: skip
    assert refused["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"  # no password yet

    codes = await activation_codes(
        client, school.slug, admin, [accounts[u]["id"] for u in ("tina.tutor", "mo.older", "yan.young")]
    )
    for username in ("tina.tutor", "mo.older"):
        tokens = await activate(client, school.slug, username, codes[username])
        assert tokens["errors"] == [] and tokens["accessToken"]
        await login(client, school.slug, username, NEW_PASSWORD)
    again = await activate(client, school.slug, "tina.tutor", codes["tina.tutor"])
    assert [e["code"] for e in again["errors"]] == ["INVALID_ACTIVATION_CODE"]
    young = await activate(client, school.slug, "yan.young", codes["yan.young"])
    assert [e["code"] for e in young["errors"]] == ["PARENTAL_CONSENT_REQUIRED"]
    wrong = await activate(client, school.slug, "olly.older", "AAAA-BBBB-CCCC-DDDD")
    assert [e["code"] for e in wrong["errors"]] == ["INVALID_ACTIVATION_CODE"]

    parent = await login(client, school.slug, "mo.older", NEW_PASSWORD)
    children = await gql(client, school.slug, "{ viewer { children { forename } } }", token=parent)
    assert children["data"]["viewer"]["children"] == [{"forename": "Olly"}]


async def test_imported_pupils_appear_to_their_teachers(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: enrollments become memberships and teaching assignments, so the imported teacher sees the
    pupils of the class they teach, and no others (the role views)."""
    school, admin = await _imported(client, engine, factory)
    accounts = await imported_accounts(client, school.slug, admin)
    code = (await activation_codes(client, school.slug, admin, [accounts["tina.tutor"]["id"]]))["tina.tutor"]
    await activate(client, school.slug, "tina.tutor", code)
    teacher = await login(client, school.slug, "tina.tutor", NEW_PASSWORD)
    body = await gql(
        client,
        school.slug,
        "{ pupils(first: 50) { edges { node { forename } } } groups(first: 50) { edges { node { name kind "
        "pupils { forename } teachers { surname } } } } }",
        token=teacher,
    )
    assert "errors" not in body, body
    assert sorted(e["node"]["forename"] for e in body["data"]["pupils"]["edges"]) == ["Olly", "Yan"]
    assert [e["node"] for e in body["data"]["groups"]["edges"]] == [
        {"name": "Class 8T", "kind": "CLASS", "pupils": [{"forename": "Olly"}, {"forename": "Yan"}],
         "teachers": [{"surname": "Tutor"}]},
    ]  # fmt: skip


async def test_export_returns_a_oneroster_zip(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 5.1.4, LRS 6.6: the school's roster as a OneRoster 1.1 bulk zip marked PROTECT; the export is
    recorded in the audit log (counts only)."""
    school, admin = await _imported(client, engine, factory)
    body = await gql(
        client, school.slug, "mutation { exportRoster { fileName contentBase64 sha256 files { file rows } } }",
        token=admin,
    )  # fmt: skip
    payload = body["data"]["exportRoster"]
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(payload["contentBase64"])))
    assert b"PROTECT" in archive.comment
    users = archive.read("users.csv").decode()
    assert "olly.older" in users and "Password" not in users
    assert {f["file"]: f["rows"] for f in payload["files"]}["users.csv"] == len(school.staff) + len(
        school.pupils
    ) + len(school.contacts) + 5  # the factory has a parent or carer per pupil (their consent, LL 6.3.2)
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        detail = (
            await session.execute(text("SELECT detail::text FROM audit_log WHERE action = 'roster.export'"))
        ).scalar_one()
    assert "olly" not in detail and "users.csv" in detail


# --- default deny -------------------------------------------------------------------------------------

QUERIES = {
    "importHistory": "{ importHistory { edges { node { id fileName } } } }",
    "rosterSource": "{ rosterSource { orgSourcedId } }",
    "extendedDataSetting": "{ extendedDataSetting { enabled approvedBy } }",
    "extendedPupilData": "{ extendedPupilData { edges { node { senStatus } } } }",
}
MUTATIONS = {
    "exportRoster": "mutation { exportRoster { contentBase64 } }",
    "setRosterOrg": 'mutation { setRosterOrg(input: {orgSourcedId: "x"}) { rosterSource { orgSourcedId } } }',
    "optInToExtendedData": "mutation { optInToExtendedData { setting { enabled } } }",
    "revokeExtendedData": "mutation { revokeExtendedData { deletedRows } }",
    "issueActivationCodes": 'mutation { issueActivationCodes(input: {accountIds: ["x"]}) { codes { code } } }',
}


@pytest.mark.parametrize(
    "who", ["other-admin", "other-teacher", "teacher1", "senco", "pupil1", "parent1", "anonymous"]
)
async def test_only_this_schools_admins_reach_the_roster(
    who: str, client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 4.3, LL-A 3.2, LL-A 4.1: default deny. Another school's admin and staff (anonymous at this URL), this
    school's staff, pupils and parents, and anonymous callers get nothing of the roster fields: every query is
    null with an error, every mutation refused, the upload included; nothing changes."""
    school, admin = await _imported(client, engine, factory)
    other = await new_school(factory)
    if who.startswith("other-"):
        token: str | None = await login(
            client, other.slug, {"other-admin": "admin", "other-teacher": "teacher1"}[who]
        )
    elif who == "anonymous":
        token = None
    else:
        token = await login(client, school.slug, who)
    expected = "FORBIDDEN" if token and not who.startswith("other-") else "UNAUTHENTICATED"
    for name, query in {**QUERIES, **MUTATIONS}.items():
        body = await gql(client, school.slug, query, token=token)
        assert body["data"] is None or body["data"][name] is None, (name, body)
        assert [e["extensions"]["code"] for e in body["errors"]] == [expected], (name, body)
        assert "Olly" not in str(body)
    for strict in (False, True):
        body = await upload(
            client, school.slug, token, _package(), strict=strict, selection="rosterImport { id }"
        )
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == expected
    gc.collect()  # the denied upload's spooled file (see above), inside this test
    activation = await activate(client, school.slug, "olly.older", "ABCD-EFGH-JKMN-PQRS")
    assert [e["code"] for e in activation["errors"]] == ["INVALID_ACTIVATION_CODE"]
    # The admin still sees exactly one committed import, and the other school's admin none at its own URL.
    history = await gql(client, school.slug, QUERIES["importHistory"], token=admin)
    assert len(history["data"]["importHistory"]["edges"]) == 1
    other_admin = await login(client, other.slug, "admin")
    theirs = await gql(client, other.slug, QUERIES["importHistory"], token=other_admin)
    assert theirs["data"]["importHistory"]["edges"] == []
    source = await gql(client, other.slug, QUERIES["rosterSource"], token=other_admin)
    assert source["data"]["rosterSource"] is None


async def test_strict_upload_refuses_vendor_columns(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """LL 10.2: importRoster(strict: true) refuses a users.csv with a vendor column (an UNKNOWN_COLUMN error
    naming it) and writes nothing; without strict the same package imports with a warning."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    admin = await login(client, school.slug, "admin")
    header = (*SPECS_11["users.csv"], "ncYear")
    row = user("p1", "student", "Pat", "One", user_ids=f"{{UPN:{new_upn()}}}") | {"ncYear": "5"}
    package = with_file(
        oneroster(users=[row], absent=("classes.csv", "enrollments.csv")),
        "users.csv",
        csv_text(header, [[row.get(c, "") for c in header]]),
    )

    refused = (await upload(client, school.slug, admin, package, strict=True))["data"]["importRoster"]
    assert refused["rosterImport"]["outcome"] == "REFUSED"
    unknown = [
        (p["severity"], p["file"], p["column"]) for p in refused["problems"] if p["code"] == "UNKNOWN_COLUMN"
    ]
    assert unknown == [("ERROR", "users.csv", "ncYear")]
    assert await _count_pupil(engine, school.id) == 0

    imported = (await upload(client, school.slug, admin, package))["data"]["importRoster"]
    assert imported["rosterImport"]["outcome"] == "COMMITTED"
    unknown = [
        (p["severity"], p["file"], p["column"]) for p in imported["problems"] if p["code"] == "UNKNOWN_COLUMN"
    ]
    assert unknown == [("WARNING", "users.csv", "ncYear")]
    assert await _count_pupil(engine, school.id) == 1


async def _count_pupil(engine: AsyncEngine, school_id: uuid.UUID) -> int:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return int(
            (await session.execute(text("SELECT count(*) FROM pupils WHERE source_id = 'p1'"))).scalar_one()
        )

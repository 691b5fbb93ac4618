"""Tenant isolation, layer by layer (ARCHITECTURE "Tenancy: defence in depth").

1. Through the API: another school's ids return nothing, for every role and every lookup, and a token
   of one school is refused at another school's URL.
2. Row-level security alone: raw SQL on the runtime role, without the scoping helper, sees and writes
   only the bound school's rows, and nothing when unbound.
3. The catalog: every table with ``school_id`` has RLS enabled, forced and a policy; ``school_id`` leads
   every key and index; the runtime role is not superuser, cannot bypass RLS and owns nothing.
4. The source: no hand-written ``school_id ==`` filter outside ``tenants/scoping.py`` (the one scoping helper).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.settings import REPO_ROOT, Settings
from graph.core.relay import to_global_id
from tenants.context import bind
from tests.factories.schools import LOGIN, PASSWORD, SchoolData, SchoolFactory, gql, login

ROLES = ["admin", "teacher1", "teacher2", "senco", "pupil1", "parent1", "anonymous"]
NOT_FOR_PUPILS_AND_PARENTS = {"pupil1", "parent1"}


def _foreign_ids(school: SchoolData) -> dict[str, tuple[str, str]]:
    """alias -> (typed root field or "node", global id) for every pupil, staff, group and contact."""
    ids: dict[str, tuple[str, str]] = {}
    kinds: list[tuple[str, str | None, dict[str, Any]]] = [
        ("Pupil", "pupil", school.pupils),
        ("Staff", "staffMember", school.staff),
        ("Group", "group", school.groups),
        ("Contact", None, school.contacts),
    ]
    for kind, root, rows in kinds:
        for key, row in rows.items():
            global_id = to_global_id(kind, row.id)
            if root is not None:
                ids[f"x_{key}"] = (root, global_id)
            ids[f"n_{key}"] = ("node", global_id)
    return ids


def _lookup_query(ids: dict[str, tuple[str, str]]) -> str:
    lookups = " ".join(f'{alias}: {root}(id: "{gid}") {{ id }}' for alias, (root, gid) in ids.items())
    connections = (
        "pupils(first: 100, includeInactive: true) { edges { node { id email } } } "
        "staff(first: 100, includeInactive: true) { edges { node { id workEmail } } } "
        "groups(first: 100, includeInactive: true) { edges { node { id name } } } "
    )
    return f"{{ {connections} {lookups} }}"


@pytest.mark.parametrize("role", ROLES)
async def test_another_schools_ids_return_nothing(
    role: str, client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """Every lookup (pupil, staffMember, group, node, the connections) with another school's ids is empty.

    Including the school admin: being the master account of one school gives nothing of another. The
    same document at the other school's own URL, as its admin, finds every id (so the ids are real).
    """
    mine = await factory.school()
    theirs = await factory.school()
    ids = _foreign_ids(theirs)
    query = _lookup_query(ids)
    token = None if role == "anonymous" else await login(client, mine.slug, role)
    body = await gql(client, mine.slug, query, token=token)
    data = body["data"]
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}

    for alias in ids:
        assert data[alias] is None, alias
    if role == "anonymous":
        expected = {(alias,): "UNAUTHENTICATED" for alias in ids}
        expected |= {(c,): "UNAUTHENTICATED" for c in ("pupils", "staff", "groups")}
        assert errors == expected
    else:
        refused = role in NOT_FOR_PUPILS_AND_PARENTS
        assert errors == ({("staff",): "FORBIDDEN"} if refused else {})
        listed = {edge["node"]["id"] for c in ("pupils", "staff", "groups") for edge in _edges(data, c)}
        assert listed.isdisjoint(gid for _, gid in ids.values())
        if role == "admin":  # the admin lists its own school in full, so the lists above were not empty
            assert len(listed) == len(mine.pupils) + len(mine.staff) + len(mine.groups)
    # Nothing of the other school anywhere in the response: no id, no e-mail (they carry its slug).
    raw = str(body)
    assert theirs.slug not in raw
    assert not any(gid in raw for _, gid in ids.values())

    # Control: the other school's admin, at its own URL, finds every one of those ids.
    their_admin = await login(client, theirs.slug, "admin")
    control = await gql(client, theirs.slug, query, token=their_admin)
    assert "errors" not in control
    for alias, (_, gid) in ids.items():
        assert control["data"][alias] == {"id": gid}, alias


def _edges(data: dict[str, Any], connection: str) -> list[dict[str, Any]]:
    value = data.get(connection)
    return [] if value is None else value["edges"]


async def test_admin_mutations_cannot_reach_another_school(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """A school admin's mutations with another school's pupil and account ids find nothing and change nothing."""
    mine = await factory.school()
    theirs = await factory.school()
    token = await login(client, mine.slug, "admin")
    pupil = to_global_id("Pupil", theirs.pupils["pupil1"].id)
    account = to_global_id("Account", theirs.accounts["teacher1"].id)
    staff = to_global_id("Staff", theirs.staff["teacher2"].id)
    body = await gql(
        client,
        mine.slug,
        f"""mutation {{
          code: issueParentCode(input: {{pupilId: "{pupil}"}}) {{ code errors {{ field code }} }}
          reset: resetPassword(input: {{accountId: "{account}"}}) {{ temporaryPassword errors {{ field code }} }}
          disable: setAccountStatus(input: {{accountId: "{account}", status: DISABLED}}) {{
            account {{ id }} errors {{ field code }} }}
          create: createAccount(input: {{personId: "{staff}", username: "intruder"}}) {{
            account {{ id }} temporaryPassword errors {{ field code }} }}
        }}""",
        token=token,
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["code"] == {"code": None, "errors": [{"field": "pupilId", "code": "NOT_FOUND"}]}
    assert data["reset"] == {
        "temporaryPassword": None,
        "errors": [{"field": "accountId", "code": "NOT_FOUND"}],
    }
    assert data["disable"] == {"account": None, "errors": [{"field": "accountId", "code": "NOT_FOUND"}]}
    assert data["create"]["account"] is None and data["create"]["temporaryPassword"] is None
    assert [e["code"] for e in data["create"]["errors"]] == ["NOT_FOUND"]
    # Their teacher1 still signs in with the old password: nothing was reset or disabled.
    await login(client, theirs.slug, "teacher1")


async def test_a_parent_code_of_one_school_is_useless_at_another(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.4: a parent code links a child of the school that issued it, and only at that school's URL."""
    mine = await factory.school()
    theirs = await factory.school()
    admin = await login(client, mine.slug, "admin")
    pupil = to_global_id("Pupil", mine.pupils["pupil2"].id)
    issued = await gql(
        client,
        mine.slug,
        f'mutation {{ issueParentCode(input: {{pupilId: "{pupil}"}}) {{ code errors {{ code }} }} }}',
        token=admin,
    )
    code = issued["data"]["issueParentCode"]["code"]
    assert code

    registered = await gql(
        client,
        theirs.slug,
        """mutation($c: String!) { registerParent(input: {code: $c, username: "mallory-parent",
             password: "a long enough pass phrase here", forename: "Mal", surname: "Lory"}) {
             accessToken errors { field code } } }""",
        {"c": code},
    )
    assert registered["data"]["registerParent"]["accessToken"] is None
    assert [e["code"] for e in registered["data"]["registerParent"]["errors"]] == ["INVALID_PARENT_CODE"]

    their_parent = await login(client, theirs.slug, "parent1")
    linked = await gql(
        client,
        theirs.slug,
        "mutation($c: String!) { linkChild(input: {code: $c}) { linked errors { code } } }",
        {"c": code},
        token=their_parent,
    )
    assert linked["data"]["linkChild"]["linked"] is False
    assert [e["code"] for e in linked["data"]["linkChild"]["errors"]] == ["INVALID_PARENT_CODE"]
    children = await gql(client, theirs.slug, "{ viewer { children { id } } }", token=their_parent)
    assert children["data"]["viewer"]["children"] == [
        {"id": to_global_id("Pupil", theirs.pupils["pupil1"].id)}
    ]


async def test_a_token_of_one_school_is_refused_at_another(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """A token is for its school's URL only; elsewhere the caller is anonymous (and refresh fails)."""
    mine = await factory.school()
    theirs = await factory.school()
    body = await gql(client, mine.slug, LOGIN, {"u": "admin", "p": PASSWORD})
    access, refresh = body["data"]["login"]["accessToken"], body["data"]["login"]["refreshToken"]
    query = "{ viewer { username } pupils { edges { node { id } } } }"
    at_home = await gql(client, mine.slug, query, token=access)
    assert at_home["data"]["viewer"] == {"username": "admin"}
    assert len(at_home["data"]["pupils"]["edges"]) == len(mine.pupils)

    away = await gql(client, theirs.slug, query, token=access)
    assert away["data"] == {"viewer": None, "pupils": None}
    assert [(e["path"], e["extensions"]["code"]) for e in away["errors"]] == [(["pupils"], "UNAUTHENTICATED")]

    refreshed = await gql(
        client,
        theirs.slug,
        "mutation($r: String!) { refreshToken(input: {refreshToken: $r}) { accessToken errors { code } } }",
        {"r": refresh},
    )
    assert refreshed["data"]["refreshToken"]["accessToken"] is None
    assert refreshed["data"]["refreshToken"]["errors"] != []


# --- row-level security without the helper ------------------------------------------------------------


async def _tenant_tables(connection: Any) -> list[str]:
    """Tables of the public schema with a school_id column that the current role may read."""
    rows = await connection.execute(
        text(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'school_id' AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            ORDER BY c.relname
            """
        )
    )
    return [name for (name,) in rows]


async def test_rls_alone_confines_raw_sql_to_the_bound_school(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """RLS test: raw SQL with no school filter (no scoping helper) returns only the bound school's rows."""
    a = await factory.school()
    b = await factory.school()
    async with AsyncSession(engine) as session:
        await bind(session, [a.id])
        rows = (await session.execute(text("SELECT school_id, id FROM pupils"))).all()
        assert {school_id for school_id, _ in rows} == {a.id}
        assert {pupil_id for _, pupil_id in rows} == {p.id for p in a.pupils.values()}
        # Asking for the other school's rows by id, explicitly, still finds nothing.
        other = (await session.execute(text("SELECT id FROM pupils WHERE school_id = :b"), {"b": b.id})).all()
        assert other == []

    async with AsyncSession(engine) as session:
        await bind(session, [b.id])
        rows = (await session.execute(text("SELECT school_id FROM pupils"))).all()
        assert {school_id for (school_id,) in rows} == {b.id}

    # Bound to both (a trust's context), both are visible and nothing else.
    async with AsyncSession(engine) as session:
        await bind(session, [a.id, b.id])
        rows = (await session.execute(text("SELECT DISTINCT school_id FROM pupils"))).all()
        assert {school_id for (school_id,) in rows} == {a.id, b.id}


async def test_rls_unbound_sees_nothing_in_any_tenant_table(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """No setting means no rows: an unbound (or empty-bound) transaction reads nothing of any tenant table."""
    await factory.school()
    async with AsyncSession(engine) as session:
        tables = await _tenant_tables(session)
        assert {"pupils", "staff", "groups", "accounts"} <= set(tables)
        for table in tables:
            count = (await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
            assert count == 0, f"{table}: {count} rows visible without a tenant binding"
    async with AsyncSession(engine) as session:
        await bind(session, [])
        for table in tables:
            count = (await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
            assert count == 0, f"{table}: {count} rows visible with an empty binding"


async def test_rls_bound_to_one_school_sees_only_it_in_every_tenant_table(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """Every tenant table, raw SQL, bound to school A: no row of any other school is visible."""
    a = await factory.school()
    await factory.school()
    async with AsyncSession(engine) as session:
        await bind(session, [a.id])
        for table in await _tenant_tables(session):
            others = (
                await session.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE school_id IS DISTINCT FROM :a'), {"a": a.id}
                )
            ).scalar_one()
            assert others == 0, f"{table}: {others} rows of other schools visible"
        assert (await session.execute(text("SELECT count(*) FROM staff"))).scalar_one() == len(a.staff)


def _pupil_values(school_id: uuid.UUID) -> dict[str, Any]:
    return {
        "school_id": school_id,
        "id": uuid.uuid4(),
        "forename": "Mallory",
        "surname": "Intruder",
        "dob": date(2016, 5, 5),
        "upn": "A801200000001",
    }


INSERT_PUPIL = text(
    "INSERT INTO pupils (school_id, id, forename, surname, date_of_birth, gender, upn, active) "
    "VALUES (:school_id, :id, :forename, :surname, :dob, 'NOT_KNOWN', :upn, true)"
)


async def test_rls_with_check_refuses_writing_another_schools_rows(
    engine: AsyncEngine, factory: SchoolFactory
) -> None:
    """WITH CHECK: bound to A, a row carrying B's school_id cannot be inserted, nor an A row moved to B;
    B's rows cannot be updated or deleted (they are invisible)."""
    a = await factory.school()
    b = await factory.school()

    async with AsyncSession(engine) as session:
        await bind(session, [a.id])
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(INSERT_PUPIL, _pupil_values(b.id))

    async with AsyncSession(engine) as session:
        await bind(session, [a.id])
        # On Citus (ADR 0019) the distribution column cannot change at all, before the policy is checked.
        with pytest.raises(DBAPIError, match=r"row-level security|modifying the partition value"):
            await session.execute(
                text("UPDATE contacts SET school_id = :b WHERE id = :id"),
                {"b": b.id, "id": a.contacts["parent1"].id},
            )

    async with AsyncSession(engine) as session:
        await bind(session, [a.id])
        theirs = b.pupils["pupil1"].id
        updated = await session.execute(
            text("UPDATE pupils SET forename = 'x' WHERE id = :id"), {"id": theirs}
        )
        deleted = await session.execute(text("DELETE FROM group_pupils WHERE pupil_id = :id"), {"id": theirs})
        assert updated.rowcount == 0  # type: ignore[attr-defined]
        assert deleted.rowcount == 0  # type: ignore[attr-defined]
        # The same insert for the bound school is allowed: the refusal above was the policy, not the SQL.
        await session.execute(INSERT_PUPIL, _pupil_values(a.id))

    # Unbound, nothing can be written at all.
    async with AsyncSession(engine) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(INSERT_PUPIL, _pupil_values(a.id))


# --- the catalog --------------------------------------------------------------------------------------

TENANT_CATALOG = text(
    """
    SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity, a.attnum
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'school_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)


async def _catalog(owner_engine: AsyncEngine) -> dict[str, Any]:
    async with owner_engine.connect() as connection:
        tables = {row.relname: row for row in (await connection.execute(TENANT_CATALOG)).all()}
        policies = (
            await connection.execute(
                text(
                    "SELECT polrelid::regclass::text AS tbl, polname, polcmd::text AS polcmd, polpermissive, "
                    "pg_get_expr(polqual, polrelid) AS using_expr, "
                    "pg_get_expr(polwithcheck, polrelid) AS check_expr FROM pg_policy"
                )
            )
        ).all()
        indexes = (
            await connection.execute(
                text(
                    "SELECT indexrelid::regclass::text AS name, indrelid::regclass::text AS tbl, "
                    "indkey[0] AS first, indisprimary FROM pg_index"
                )
            )
        ).all()
        foreign_keys = (
            await connection.execute(
                text(
                    "SELECT conname, conrelid::regclass::text AS tbl, confrelid::regclass::text AS ref, "
                    "conkey, confkey FROM pg_constraint WHERE contype = 'f'"
                )
            )
        ).all()
    return {"tables": tables, "policies": policies, "indexes": indexes, "foreign_keys": foreign_keys}


async def test_catalog_every_tenant_table_has_forced_rls_and_the_tenant_policy(
    owner_engine: AsyncEngine,
) -> None:
    """Every table with school_id: RLS enabled AND forced (the owner too), with the tenant policy on all commands.

    Any other policy may only widen reading (SELECT), never writing.
    """
    catalog = await _catalog(owner_engine)
    tables = catalog["tables"]
    assert {"pupils", "staff", "groups", "group_pupils", "accounts", "parent_codes"} <= set(tables)
    for name, row in tables.items():
        assert row.relrowsecurity, f"{name}: row-level security not enabled"
        assert row.relforcerowsecurity, f"{name}: row-level security not forced"
        mine = [p for p in catalog["policies"] if p.tbl == name]
        assert mine, f"{name}: no policy"
        tenant = [
            p
            for p in mine
            if p.polcmd == "*"
            and p.polpermissive
            and "app.school_ids" in (p.using_expr or "")
            and "app.school_ids" in (p.check_expr or "")
            and "school_id" in p.using_expr
        ]
        assert tenant, f"{name}: no tenant policy on app.school_ids for all commands with WITH CHECK"
        for policy in mine:
            assert policy in tenant or policy.polcmd == "r" or not policy.polpermissive, (
                f"{name}: policy {policy.polname} widens writes ({policy.polcmd})"
            )


async def test_catalog_school_id_leads_every_key_index_and_tenant_foreign_key(
    owner_engine: AsyncEngine,
) -> None:
    """school_id leads every primary key, unique constraint and index, and pairs with school_id in every
    foreign key between tenant tables (what distributing by school_id needs)."""
    catalog = await _catalog(owner_engine)
    tables = catalog["tables"]
    attnum = {name: row.attnum for name, row in tables.items()}
    with_primary_key = set()
    for index in catalog["indexes"]:
        if index.tbl in tables:
            assert index.first == attnum[index.tbl], (
                f"{index.name} on {index.tbl} does not lead with school_id"
            )
            if index.indisprimary:
                with_primary_key.add(index.tbl)
    assert with_primary_key == set(tables), (
        f"tenant tables without a primary key: {set(tables) - with_primary_key}"
    )
    between_tenants = [fk for fk in catalog["foreign_keys"] if fk.tbl in tables and fk.ref in tables]
    assert between_tenants  # group_pupils -> pupils, accounts -> staff, ...
    for fk in between_tenants:
        assert fk.conkey[0] == attnum[fk.tbl] and fk.confkey[0] == attnum[fk.ref], (
            f"{fk.conname}: {fk.tbl} -> {fk.ref} does not pair school_id with school_id first"
        )


async def test_catalog_runtime_role_cannot_bypass_rls_and_owns_nothing(
    owner_engine: AsyncEngine, engine: AsyncEngine, settings: Settings
) -> None:
    """The runtime role: not superuser, NOBYPASSRLS, owns no table, sequence, function or schema, and cannot
    become the role that owns the tables."""
    role = settings.app_role
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT current_user"))).scalar_one() == role
    async with owner_engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT oid, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
            )
        ).one()
        assert row.rolsuper is False
        assert row.rolbypassrls is False
        owned = {
            "relations": "SELECT relname FROM pg_class WHERE relowner = :oid",
            "functions": "SELECT proname FROM pg_proc WHERE proowner = :oid",
            "schemas": "SELECT nspname FROM pg_namespace WHERE nspowner = :oid",
            "types": "SELECT typname FROM pg_type WHERE typowner = :oid",
        }
        for what, sql in owned.items():
            found = (await connection.execute(text(sql), {"oid": row.oid})).scalars().all()
            assert found == [], f"the runtime role owns {what}: {found}"
        owners = (
            (
                await connection.execute(
                    text(
                        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert owners
        for owner in owners:
            member = (
                await connection.execute(
                    text("SELECT pg_has_role(:r, :o, 'MEMBER')"), {"r": role, "o": owner}
                )
            ).scalar_one()
            assert member is False, f"the runtime role can act as the table owner {owner}"


# --- the source ---------------------------------------------------------------------------------------

HAND_WRITTEN_FILTER = re.compile(r"school_id\s*==|school_id\.in_\(|filter_by\([^)]*\bschool_id\s*=")
SCANNED = ("auth", "graph", "people", "server", "common", "models", "tenants", "learning", "subscriptions")
NOT_SCANNED = {"tests", "migrations"}
THE_HELPER = Path("tenants") / "scoping.py"


def _packages(root: Path) -> list[Path]:
    """The listed packages and any other top-level Python package, except tests and migrations."""
    found = {p.parent for p in root.glob("*/__init__.py")}
    found |= {root / name for name in SCANNED if (root / name).is_dir()}
    return sorted(p for p in found if p.name not in NOT_SCANNED and not p.name.startswith("."))


def hand_written_filters(root: Path) -> list[str]:
    hits = []
    for package in _packages(root):
        for path in sorted(package.rglob("*.py")):
            if path.relative_to(root) == THE_HELPER:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if HAND_WRITTEN_FILTER.search(line):
                    hits.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return hits


def test_no_hand_written_school_filters_outside_tenants() -> None:
    """Application scoping goes through THE helper in tenants/ (tenants/scoping.py), never a hand-written filter."""
    scanned = {p.name for p in _packages(REPO_ROOT)}
    assert set(SCANNED) <= scanned
    assert hand_written_filters(REPO_ROOT) == []


def test_the_source_scan_finds_a_hand_written_filter(tmp_path: Path) -> None:
    """The scan is not vacuous: it reports each form of hand-written filter anywhere, tenants/ included,
    and exempts only the scoping helper itself and tests/."""
    body = (
        "stmt = select(Pupil).where(Pupil.school_id == school)\n"
        "stmt = select(Pupil).where(Pupil.school_id==school)\n"
        "stmt = session.query(Pupil).filter_by(id=1, school_id=school)\n"
        "stmt = select(Pupil).where(Pupil.school_id.in_(schools))\n"
        "row = Pupil(school_id=school)\n"
    )
    for package, module in (
        ("people", "q.py"),
        ("tenants", "q.py"),
        ("tenants", "scoping.py"),
        ("tests", "q.py"),
    ):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / module).write_text(body)
    assert hand_written_filters(tmp_path) == [
        f"{package}/q.py:{line}: {text}"
        for package in ("people", "tenants")
        for line, text in (
            (1, "stmt = select(Pupil).where(Pupil.school_id == school)"),
            (2, "stmt = select(Pupil).where(Pupil.school_id==school)"),
            (3, "stmt = session.query(Pupil).filter_by(id=1, school_id=school)"),
            (4, "stmt = select(Pupil).where(Pupil.school_id.in_(schools))"),
        )
    ]

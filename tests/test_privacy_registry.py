"""The data registry against the migrated database (LL-S2 (v), LL-S2 (xii)): no table or column arrives
without a privacy decision, and every personal column is exported and erased."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import Settings
from privacy import erasure, exporter
from privacy.registry import REGISTRY, SCHOOL_SUBJECTS, Category, Erase, Subject, unclassified_entry

CATALOG = text(
    """
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
    ORDER BY c.table_name, c.ordinal_position
    """
)

CASCADES = text(
    """
    SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
    WHERE contype = 'f' AND confdeltype = 'c' AND connamespace = 'public'::regnamespace
    """
)


async def _catalog(owner_engine: AsyncEngine) -> dict[str, list[str]]:
    async with owner_engine.connect() as connection:
        rows = (await connection.execute(CATALOG)).all()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


async def test_every_table_and_column_of_the_catalog_is_classified(owner_engine: AsyncEngine) -> None:
    """LL-S2 (v), LL-S2 (xii): a table or column the registry does not classify fails here, with the entry
    to add; and the registry names nothing the database does not have."""
    catalog = await _catalog(owner_engine)
    problems = []
    for table, columns in catalog.items():
        known = REGISTRY.get(table)
        if known is None:
            problems.append(
                f"table {table} is not in the privacy registry: add to TABLES in privacy/registry.py\n    "
                + unclassified_entry(table, columns)
            )
            continue
        missing = [c for c in columns if c not in known.columns]
        if missing:
            problems.append(
                f"{table}: columns {missing} are not classified: add each to a category of its entry in "
                "privacy/registry.py (and a Link if it holds a person's id)"
            )
        stale = [c for c in known.columns if c not in columns]
        if stale:
            problems.append(f"{table}: the registry classifies columns the table has not: {stale}")
    for table in REGISTRY:
        if table not in catalog:
            problems.append(f"the registry classifies a table the database has not: {table}")
    assert problems == [], "\n".join(problems)


async def test_the_failure_message_names_the_entry_to_add() -> None:
    message = unclassified_entry("partners", ["id", "name", "contact_email"])
    assert message.startswith('entry("partners", Subject.')
    assert '="id name contact_email")' in message


async def test_the_eraser_covers_every_personal_column(owner_engine: AsyncEngine) -> None:
    """LL 5.1.6: every personal column of a school table goes when its person is erased: its row is deleted
    (by a link or a cascade the catalog confirms), or the column is a link that is blanked, or it is
    described by one; platform tables say whose they are instead."""
    async with owner_engine.connect() as connection:
        cascades = {(row[0], row[1]) for row in await connection.execute(CASCADES)}
    uncovered = []
    for table in REGISTRY.values():
        if not table.personal:
            continue
        if table.platform is not None:
            assert table.subject in (Subject.PLATFORM_USER, Subject.NONE), table.name
            continue
        if table.deleted_with is not None:
            assert (table.name, table.deleted_with) in cascades, f"{table.name} has no cascade"
            assert any(link.erase is Erase.DELETE_ROW for link in REGISTRY[table.deleted_with].links)
            continue
        fates = erasure.column_fates(table)
        uncovered += [
            f"{table.name}.{column}"
            for column in table.personal
            if column not in fates and column not in table.kept
        ]
    assert uncovered == []
    # The one column kept on purpose: the tombstone's sourcedId, with its reason and a retention period.
    kept = {(t.name, c): reason for t in REGISTRY.values() for c, reason in t.kept.items()}
    assert list(kept) == [("change_tombstones", "sourced_id")]
    assert "Art. 17(2)" in kept["change_tombstones", "sourced_id"]
    assert REGISTRY["change_tombstones"].retention.days == 30


def test_the_exporter_covers_every_personal_column() -> None:
    """LL 5.1.1, LL 5.1.4: every personal column of a table a school person reaches is in their export, but
    for one-way credentials, which are withheld (named in the export's manifest)."""
    reached = set()
    for subject in SCHOOL_SUBJECTS:
        for table in exporter.tables_for(subject):
            reached.add(table.name)
            exported = set(exporter.exported_columns(table))
            for column in table.personal:
                assert column in exported or table.columns[column] is Category.CREDENTIALS, (
                    f"{table.name}.{column}"
                )
                assert table.columns[column] is not Category.CREDENTIALS or column not in exported
    school_personal = {
        t.name
        for t in REGISTRY.values()
        if t.personal
        and t.platform is None
        and any(link.subject is not Subject.PLATFORM_USER for link in t.links)
    }
    assert school_personal - reached == set()


async def test_the_runtime_role_may_do_what_the_registry_says_an_erasure_does(
    owner_engine: AsyncEngine, settings: Settings
) -> None:
    """LL 5.1.6: the application's role holds DELETE on every table whose rows an erasure deletes, and UPDATE
    on every column it empties, replaces or blanks (a missing grant would fail the erasure at run time)."""
    role = settings.app_role
    missing = []
    async with owner_engine.connect() as connection:
        for table in REGISTRY.values():
            if table.platform is not None:
                continue
            for link in table.links:
                if link.erase is Erase.KEEP:
                    continue
                if link.erase is Erase.DELETE_ROW:
                    checks: list[tuple[str, str | None]] = [("DELETE", None)]
                else:
                    changed = link.also if link.erase is Erase.BLANK else (link.column, *link.also)
                    checks = [("UPDATE", column) for column in changed]
                for privilege, column in checks:
                    if column is None:
                        query = text("SELECT has_table_privilege(:r, :t, :p)")
                        params = {"r": role, "t": table.name, "p": privilege}
                    else:
                        query = text("SELECT has_column_privilege(:r, :t, :c, :p)")
                        params = {"r": role, "t": table.name, "c": column, "p": privilege}
                    if not (await connection.execute(query, params)).scalar_one():
                        missing.append(f"{privilege} {table.name}.{column or '*'}")
    assert missing == []

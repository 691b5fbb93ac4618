"""Staging tables: what an import read, loaded with COPY into temporary tables of its own transaction.

They are ``TEMPORARY ... ON COMMIT DROP``: private to the importing connection, gone when its transaction
ends (and with the SAVEPOINT a dry run or refused import rolls back), never visible to another school or
session, so they need no ``school_id`` and no row-level security. Every set-based check and write of an
import reads them (the checks, roster/checks_*.py, and the writes, roster/merge*.py and roster/matching.py).

On Citus (ADR 0019) a temporary table is a local table of the coordinator, which Citus cannot join to the
school's shards in these statements. There the same tables are permanent tenant tables (migration 0020:
``school_id`` first, row-level security, distributed by ``school_id`` with the school's rows), and
:mod:`roster.routing` adds the school to every statement so that each runs on the school's worker. Their
``school_id`` column is declared here but left out of the temporary tables (:func:`create_all`).

Rows arrive through :func:`copy_stream`, which takes a *synchronous* iterator of batches (the CSV parser),
runs each ``next()`` in a worker thread and feeds the rows to asyncpg's binary COPY as they come: memory
holds about one batch, and PostgreSQL loads one batch while Python parses the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import anyio
from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateIndex, CreateTable

from common.driver import begun

BATCH_ROWS = 5000
"""Rows parsed per batch: the unit of memory and of hand-over between the parser thread and COPY."""

metadata = MetaData()


SCHOOL = "school_id"
"""The column the permanent (Citus) staging tables have first; the temporary ones do not have it."""


def columns(table: Table) -> list[Column[Any]]:
    """The columns a statement reads of a staging table: all but ``school_id`` (the temporary tables have not
    got it)."""
    return [column for column in table.columns if column.name != SCHOOL]


def _temp(name: str, *columns: Any) -> Table:
    school = Column(SCHOOL, UUID(as_uuid=True))
    return Table(name, metadata, school, *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


PEOPLE = _temp(
    "roster_stage_people",
    Column("row_no", Integer),
    Column("file", Text),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("kind", Text),
    Column("role", Text),
    Column("username", Text),
    Column("title", Text),
    Column("forename", Text),
    Column("surname", Text),
    Column("email", Text),
    Column("secondary_email", Text),
    Column("phone", Text),
    Column("teaching", Boolean),
    Column("role_text", Text),
    Column("staff_code", Text),
    Column("date_of_leaving", Date),
    Column("upn", Text),
    Column("upn_column", Text),
    Column("uln", Text),
    Column("dob", Date),
    Column("gender", Text),
    Column("dob_file", Text),
    Column("dob_row", Integer),
    Column("agent_ids", ARRAY(Text)),
    Column("in_school", Boolean),
    Column("preferred_forename", Text),
)
"""Users (OneRoster), or pupils and staff (schoolgraph CSV). ``kind``: PUPIL, STAFF or CONTACT. ``role``: the
OneRoster role (staff keep it as ``staff_role``); ``forename`` is the legal given name, ``preferred_forename``
the one the person goes by (OneRoster 1.2 ``preferredGivenName``, schoolgraph's ``preferred_forename``)."""

PEOPLE_COPY = [
    "row_no",
    "file",
    "sourced_id",
    "status",
    "kind",
    "role",
    "username",
    "title",
    "forename",
    "surname",
    "email",
    "secondary_email",
    "phone",
    "teaching",
    "role_text",
    "staff_code",
    "date_of_leaving",
    "upn",
    "upn_column",
    "uln",
    "dob",
    "gender",
    "dob_file",
    "dob_row",
    "agent_ids",
    "in_school",
    "preferred_forename",
]

DEMOGRAPHICS = _temp(
    "roster_stage_demographics",
    Column("row_no", Integer),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("dob", Date),
    Column("gender", Text),
)

ROLES = _temp(
    "roster_stage_roles",
    Column("row_no", Integer),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("user_id", Text),
    Column("role_type", Text),
    Column("role", Text),
    Column("org_id", Text),
)
"""OneRoster 1.2 roles.csv: a user's role at an org."""

GROUPS = _temp(
    "roster_stage_groups",
    Column("row_no", Integer),
    Column("file", Text),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("name", Text),
    Column("type", Text),
    Column("year_group", Integer),
    Column("subject", Text),
    Column("term_ids", ARRAY(Text)),
)

TERMS = _temp(
    "roster_stage_terms",
    Column("row_no", Integer),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("title", Text),
    Column("type", Text),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("parent_id", Text),
    Column("school_year", Integer),
)

ENROLLMENTS = _temp(
    "roster_stage_enrollments",
    Column("row_no", Integer),
    Column("file", Text),
    Column("sourced_id", Text),
    Column("status", Text),
    Column("group_sid", Text),
    Column("person_sid", Text),
    Column("role", Text),
)
"""``role``: student or teacher (anything else is reported and skipped)."""

EXTENDED = _temp(
    "roster_stage_extended",
    Column("row_no", Integer),
    Column("pupil_sid", Text),
    Column("lea_care", Boolean),
    Column("sen_status", Text),
    Column("pupil_premium", Boolean),
    Column("eal", Boolean),
)

# Which database row each staged or referenced record is (filled by roster/matching.py once the package checks pass).
# ``staged``: the package defines the record (else it only references an existing one); ``active_row``: the
# staged row is not marked tobedeleted; ``created``: this import made the row.
MATCH_PEOPLE = _temp(
    "roster_match_people",
    Column("kind", Text, nullable=False),
    Column("sourced_id", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("adopt", Boolean, nullable=False),
    Column("created", Boolean, nullable=False),
    Column("staged", Boolean, nullable=False),
    Column("active_row", Boolean, nullable=False),
    PrimaryKeyConstraint("kind", "sourced_id"),
)
MATCH_GROUPS = _temp(
    "roster_match_groups",
    Column("sourced_id", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("created", Boolean, nullable=False),
    Column("staged", Boolean, nullable=False),
    Column("active_row", Boolean, nullable=False),
    PrimaryKeyConstraint("sourced_id"),
)
MATCH_TERMS = _temp(
    "roster_match_terms",
    Column("sourced_id", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("created", Boolean, nullable=False),
    Column("staged", Boolean, nullable=False),
    Column("active_row", Boolean, nullable=False),
    PrimaryKeyConstraint("sourced_id"),
)
KNOWN = _temp(
    "roster_known_people",
    Column("sourced_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Index("roster_known_people_sourced_id", "sourced_id"),
)
"""Every person the package defines or the school has, by the id a package knows them by (for references).
A person both staged and stored appears twice: harmless, it is only ever probed with hashed EXISTS."""
FLAGGED = _temp(
    "roster_flagged_enrollments",
    Column("file", Text),
    Column("row_no", Integer),
    Column("group_sid", Text),
    Column("person_sid", Text),
    Column("role", Text),
    Column("kind", Text),
    Column("unknown_class", Boolean),
    Column("unknown_user", Boolean),
    Column("mismatch", Boolean),
    Column("ignored", Boolean),
)
"""The enrollments some check flags, found in one pass over the (large) enrollments file."""
PAIRS = _temp(
    "roster_pairs",
    Column("a", UUID(as_uuid=True), nullable=False),
    Column("b", UUID(as_uuid=True), nullable=False),
    Column("ended", Boolean, nullable=False),
    Column("relationship", Text),
)
"""The links one kind of link should have (a group and a pupil, ...), computed once per kind of link. No
index: it is filled once (distinct) and only ever hash-joined, so an index would be pure cost."""
LEFT = _temp(
    "roster_left",
    Column("kind", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
)
"""People this import deactivated: their accounts are disabled and sessions revoked."""

LOADED = (PEOPLE, DEMOGRAPHICS, ROLES, GROUPS, TERMS, ENROLLMENTS, EXTENDED)
"""The tables files are copied into (the rest are filled by the import's statements)."""

ALL = (
    PEOPLE,
    DEMOGRAPHICS,
    ROLES,
    GROUPS,
    TERMS,
    ENROLLMENTS,
    EXTENDED,
    MATCH_PEOPLE,
    MATCH_GROUPS,
    MATCH_TERMS,
    KNOWN,
    FLAGGED,
    PAIRS,
    LEFT,
)


def _temporary_ddl(table: Table, dialect: Any) -> str:
    """CREATE TEMPORARY TABLE without the ``school_id`` column (only the permanent tables have it)."""
    ddl = CreateTable(table)
    ddl.columns = [column for column in ddl.columns if column.element.name != SCHOOL]
    return str(ddl.compile(dialect=dialect)).strip()


async def create_all(session: AsyncSession, routed: uuid.UUID | None = None) -> None:
    """Create every staging table afresh in the current transaction, in one statement.

    One ``DO`` block holds the whole DDL: fourteen tables and their indexes cost one round trip instead of
    about thirty. The tables of an earlier import in the same transaction (they live until its commit) are
    dropped first. On Citus (``routed``: the school) the staging tables are the permanent ones; what is
    created there is a temporary table to COPY each file into (:func:`copy_stream`), ``<table>_load``.
    """
    dialect = (await session.connection()).dialect
    tables = ALL if routed is None else LOADED
    existing = ", ".join(f'pg_temp."{_temporary_name(table, routed)}"' for table in tables)
    ddl = [f"DROP TABLE IF EXISTS {existing}"]
    for table in tables:
        if routed is None:
            ddl.append(_temporary_ddl(table, dialect))
            ddl.extend(str(CreateIndex(index).compile(dialect=dialect)).strip() for index in table.indexes)
        else:
            # names and columns: this module's tables'
            listed = ", ".join(f'"{column.name}"' for column in columns(table))
            load = _temporary_name(table, routed)
            select_ = f'SELECT {listed} FROM "{table.name}" WITH NO DATA'  # noqa: S608
            ddl.append(f'CREATE TEMPORARY TABLE "{load}" ON COMMIT DROP AS {select_}')
    body = ";\n".join(ddl)
    await session.execute(text(f"DO $ddl$ BEGIN\n{body};\nEND $ddl$"))


def _temporary_name(table: Table, routed: uuid.UUID | None) -> str:
    return table.name if routed is None else f"{table.name}_load"


async def clear(session: AsyncSession, routed: uuid.UUID | None) -> None:
    """On Citus, delete the school's staged rows before the import's transaction commits (one statement), so
    that no committed transaction ever holds one. A temporary table needs nothing: it goes at commit."""
    if routed is None:
        return
    school = str(uuid.UUID(str(routed)))
    # the table names are this module's; the school a UUID re-parsed above
    body = ";\n".join(f"DELETE FROM \"{table.name}\" WHERE {SCHOOL} = '{school}'" for table in ALL)  # noqa: S608
    await session.execute(text(f"DO $clear$ BEGIN\n{body};\nEND $clear$"))


async def analyze(session: AsyncSession, tables: Sequence[Table], routed: uuid.UUID | None = None) -> None:
    """Temporary tables get no autovacuum statistics; without them the planner guesses badly at scale.

    One ``ANALYZE`` names every table (none: no statement). Callers leave out tables they know are empty
    or unchanged since their last ANALYZE: there is nothing new to learn from them. On Citus (``routed``)
    nothing: the permanent tables are the owner's (the runtime role may not analyse them), and the import's
    settings keep the workers' plans off nested loops (roster/session_settings.py).
    """
    names = list(dict.fromkeys(f'"{table.name}"' for table in tables))
    if names and routed is None:
        await session.execute(text(f"ANALYZE {', '.join(names)}"))


async def raw_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's open transaction (begun, and bound
    to the request's school, if nothing had been sent in it yet: common.driver)."""
    return await begun(await session.connection())


async def copy_stream(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    batches: Iterator[list[tuple[Any, ...]]],
    *,
    label: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    routed: uuid.UUID | None = None,
) -> int:
    """COPY the rows of ``batches`` into ``table``; each batch is parsed in a worker thread. Returns a count.

    On Citus (``routed``: the school) row-level security refuses COPY into the permanent staging table's
    shards: the rows are copied into a temporary table of the coordinator (made by :func:`create_all`), then
    moved into the school's shard with one INSERT ... SELECT (:func:`roster.routing.execute`).
    """
    driver = await raw_connection(session)
    count = 0
    name = label or table.name
    target = _temporary_name(table, routed)

    async def records() -> Any:
        nonlocal count
        while True:
            batch = await anyio.to_thread.run_sync(next, batches, None)
            if batch is None:
                return
            count += len(batch)
            if progress is not None:
                progress(name, count)
            for record in batch:
                yield record

    await driver.copy_records_to_table(target, records=records(), columns=list(columns))
    if routed is not None:
        from roster import routing

        loaded = Table(target, MetaData(), *(Column(c) for c in columns))
        rows = select(*(loaded.c[c] for c in columns))
        await routing.execute(session, insert(table).from_select(list(columns), rows), routed)
    return count


def batched(rows: Iterator[tuple[Any, ...]], size: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

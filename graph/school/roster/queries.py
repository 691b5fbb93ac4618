"""The school schema's roster queries (school admins): import history, the school's OneRoster org and
the extended-data opt-in with the data it holds (LL-A 3.2).
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from auth import policies
from graph.audit import pupils_read
from graph.core.arguments import page_of
from graph.core.relay import connection, node_kind
from graph.permissions import guarded
from graph.school.roster.types import (
    ExtendedDataSettingType,
    ExtendedPupilDataConnection,
    ExtendedPupilDataType,
    RosterImportConnection,
    RosterImportType,
    RosterSourceType,
)
from privacy import extended_data
from roster import queries as roster_queries


async def _import_history(
    info: Info, first: int | None = None, after: str | None = None
) -> RosterImportConnection:
    ctx = info.context
    page = page_of(info, first, after)
    rows = await roster_queries.imports_page(ctx.session, ctx.tenant.id, page)
    return connection(rows, page, key=lambda r: (r.started_at.isoformat(), r.id), node=RosterImportType.of)


async def _roster_source(info: Info) -> RosterSourceType | None:
    row = await roster_queries.roster_source(info.context.session, info.context.tenant.id)
    return None if row is None else RosterSourceType(org_sourced_id=row.org_sourced_id, set_at=row.set_at)


async def _extended_setting(info: Info) -> ExtendedDataSettingType | None:
    row = await extended_data.setting(info.context.session, info.context.tenant.id)
    return None if row is None else ExtendedDataSettingType.of(row)


async def _extended_pupil_data(
    info: Info, first: int | None = None, after: str | None = None
) -> ExtendedPupilDataConnection:
    ctx = info.context
    page = page_of(info, first, after)
    rows = await extended_data.pupils_page(ctx.session, ctx.tenant.id, page)
    pupils_read(info, "extendedPupilData", (r.pupil_id for r in rows[: page.first]))
    return connection(rows, page, key=lambda r: (r.pupil_id,), node=ExtendedPupilDataType.of)


@node_kind("RosterImport", policies.SCHOOL_ADMIN)
async def _import_nodes(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    found = await roster_queries.imports_by_ids(info.context.session, info.context.tenant.id, ids)
    return {key: RosterImportType.of(row) for key, row in found.items()}


@strawberry.type
class RosterQuery:
    import_history: RosterImportConnection | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_import_history, description="Roster imports, newest first."
    )
    roster_source: RosterSourceType | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_roster_source, description="Which OneRoster org is this school."
    )
    extended_data_setting: ExtendedDataSettingType | None = guarded(
        policies.SCHOOL_ADMIN, resolver=_extended_setting, description="Null until first opted in."
    )
    extended_pupil_data: ExtendedPupilDataConnection | None = guarded(
        policies.SCHOOL_ADMIN,
        resolver=_extended_pupil_data,
        description="Stored extended pupil data (only while opted in: revoking deletes it).",
    )

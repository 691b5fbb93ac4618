"""The school schema's root query: the viewer, ``node``, and the connections of pupils, staff and groups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types import Info

from audit import queries as audit_queries
from auth import policies
from graph.audit import pupils_read
from graph.core.arguments import page_of
from graph.core.relay import NODE_KINDS, Node, connection, from_global_id, node_kind, to_global_id
from graph.limits import list_size
from graph.permissions import guarded, personal_data, public, refusal
from graph.school.people.types import (
    AccountType,
    ContactType,
    GroupConnection,
    GroupType,
    PupilConnection,
    PupilType,
    Role,
    StaffConnection,
    StaffType,
)
from people import queries


@dataclass(frozen=True)
class ViewerRow:
    id: uuid.UUID


@strawberry.type(
    name="School", description="The school at this address. Public: it is on the school's own URL."
)
class SchoolInfo:
    name: str
    slug: str


async def _viewer_pupil(root: Viewer, info: Info) -> PupilType | None:
    principal = info.context.principal
    if principal.pupil_id is None:
        return None
    rows = await queries.pupils_by_ids(info.context.session, principal, [principal.pupil_id])
    row = rows.get(principal.pupil_id)
    return None if row is None else PupilType.of(row)


async def _viewer_staff(root: Viewer, info: Info) -> StaffType | None:
    principal = info.context.principal
    if principal.staff_id is None:
        return None
    rows = await queries.staff_by_ids(info.context.session, principal, [principal.staff_id])
    row = rows.get(principal.staff_id)
    return None if row is None else StaffType.of(row)


async def _viewer_children(root: Viewer, info: Info) -> list[PupilType]:
    principal = info.context.principal
    if principal.role.value != "PARENT" or not principal.pupil_scope:
        return []
    rows = await queries.pupils_by_ids(info.context.session, principal, sorted(principal.pupil_scope))
    return [PupilType.of(r) for r in sorted(rows.values(), key=lambda p: (p.surname, p.forename, p.id))]


@personal_data
@strawberry.type(description="The signed-in account.")
class Viewer:
    row: strawberry.Private[ViewerRow]
    id: strawberry.ID = public("opaque identifier of the caller's own account")
    username: str | None = guarded(policies.OWN_ACCOUNT, password_change_exempt=True)
    roles: list[Role] | None = guarded(policies.OWN_ACCOUNT, password_change_exempt=True)
    must_change_password: bool | None = guarded(policies.OWN_ACCOUNT, password_change_exempt=True)
    pupil: PupilType | None = guarded(
        policies.OWN_ACCOUNT, resolver=_viewer_pupil, description="The caller's own pupil record (pupils)."
    )
    staff: StaffType | None = guarded(
        policies.OWN_ACCOUNT, resolver=_viewer_staff, description="The caller's own staff record (staff)."
    )
    children: list[PupilType] | None = guarded(
        policies.OWN_ACCOUNT,
        resolver=_viewer_children,
        description="A parent's linked children.",
        metadata=list_size(10),
    )


def _viewer(info: Info) -> Viewer | None:
    principal = info.context.principal
    if principal is None or principal.is_partner:  # a partner is no account: it has no viewer
        return None
    return Viewer(
        row=ViewerRow(principal.account_id),
        id=to_global_id("Account", principal.account_id),
        username=principal.username,
        roles=[Role(r) for r in principal.roles],
        must_change_password=principal.must_change_password,
    )


def _school(info: Info) -> SchoolInfo:
    tenant = info.context.tenant
    return SchoolInfo(name=tenant.name, slug=tenant.slug)


async def _pupils(
    info: Info, first: int | None = None, after: str | None = None, include_inactive: bool = False
) -> PupilConnection:
    page = page_of(info, first, after)
    rows = await queries.pupils_page(
        info.context.session, info.context.principal, page, include_inactive=include_inactive
    )
    # A bulk read of personal data, recorded with the pupils it returned (the access report's source).
    pupils_read(info, "pupils", (p.id for p in rows[: page.first]))
    return connection(rows, page, key=lambda p: (p.id,), node=PupilType.of)


async def _staff(
    info: Info, first: int | None = None, after: str | None = None, include_inactive: bool = False
) -> StaffConnection:
    page = page_of(info, first, after)
    rows = await queries.staff_page(
        info.context.session, info.context.principal, page, include_inactive=include_inactive
    )
    return connection(rows, page, key=lambda s: (s.id,), node=StaffType.of)


async def _groups(
    info: Info, first: int | None = None, after: str | None = None, include_inactive: bool = False
) -> GroupConnection:
    page = page_of(info, first, after)
    rows = await queries.groups_page(
        info.context.session, info.context.principal, page, include_inactive=include_inactive
    )
    return connection(rows, page, key=lambda g: (g.name, g.id), node=GroupType.of)


def _people_kind(prefix: str, policy: policies.Policy, fetch: Any, wrap: Any) -> None:
    async def by_ids(info: Info, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        rows = await fetch(info.context.session, info.context.principal, ids)
        return {key: wrap(row) for key, row in rows.items()}

    node_kind(prefix, policy)(by_ids)


_people_kind("Pupil", policies.SIGNED_IN, queries.pupils_by_ids, PupilType.of)
_people_kind("Staff", policies.SIGNED_IN, queries.staff_by_ids, StaffType.of)
_people_kind("Group", policies.SIGNED_IN, queries.groups_by_ids, GroupType.of)
_people_kind("Contact", policies.SIGNED_IN, queries.contacts_by_ids, ContactType.of)
_people_kind("Account", policies.SIGNED_IN, queries.accounts_by_ids, AccountType.of)


async def fetch_node(info: Info, id: strawberry.ID, *, kind: str | None = None) -> Any:
    """The object behind a global id if the caller may see it, by the same policy and row scope as the
    field that lists it (:data:`graph.core.relay.NODE_KINDS`); None for anything else, never an error."""
    decoded = from_global_id(id)
    if decoded is None or (kind is not None and decoded[0] != kind):
        return None
    found = NODE_KINDS.get(decoded[0])
    if found is None or refusal(found.policy, info.context.principal, None, info.context) is not None:
        return None
    return (await found.fetch(info, [decoded[1]])).get(decoded[1])


def _record_pupil_read(info: Info, node: Any) -> None:
    """A pupil's full record was read (LRS 5.1): who read it shows in the pupil access report."""
    if isinstance(node, PupilType):
        info.context.audit.record(audit_queries.PUPIL_READ, target_type="Pupil", target_id=node.row.id)


async def _node(info: Info, id: strawberry.ID) -> Node | None:
    node: Node | None = await fetch_node(info, id)
    _record_pupil_read(info, node)
    return node


async def _pupil(info: Info, id: strawberry.ID) -> PupilType | None:
    pupil: PupilType | None = await fetch_node(info, id, kind="Pupil")
    _record_pupil_read(info, pupil)
    return pupil


async def _staff_member(info: Info, id: strawberry.ID) -> StaffType | None:
    staff: StaffType | None = await fetch_node(info, id, kind="Staff")
    return staff


async def _group(info: Info, id: strawberry.ID) -> GroupType | None:
    group: GroupType | None = await fetch_node(info, id, kind="Group")
    return group


@strawberry.type
class Query:
    viewer: Viewer | None = public("says who the caller is; null when anonymous", resolver=_viewer)
    school: SchoolInfo = public("the school's name is on its own public URL", resolver=_school)
    node: Node | None = guarded(
        policies.SIGNED_IN_ROSTER, resolver=_node, description="Any object by global id, if visible."
    )
    pupils: PupilConnection | None = guarded(
        policies.SIGNED_IN_ROSTER,
        resolver=_pupils,
        description="Pupils the caller may see, by surname and forename.",
    )
    staff: StaffConnection | None = guarded(
        policies.STAFF_ROSTER, resolver=_staff, description="The staff directory (school admins and staff)."
    )
    groups: GroupConnection | None = guarded(
        policies.SIGNED_IN_ROSTER, resolver=_groups, description="Groups the caller may see."
    )
    pupil: PupilType | None = guarded(policies.SIGNED_IN_ROSTER, resolver=_pupil)
    staff_member: StaffType | None = guarded(policies.SIGNED_IN_ROSTER, resolver=_staff_member)
    group: GroupType | None = guarded(policies.SIGNED_IN_ROSTER, resolver=_group)

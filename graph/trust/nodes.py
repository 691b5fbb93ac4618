"""``node(id)`` on the trust schema: every object with an id that a trust admin's fields list, fetched by it
with the same scope as those fields: the trust's schools today, their school admins and licences (with
their invoices), the trust's novations, its destruction records and the caller's own account. Anything
else, another trust's included, is null."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy import or_, select
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from graph.core.relay import AdminNodeFetch, Node, admin_node_resolver
from graph.permissions import guarded
from graph.platform.context import AdminContext, trust_admin_of
from graph.platform.licences.types import InvoiceType, LicenceType
from graph.platform.novations.types import NovationType
from graph.platform.school_admins import SchoolAdminType
from graph.platform.types import DestructionRecordType
from graph.trust.queries import TrustAdminViewer, TrustSchool, fetch_school
from models import Account
from models.licensing import DestructionRecord, Invoice, Licence, LicenceSchool, Novation
from models.platform import TrustAdminAccount
from subscriptions import school_admins


def _trust_id(info: Info) -> uuid.UUID:
    ctx: AdminContext = info.context
    assert ctx.tenant is not None  # the trust of the URL
    return ctx.tenant.id


async def _school(info: Info, db_id: uuid.UUID) -> TrustSchool | None:
    return await fetch_school(info, db_id)


async def _viewer(info: Info, db_id: uuid.UUID) -> TrustAdminViewer | None:
    """Only the caller's own account, as ``viewer`` shows it."""
    if db_id != trust_admin_of(info).account_id:
        return None
    account = await info.context.session.get(TrustAdminAccount, db_id)
    return None if account is None else TrustAdminViewer.of(account)


async def _school_admin(info: Info, db_id: uuid.UUID) -> SchoolAdminType | None:
    """A school admin of one of the trust's schools today (the request is bound to them, so row-level
    security hides every other school's accounts)."""
    ctx: AdminContext = info.context
    account = (await ctx.session.execute(select(Account).where(Account.id == db_id))).scalar_one_or_none()
    if account is None or account.role != "SCHOOL_ADMIN" or account.school_id not in ctx.school_ids:
        return None
    views = await school_admins.school_admins(ctx.session, account.school_id)
    return next((SchoolAdminType.of(v) for v in views if v.account.id == db_id), None)


async def _licence_row(info: Info, db_id: uuid.UUID) -> Licence | None:
    """A licence the trust holds, or one covering one of its schools today."""
    ctx: AdminContext = info.context
    covering = select(LicenceSchool.licence_id).where(
        LicenceSchool.licence_id == db_id,
        LicenceSchool.tenant_id.in_(ctx.school_ids),  # type: ignore[attr-defined]
    )
    found = await ctx.session.execute(
        select(Licence).where(
            Licence.id == db_id,
            or_(Licence.licensee_trust_id == _trust_id(info), Licence.id.in_(covering)),  # type: ignore[attr-defined]
        )
    )
    return found.scalar_one_or_none()


async def _licence(info: Info, db_id: uuid.UUID) -> LicenceType | None:
    row = await _licence_row(info, db_id)
    return None if row is None else LicenceType.of(row)


async def _invoice(info: Info, db_id: uuid.UUID) -> InvoiceType | None:
    ctx: AdminContext = info.context
    row = await ctx.session.get(Invoice, db_id)
    if row is None or await _licence_row(info, row.licence_id) is None:
        return None
    return InvoiceType.of(row, ctx.today)


async def _novation(info: Info, db_id: uuid.UUID) -> NovationType | None:
    """A novation in (to this trust) or out (from it), open or closed."""
    row = await info.context.session.get(Novation, db_id)
    trust_id = _trust_id(info)
    if row is None or trust_id not in (row.to_trust_id, row.from_trust_id):
        return None
    return NovationType.of(row)


async def _destruction(info: Info, db_id: uuid.UUID) -> DestructionRecordType | None:
    """The destruction record of a terminated school of this trust (the handover's)."""
    row = await info.context.session.get(DestructionRecord, db_id)
    return None if row is None or row.trust_id != _trust_id(info) else DestructionRecordType.of(row)


TRUST_NODES: dict[str, AdminNodeFetch] = {
    "School": _school,
    "TrustAdmin": _viewer,
    "Account": _school_admin,
    "Licence": _licence,
    "Invoice": _invoice,
    "Novation": _novation,
    "DestructionRecord": _destruction,
}
"""Every kind of the trust schema's ``Node``, by the type name its global ids carry."""


@strawberry.type
class NodeQuery:
    node: Node | None = guarded(
        TRUST_ADMIN,
        resolver=admin_node_resolver(TRUST_NODES),
        description="Any object of this trust by its id (Relay); null for an id of no object or of another "
        "trust's.",
    )

"""``node(id)`` on the platform schema: every object with an id that an operator's fields list is fetched
by it (Relay's object identification, for an operator console's refetching and caches). Operators see the
whole platform's records (never a pupil's data), so each fetch is the row by its id, shaped by the same
``of`` as its listing field. The references (``SchoolRef``, ``TrustRef``) carry the ids of ``School`` and
``Trust``, which ``node`` returns whole."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy import select
from sqlmodel import SQLModel
from strawberry.types import Info

from auth.operators import OPERATOR
from graph.core.relay import AdminNodeFetch, Node, admin_node_resolver
from graph.permissions import guarded
from graph.platform.context import AdminContext, operator_of
from graph.platform.learning import PlatformReportType
from graph.platform.licences.types import InvoiceType, LicenceType
from graph.platform.novations.types import NovationType
from graph.platform.partners import PartnerType
from graph.platform.school_admins import SchoolAdminType
from graph.platform.types import (
    DestructionRecordType,
    OperatorViewer,
    PlatformSchool,
    SuspensionType,
    TrustAdminType,
    TrustType,
)
from graph.school.agreements.types import PolicyDocumentType
from learning import reports
from models import Account, School, Trust
from models.agreements import PolicyDocument
from models.licensing import DestructionRecord, Invoice, Licence, Novation, Suspension
from models.partners import Partner
from models.platform import OperatorAccount, TrustAdminAccount
from subscriptions import school_admins
from subscriptions.trusts import every_school


def by_row(model: type[SQLModel], of: Callable[[Any], Any]) -> AdminNodeFetch:
    """The fetch of a global table's row by its primary key, shaped by ``of``."""

    async def fetch(info: Info, db_id: uuid.UUID) -> Any:
        row = await info.context.session.get(model, db_id)
        return None if row is None else of(row)

    return fetch


async def _invoice(info: Info, db_id: uuid.UUID) -> InvoiceType | None:
    ctx: AdminContext = info.context
    row = await ctx.session.get(Invoice, db_id)
    return None if row is None else InvoiceType.of(row, ctx.today)


async def _operator(info: Info, db_id: uuid.UUID) -> OperatorViewer | None:
    """Only the caller's own account, as ``viewer`` shows it."""
    if db_id != operator_of(info).account_id:
        return None
    account = await info.context.session.get(OperatorAccount, db_id)
    return None if account is None else OperatorViewer.of(account)


async def _school_admin(info: Info, db_id: uuid.UUID) -> SchoolAdminType | None:
    """A school admin account at any school, as ``School.schoolAdmins`` shows it."""
    ctx: AdminContext = info.context
    async with ctx.binding_lock, every_school(ctx.session):
        account = (await ctx.session.execute(select(Account).where(Account.id == db_id))).scalar_one_or_none()
        if account is None or account.role != "SCHOOL_ADMIN":
            return None
        views = await school_admins.school_admins(ctx.session, account.school_id)
    return next((SchoolAdminType.of(v) for v in views if v.account.id == db_id), None)


async def _content_report(info: Info, db_id: uuid.UUID) -> PlatformReportType | None:
    ctx: AdminContext = info.context
    async with ctx.binding_lock, every_school(ctx.session):
        found = await reports.platform_reports(ctx.session, limit=1, report_id=db_id)
    return PlatformReportType.of(found[0]) if found else None


PLATFORM_NODES: dict[str, AdminNodeFetch] = {
    "Trust": by_row(Trust, TrustType.of),
    "School": by_row(School, PlatformSchool.of),
    "TrustAdmin": by_row(TrustAdminAccount, TrustAdminType.of),
    "Account": _school_admin,
    "Operator": _operator,
    "Licence": by_row(Licence, LicenceType.of),
    "Invoice": _invoice,
    "Novation": by_row(Novation, NovationType.of),
    "Suspension": by_row(Suspension, SuspensionType.of),
    "DestructionRecord": by_row(DestructionRecord, DestructionRecordType.of),
    "Partner": by_row(Partner, PartnerType.of),
    "PolicyDocument": by_row(PolicyDocument, PolicyDocumentType.of),
    "ContentReport": _content_report,
}
"""Every kind of the platform schema's ``Node``, by the type name its global ids carry."""


@strawberry.type
class NodeQuery:
    node: Node | None = guarded(
        OPERATOR,
        resolver=admin_node_resolver(PLATFORM_NODES),
        description="Any object of the platform by its id (Relay); null for an id of no object.",
    )

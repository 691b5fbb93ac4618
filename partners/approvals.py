"""A school's approval of integration partners (issue 14; LL 10.2, LL-A 4.1).

A school admin (a Super-User) sees the directory of registered partners, approves one with a subset of the
scopes it may ask for, and revokes it. Revocation is immediate: every partner request re-reads the approval
(:func:`partners.oauth.access`), so an unexpired token is refused from the very next request. The history
stays: a revoked approval keeps its row, and a new approval is a new row (and invalidates tokens of the old).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.principal import Principal
from common.errors import DomainError
from common.events import emit
from models.partners import Partner, PartnerApproval, PartnerToken
from partners import registry
from partners.scopes import normalise, unknown_scopes
from tenants.scoping import restrict, scoped, scoped_update


@dataclass(frozen=True)
class DirectoryEntry:
    partner: Partner
    approval: PartnerApproval | None
    """The approval in force at the school, if any."""


async def current(
    session: AsyncSession, school_id: uuid.UUID, partner_id: uuid.UUID
) -> PartnerApproval | None:
    """The school's approval of the partner in force, or None."""
    stmt = scoped(PartnerApproval, school_id).where(
        PartnerApproval.partner_id == partner_id, col(PartnerApproval.revoked_at).is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def directory(session: AsyncSession, school_id: uuid.UUID) -> list[DirectoryEntry]:
    """Every active partner, with the school's approval in force (None when not approved)."""
    partners = [p for p in await registry.all_partners(session) if p.status == "ACTIVE"]
    stmt = scoped(PartnerApproval, school_id).where(col(PartnerApproval.revoked_at).is_(None))
    approvals = {a.partner_id: a for a in (await session.execute(stmt)).scalars()}
    return [DirectoryEntry(p, approvals.get(p.id)) for p in partners]


async def approve(
    session: AsyncSession,
    principal: Principal | None,
    school_id: uuid.UUID,
    partner_id: uuid.UUID,
    scopes: Sequence[str],
    *,
    now: datetime,
) -> PartnerApproval:
    """Approve the partner at the school with ``scopes`` (a subset of what it may ask for). An approval
    already in force is replaced (revoked, then a new one: its tokens stop working). ``principal``: the
    approving school admin (None only for the demo seed)."""
    partner = await registry.get(session, partner_id)
    if partner.status != "ACTIVE":
        raise DomainError.one("partnerId", "PARTNER_DISABLED", "This partner is disabled by the operator.")
    unknown = unknown_scopes(scopes)
    if unknown:
        raise DomainError.one("scopes", "UNKNOWN_SCOPE", f"Unknown scope(s): {', '.join(unknown)}.")
    beyond = [s for s in scopes if s not in partner.allowed_scopes]
    if beyond:
        raise DomainError.one(
            "scopes",
            "SCOPE_NOT_ALLOWED",
            f"{partner.name} may not ask for {', '.join(beyond)}; it may ask for "
            f"{', '.join(partner.allowed_scopes)}.",
        )
    if not scopes:
        raise DomainError.one("scopes", "REQUIRED", "Approve at least one scope (or revoke the partner).")
    account = principal.account_id if principal is not None else None
    previous = await current(session, school_id, partner.id)
    if previous is not None:
        await _revoke_row(session, school_id, previous, account, now)
    approval = PartnerApproval(
        school_id=school_id,
        partner_id=partner.id,
        scopes=normalise(scopes),
        approved_at=now,
        approved_by=account,
    )
    session.add(approval)
    await emit(
        session,
        "partner.approved",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id, "scopes": approval.scopes},
    )
    return approval


async def revoke(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID, partner_id: uuid.UUID, *, now: datetime
) -> PartnerApproval:
    """Revoke the school's approval of the partner: its very next request is refused."""
    partner = await registry.get(session, partner_id)
    approval = await current(session, school_id, partner.id)
    if approval is None:
        raise DomainError.one("partnerId", "NOT_APPROVED", f"{partner.name} is not approved at this school.")
    await _revoke_row(session, school_id, approval, principal.account_id, now)
    await emit(
        session,
        "partner.revoked",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id},
    )
    return approval


async def _revoke_row(
    session: AsyncSession,
    school_id: uuid.UUID,
    approval: PartnerApproval,
    account: uuid.UUID | None,
    now: datetime,
) -> None:
    approval.revoked_at, approval.revoked_by = now, account
    await session.flush()
    # The approval's tokens are refused anyway (access() joins the approval in force); marking them too
    # makes introspection say so without a join.
    await session.execute(
        scoped_update(PartnerToken, school_id)
        .where(PartnerToken.approval_id == approval.id, col(PartnerToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def approved_partners(
    session: AsyncSession, school_id: uuid.UUID
) -> list[tuple[Partner, PartnerApproval]]:
    stmt: Select[Any] = restrict(
        select(Partner, PartnerApproval)
        .join(PartnerApproval, PartnerApproval.partner_id == Partner.id)
        .where(col(PartnerApproval.revoked_at).is_(None)),
        PartnerApproval,
        school_id,
    )
    return [(p, a) for p, a in (await session.execute(stmt)).all()]

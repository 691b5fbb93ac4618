# mypy: disable-error-code="attr-defined,union-attr"
"""Reports about content and their review (LL 13.3, LL 8.4).

Any signed-in user may report an item they can see. A school admin reviews reports about their school's
own uploads; the operator reviews any report (pre-loaded content only by the operator). A takedown hides
the item everywhere at once (lists, assignments, downloads, prints: it becomes an unknown item), settles
every open report about it, and records the decision, its reason and the reviewer; the uploader of a
school item can be suspended with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal, Role
from auth.service import set_account_status
from common import pagination as paging
from common.errors import DomainError, Problems
from common.events import emit_for_school
from common.pagination import Page, after_key
from learning.content import content_by_ids, same_item
from models import School
from models.content import ContentReport, PlatformContent, SchoolContent
from tenants.scoping import in_school, scoped, scoped_update

TAKE_DOWN, DISMISS = "TAKE_DOWN", "DISMISS"


async def report_content(
    session: AsyncSession, principal: Principal, content_id: uuid.UUID, reason: str, *, now: datetime
) -> ContentReport:
    """Any signed-in user reports a visible item; one open report per user and item."""
    problems = Problems()
    item = (await content_by_ids(session, principal, [content_id])).get(content_id)
    if item is None:
        problems.add("contentId", "CONTENT_NOT_FOUND", "No content with this id at this school.")
    text = (reason or "").strip()
    if not text:
        problems.add("reason", "REQUIRED", "Say what is wrong with the item.")
    elif len(text) > 2000:
        problems.add("reason", "TOO_LONG", "reason has at most 2000 characters.")
    if item is not None:
        mine = await session.execute(
            scoped(ContentReport, principal.school_id)
            .where(
                same_item(ContentReport, item),
                ContentReport.reported_by == principal.account_id,
                ContentReport.status == "OPEN",
            )
            .limit(1)
        )
        if mine.first() is not None:
            problems.add(
                "contentId", "ALREADY_REPORTED", "You have reported this item already; it awaits review."
            )
    problems.raise_if_any()
    assert item is not None
    row = ContentReport(
        school_id=principal.school_id,
        reason=text,
        reported_by=principal.account_id,
        reported_at=now,
        **item.refs,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Reviewer:
    """Who decides: a school admin's account, or the platform operator (``operator`` names them)."""

    account_id: uuid.UUID | None = None
    operator: str | None = None


async def _review(
    session: AsyncSession,
    school_id: uuid.UUID,
    reviewer: Reviewer,
    report_id: uuid.UUID,
    decision: str,
    note: str,
    *,
    suspend_uploader: bool,
    now: datetime,
) -> ContentReport:
    """Decide an open report (locked), taking the item down if so decided; every problem at once."""
    report = (
        await session.execute(
            scoped(ContentReport, school_id).where(ContentReport.id == report_id).with_for_update()
        )
    ).scalar_one_or_none()
    if report is None:
        raise DomainError.one("reportId", "NOT_FOUND", "No report with this id at this school.")
    text = _checked_decision(report, reviewer, decision, note, suspend_uploader=suspend_uploader)
    status = "TAKEN_DOWN" if decision == TAKE_DOWN else "DISMISSED"
    if decision == TAKE_DOWN:
        await _take_down(
            session, school_id, reviewer, report, text, suspend_uploader=suspend_uploader, now=now
        )
        await _settle_other_reports(session, school_id, reviewer, report, status, text, now=now)
    report.status = status
    report.reviewed_by = reviewer.account_id
    report.reviewed_by_operator = reviewer.operator
    report.decision_note = text
    report.reviewed_at = now
    report.uploader_suspended = suspend_uploader
    await session.flush()
    return report


def _checked_decision(
    report: ContentReport, reviewer: Reviewer, decision: str, note: str, *, suspend_uploader: bool
) -> str:
    """The decision's note, stripped; raises every problem with the decision at once."""
    problems = Problems()
    if report.status != "OPEN":
        problems.add("reportId", "ALREADY_REVIEWED", f"This report was reviewed already ({report.status}).")
    if decision not in (TAKE_DOWN, DISMISS):
        problems.add("decision", "INVALID_DECISION", "decision must be TAKE_DOWN or DISMISS.")
    text = (note or "").strip()
    if not text:
        problems.add("note", "REQUIRED", "Record the reason for the decision (it is shown to the school).")
    elif len(text) > 2000:
        problems.add("note", "TOO_LONG", "note has at most 2000 characters.")
    on_platform = report.platform_content_id is not None
    if on_platform and reviewer.operator is None:
        problems.add(
            "reportId",
            "OPERATOR_REVIEWS_PLATFORM_CONTENT",
            "Reports about pre-loaded content are reviewed by the platform operator.",
        )
    if suspend_uploader and (on_platform or decision != TAKE_DOWN):
        problems.add(
            "suspendUploader",
            "NOT_APPLICABLE",
            "Only the uploader of school content taken down can be suspended.",
        )
    problems.raise_if_any()
    return text


async def _take_down(
    session: AsyncSession,
    school_id: uuid.UUID,
    reviewer: Reviewer,
    report: ContentReport,
    reason: str,
    *,
    suspend_uploader: bool,
    now: datetime,
) -> None:
    """Hide the reported item (if not hidden already), and disable its school uploader if asked."""
    if report.platform_content_id is not None:
        await session.execute(
            update(PlatformContent)
            .where(PlatformContent.id == report.platform_content_id, PlatformContent.taken_down_at.is_(None))
            .values(taken_down_at=now, takedown_reason=reason)
        )
        return
    await session.execute(
        scoped_update(SchoolContent, school_id)
        .where(SchoolContent.id == report.school_content_id, SchoolContent.taken_down_at.is_(None))
        .values(taken_down_at=now, taken_down_by=reviewer.account_id, takedown_reason=reason)
    )
    if suspend_uploader:
        uploader = (
            await session.execute(
                select(SchoolContent.uploaded_by).where(
                    in_school(SchoolContent, school_id), SchoolContent.id == report.school_content_id
                )
            )
        ).scalar_one()
        await set_account_status(
            session, school_id, [uploader], status="DISABLED", reason="CONTENT_TAKEDOWN", now=now
        )


async def _settle_other_reports(
    session: AsyncSession,
    school_id: uuid.UUID,
    reviewer: Reviewer,
    report: ContentReport,
    status: str,
    note: str,
    *,
    now: datetime,
) -> None:
    """Every other open report about the same item gets the same decision (a takedown settles them all)."""
    same = (
        ContentReport.platform_content_id == report.platform_content_id
        if report.platform_content_id is not None
        else ContentReport.school_content_id == report.school_content_id
    )
    await session.execute(
        scoped_update(ContentReport, school_id)
        .where(same, ContentReport.status == "OPEN", ContentReport.id != report.id)
        .values(
            status=status,
            reviewed_by=reviewer.account_id,
            reviewed_by_operator=reviewer.operator,
            decision_note=note,
            reviewed_at=now,
        )
    )


async def review_report(
    session: AsyncSession,
    principal: Principal,
    report_id: uuid.UUID,
    decision: str,
    note: str,
    *,
    suspend_uploader: bool = False,
    now: datetime,
) -> ContentReport:
    """A school admin decides a report about their school's own upload (LL 13.3, LL 8.4)."""
    if principal.role is not Role.SCHOOL_ADMIN:
        raise DomainError.one(None, "FORBIDDEN", "Only school admins review reports.")
    return await _review(
        session,
        principal.school_id,
        Reviewer(account_id=principal.account_id),
        report_id,
        decision,
        note,
        suspend_uploader=suspend_uploader,
        now=now,
    )


async def operator_review_report(
    session: AsyncSession,
    school_id: uuid.UUID,
    report_id: uuid.UUID,
    decision: str,
    note: str,
    *,
    operator: str,
    suspend_uploader: bool = False,
    now: datetime,
) -> ContentReport:
    """The operator decides any report (the platform endpoint binds the transaction to the school).

    Taking down pre-loaded content hides it at every school at once (LL 8.4). The decision is emitted to the
    school's chain and the platform log.
    """
    report = await _review(
        session,
        school_id,
        Reviewer(operator=operator),
        report_id,
        decision,
        note,
        suspend_uploader=suspend_uploader,
        now=now,
    )
    await emit_for_school(
        session,
        school_id,
        "content.report_reviewed",
        target_type="ContentReport",
        target_id=report.id,
        detail={"decision": decision, "by": "operator"},
    )
    return report


async def reports_page(
    session: AsyncSession, principal: Principal, page: Page, *, status: str | None = None
) -> list[ContentReport]:
    """Reports, newest first (school admins: the GraphQL edge checks the policy)."""
    stmt = scoped(ContentReport, principal.school_id)
    if status is not None:
        stmt = stmt.where(ContentReport.status == status)
    after = after_key(page, paging.TIMESTAMP, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(ContentReport.reported_at, ContentReport.id) < tuple_(*after))
    stmt = stmt.order_by(ContentReport.reported_at.desc(), ContentReport.id.desc()).limit(page.first + 1)
    return list((await session.execute(stmt)).scalars().all())


async def reports_by_ids(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ContentReport]:
    """Reports by id (school admins: the GraphQL edge checks the policy)."""
    if not ids:
        return {}
    stmt = scoped(ContentReport, principal.school_id).where(ContentReport.id.in_(ids))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


@dataclass(frozen=True)
class PlatformReport:
    """A report about a pre-loaded item, as the operator reviews it: which school, which item, why.

    Who reported it is not shown (the operator decides about the content, not the reporter)."""

    report: ContentReport
    school_slug: str
    content_code: str
    content_title: str


async def platform_reports(
    session: AsyncSession, *, status: str | None = None, limit: int, report_id: uuid.UUID | None = None
) -> list[PlatformReport]:
    """Reports about pre-loaded content at every school bound to the transaction, newest first: the
    operator's to review (LL 13.3, LL 8.4). The platform endpoint binds every school for this call."""
    stmt = (
        select(ContentReport, School.slug, PlatformContent.code, PlatformContent.title)
        .join(School, School.id == ContentReport.school_id)
        .join(PlatformContent, PlatformContent.id == ContentReport.platform_content_id)
        .order_by(ContentReport.reported_at.desc(), ContentReport.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(ContentReport.status == status)
    if report_id is not None:
        stmt = stmt.where(ContentReport.id == report_id)
    return [PlatformReport(*row) for row in (await session.execute(stmt)).all()]

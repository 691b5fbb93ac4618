"""Publishing a version of a document (LL 21, LRS 3, LL 3.1, LL 6.2, LRS 1.1): the operator's side.

A version is published with the UTC date it takes effect (the platform's day, ``common.clock``) and a
summary of what changed; it can never be edited or withdrawn, only superseded by a later version. In the
same transaction every school that is not terminated hears of it: its Super-Users by e-mail (the outbox),
and every user in their notices inbox, which is derived from the published documents
(``privacy.agreements``). A school with no Super-User cannot be told by e-mail: publishing returns those
schools, so the operator sees that nobody there was told, instead of a notice "sent" to no one.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import platform_today
from common.errors import Problems
from common.events import emit
from models import School
from models.agreements import (
    BODY_MAX,
    DOCUMENT_KINDS,
    LICENCE_TERMS,
    LRS_AGREEMENT,
    SUMMARY_MAX,
    TITLE_MAX,
    VERSION_MAX,
    PolicyDocument,
)
from models.platform import SuperUser
from subscriptions import outbox
from tenants.context import bound
from tenants.scoping import in_schools

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

WHO_ACCEPTS = {
    LICENCE_TERMS: "one of the school's Super-Users, for the school, before anyone else there can continue",
    LRS_AGREEMENT: "every user, before any ULN or learner record is shown to them",
}
EVERY_USER = "every user (a parent for a child under 13), before anything else works"
LISTED = 200
"""At most this many versions are listed to the operator."""


@dataclass(frozen=True)
class Draft:
    kind: str
    version: str
    title: str
    body: str
    summary_of_changes: str
    effective_on: date
    """The platform's (UTC) date from whose start the version binds."""


@dataclass(frozen=True)
class Published:
    document: PolicyDocument
    schools_told: int
    schools_without_super_user: list[School]


def _check(draft: Draft, today: date) -> Problems:
    problems = Problems()
    if draft.kind not in DOCUMENT_KINDS:
        problems.add("kind", "UNKNOWN_KIND", f"One of {', '.join(DOCUMENT_KINDS)}.")
    if not VERSION.fullmatch(draft.version) or len(draft.version) > VERSION_MAX:
        problems.add(
            "version",
            "INVALID_VERSION",
            f"Letters, digits, '.', '_' or '-', at most {VERSION_MAX} characters.",
        )
    for field, value, limit in (
        ("title", draft.title, TITLE_MAX),
        ("body", draft.body, BODY_MAX),
        ("summaryOfChanges", draft.summary_of_changes, SUMMARY_MAX),
    ):
        if not value.strip():
            problems.add(field, "REQUIRED", "Required: users are told what changed and read the whole text.")
        elif len(value) > limit:
            problems.add(field, "TOO_LONG", f"At most {limit} characters (this has {len(value)}).")
    if draft.effective_on < today:
        problems.add("effectiveOn", "IN_PAST", f"A version takes effect today ({today}) or later.")
    return problems


async def publish(session: AsyncSession, draft: Draft, *, by: uuid.UUID | None, now: datetime) -> Published:
    """Publish a version and tell every school that is not terminated (module docstring), in one transaction."""
    problems = _check(draft, platform_today(now))
    effective_from = datetime.combine(draft.effective_on, time(0), tzinfo=UTC)
    if not problems:
        latest = (
            await session.execute(
                select(func.max(PolicyDocument.effective_from)).where(PolicyDocument.kind == draft.kind)
            )
        ).scalar_one_or_none()
        if latest is not None and effective_from <= latest:
            problems.add(
                "effectiveOn",
                "NOT_AFTER_LATEST",
                f"The latest version of this kind takes effect on {latest:%Y-%m-%d}: a new one must come after.",
            )
        taken = (
            await session.execute(
                select(PolicyDocument.id).where(
                    PolicyDocument.kind == draft.kind, PolicyDocument.version == draft.version
                )
            )
        ).first()
        if taken is not None:
            problems.add(
                "version", "DUPLICATE_VERSION", f"Version {draft.version} of this kind exists already."
            )
    problems.raise_if_any()
    document = PolicyDocument(
        kind=draft.kind,
        version=draft.version,
        title=draft.title.strip(),
        body=draft.body,
        summary_of_changes=draft.summary_of_changes.strip(),
        effective_from=effective_from,
        published_at=now,
        published_by=by,
    )
    session.add(document)
    await session.flush()
    told, without = await _tell_schools(session, document, now=now)
    await emit(
        session,
        "document.published",
        target_type="PolicyDocument",
        target_id=document.id,
        detail={
            "kind": document.kind,
            "version": document.version,
            "effectiveFrom": document.effective_from.isoformat(),
            "schoolsTold": told,
            "schoolsWithoutSuperUser": [str(s.id) for s in without],
        },
    )
    return Published(document, told, without)


async def _tell_schools(
    session: AsyncSession, document: PolicyDocument, *, now: datetime
) -> tuple[int, list[School]]:
    """Queue the e-mail to each live school's Super-Users; the schools that have none."""
    schools = list(
        (
            await session.execute(select(School).where(School.status != "TERMINATED").order_by(School.name))
        ).scalars()
    )
    ids = [s.id for s in schools]
    async with bound(session, ids):
        with_super_users = set(
            (
                await session.execute(
                    select(SuperUser.school_id).where(in_schools(SuperUser, ids)).distinct()
                )
            ).scalars()
        )
    who = WHO_ACCEPTS.get(document.kind, EVERY_USER)
    told = 0
    for school in schools:
        if school.id not in with_super_users:
            continue
        await outbox.enqueue(
            session,
            kind="DOCUMENT_PUBLISHED",
            subject=f"{document.title} {document.version}: in force from {document.effective_from:%Y-%m-%d}",
            body=(
                f'A new version ({document.version}) of "{document.title}" takes effect on '
                f"{document.effective_from:%Y-%m-%d} (UTC) for {school.name}. It must be accepted by {who}.\n\n"
                f"What changed:\n{document.summary_of_changes}\n\n"
                "Every user of the school finds it in their notices, where they can read and accept it."
            ),
            now=now,
            tenant_id=school.id,
            dedupe_key=f"document:{document.id}:{school.id}",
        )
        told += 1
    return told, [s for s in schools if s.id not in with_super_users]


async def published(session: AsyncSession, kind: str | None = None) -> list[PolicyDocument]:
    """Every published version (of ``kind``), by kind, newest first: the operator's list."""
    effective: Any = PolicyDocument.effective_from
    stmt = select(PolicyDocument).order_by(PolicyDocument.kind, effective.desc()).limit(LISTED)
    if kind is not None:
        stmt = stmt.where(PolicyDocument.kind == kind)
    return list((await session.execute(stmt)).scalars())

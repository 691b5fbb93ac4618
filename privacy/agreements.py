"""Accepting the platform's documents (LL 21, LRS 3, LL 3.1, LL 6.2, LRS 1.1), the notices inbox and the
acceptance report. Operators publish documents (``subscriptions.documents``); this is the school's side.

Who accepts what (one rule, :func:`_check`):

* the licence terms, for the school, by one of its Super-Users;
* the privacy notice, the acceptable use policy and the LRS user agreement, by every user for themselves;
  for a pupil under 13 (on the school's date) by a parent linked to them, or by a school admin from the
  parent's paper form (``evidenceReference``). A pupil of 13 or over accepts for themselves.

Only the current version of a kind, or an upcoming one (published, not yet in force), can be accepted; an
acceptance is recorded once (accepting again changes nothing) and emitted to the school's audit chain.
What a caller still owes is decided by the SQL in :mod:`auth.agreements`, which the principal asks on every
request; this module's queries use the same predicates, so the report and the gate cannot disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from auth.agreements import CONSENT_AGE, accepted_by, born_after, current_document, under_13
from auth.principal import Principal, Role
from common.errors import DomainError, Problems
from common.events import emit
from models import Account, Pupil
from models.agreements import (
    EVIDENCE_REFERENCE_MAX,
    LICENCE_TERMS,
    DocumentAcceptance,
    NoticeRead,
    PolicyDocument,
)
from tenants.scoping import in_school

LISTED = 100
"""At most this many accounts are named per document in the report (the count beside it is exact)."""


def _latest(now: datetime) -> Select[Any]:
    """Every kind's current version and its upcoming one, if any: no document a newer *current* one has
    superseded (an upcoming version supersedes nothing until its date)."""
    newer = aliased(PolicyDocument)
    superseded = (
        select(newer.id)
        .where(
            newer.kind == PolicyDocument.kind,
            newer.effective_from <= now,
            newer.effective_from > PolicyDocument.effective_from,
        )
        .exists()
    )
    return (
        select(PolicyDocument)
        .where(PolicyDocument.published_at <= now, ~superseded)
        .order_by(PolicyDocument.kind, PolicyDocument.effective_from)
    )


def _for_caller(principal: Principal) -> ColumnElement[bool]:
    """The documents a caller is told of: the licence terms only to school admins (the school's contract);
    every other kind to everyone (parents included, LL 6.2)."""
    kind: ColumnElement[str] = PolicyDocument.kind  # type: ignore[assignment]
    return true() if principal.role is Role.SCHOOL_ADMIN else kind != LICENCE_TERMS


@dataclass(frozen=True)
class DocumentView:
    """A document as one caller sees it: whether it binds now, whether they (or the school) accepted it."""

    document: PolicyDocument
    current: bool
    accepted_at: datetime | None
    read_at: datetime | None


async def documents(session: AsyncSession, principal: Principal, *, now: datetime) -> list[DocumentView]:
    """The current and upcoming documents of the caller's inbox, with their acceptance and read marks."""
    school = principal.school_id
    mine: ColumnElement[bool] = and_(
        DocumentAcceptance.account_id == principal.account_id,
        DocumentAcceptance.on_behalf_of_pupil_id.is_(None),  # type: ignore[union-attr]
    )
    if principal.role is Role.PUPIL and principal.pupil_id is not None:
        # A child's acceptance is made for them: any acceptance on their behalf counts.
        mine = or_(mine, DocumentAcceptance.on_behalf_of_pupil_id == principal.pupil_id)
    own = (
        select(func.min(DocumentAcceptance.accepted_at))
        .where(
            in_school(DocumentAcceptance, school),
            DocumentAcceptance.document_id == PolicyDocument.id,
            # The licence terms are the school's: any Super-User's acceptance is the school's.
            or_(PolicyDocument.kind == LICENCE_TERMS, mine),
        )
        .scalar_subquery()
    )
    read = (
        select(NoticeRead.read_at)
        .where(
            in_school(NoticeRead, school),
            NoticeRead.account_id == principal.account_id,
            NoticeRead.document_id == PolicyDocument.id,
        )
        .scalar_subquery()
    )
    stmt = (
        _latest(now)
        .where(_for_caller(principal))
        .add_columns(PolicyDocument.effective_from <= now, own, read)
    )
    rows = await session.execute(stmt)
    return [
        DocumentView(doc, bool(current), accepted, read_at) for doc, current, accepted, read_at in rows.all()
    ]


async def accept(
    session: AsyncSession,
    principal: Principal,
    document_ids: Sequence[uuid.UUID],
    *,
    on_behalf_of: uuid.UUID | None = None,
    evidence_reference: str | None = None,
    now: datetime,
) -> list[DocumentAcceptance]:
    """Record the caller's acceptance of these versions (for themselves, for the school, or for a child)."""
    problems = Problems()
    if not document_ids:
        problems.add("documentIds", "REQUIRED", "Name at least one document to accept.")
    reference = (evidence_reference or "").strip() or None
    if reference is not None and len(reference) > EVIDENCE_REFERENCE_MAX:
        problems.add("evidenceReference", "TOO_LONG", f"At most {EVIDENCE_REFERENCE_MAX} characters.")
    problems.raise_if_any()
    latest = {doc.id: doc for doc in (await session.execute(_latest(now))).scalars()}
    named = PolicyDocument.id.in_(document_ids)  # type: ignore[attr-defined]
    known = set((await session.execute(select(PolicyDocument.id).where(named))).scalars())
    for index, document_id in enumerate(document_ids):
        field = f"documentIds.{index}"
        if document_id not in known:
            problems.add(field, "NOT_FOUND", "No such document.")
        elif document_id not in latest:
            problems.add(field, "SUPERSEDED", "A newer version is in force: accept that one.")
    problems.raise_if_any()
    if on_behalf_of is not None:
        await _check_child(session, principal, on_behalf_of, reference, now=now)
    elif reference is not None:
        raise DomainError.one(
            "evidenceReference",
            "NOT_ALLOWED",
            "A paper form's reference goes with an acceptance for a pupil.",
        )
    accepted = []
    for index, document_id in enumerate(document_ids):
        document = latest[document_id]
        await _check(session, principal, document, on_behalf_of, field=f"documentIds.{index}", now=now)
        accepted.append(await _record(session, principal, document, on_behalf_of, reference, now=now))
    return accepted


async def _check(
    session: AsyncSession,
    principal: Principal,
    document: PolicyDocument,
    on_behalf_of: uuid.UUID | None,
    *,
    field: str,
    now: datetime,
) -> None:
    """The caller may accept this document this way (see the module's rule)."""
    if document.kind == LICENCE_TERMS:
        if on_behalf_of is not None or not principal.super_user:
            raise DomainError.one(
                field,
                "SUPER_USER_ONLY",
                "The licence terms are accepted for the school by one of its Super-Users.",
            )
    elif (
        principal.role is Role.PUPIL
        and on_behalf_of is None
        and await _is_child(session, principal, principal.pupil_id, now)
    ):
        raise DomainError.one(
            field,
            "PARENT_ACCEPTS",
            f"A parent accepts for a pupil under {CONSENT_AGE}: ask your parent or carer.",
        )


async def _is_child(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID | None, now: datetime
) -> bool | None:
    """Whether the pupil is under 13 on the school's date or has no date of birth (None: no such pupil)."""
    row = (
        await session.execute(
            select(Pupil.date_of_birth).where(in_school(Pupil, principal.school_id), Pupil.id == pupil_id)
        )
    ).one_or_none()
    if row is None:
        return None
    born = row[0]
    return born is None or born > born_after(now)


async def _check_child(
    session: AsyncSession, principal: Principal, pupil_id: uuid.UUID, reference: str | None, *, now: datetime
) -> None:
    """An acceptance for a pupil: by a linked parent (digitally) or a school admin with the paper form's
    reference, for a pupil under 13 (an older pupil accepts for themselves)."""
    if principal.role is Role.PARENT:
        if not principal.may_see_pupil(pupil_id):
            raise DomainError.one(
                "onBehalfOf", "NOT_YOUR_CHILD", "You can accept only for a child linked to you."
            )
        if reference is not None:
            raise DomainError.one(
                "evidenceReference", "NOT_ALLOWED", "A parent accepts digitally, without a form."
            )
    elif principal.role is Role.SCHOOL_ADMIN:
        if reference is None:
            raise DomainError.one(
                "evidenceReference",
                "REQUIRED",
                "Name the parent's paper form (its reference or where it is filed).",
            )
    else:
        raise DomainError.one(
            "onBehalfOf", "NOT_YOUR_CHILD", "Only a parent or a school admin accepts for a pupil."
        )
    child = await _is_child(session, principal, pupil_id, now)
    if child is None:
        raise DomainError.one("onBehalfOf", "NOT_FOUND", "No such pupil at this school.")
    if not child:
        raise DomainError.one(
            "onBehalfOf",
            "ACCEPTS_FOR_THEMSELVES",
            f"A pupil of {CONSENT_AGE} or over accepts for themselves.",
        )


async def _record(
    session: AsyncSession,
    principal: Principal,
    document: PolicyDocument,
    on_behalf_of: uuid.UUID | None,
    reference: str | None,
    *,
    now: datetime,
) -> DocumentAcceptance:
    """Insert the acceptance unless it exists (one per account and version, or per pupil and version), and
    emit it; the row recorded first is returned either way."""
    own = on_behalf_of is None
    stmt = (
        insert(DocumentAcceptance)
        .values(
            school_id=principal.school_id,
            id=uuid.uuid4(),
            document_id=document.id,
            account_id=principal.account_id,
            on_behalf_of_pupil_id=on_behalf_of,
            evidence_reference=reference,
            accepted_at=now,
        )
        .on_conflict_do_nothing()
        .returning(DocumentAcceptance.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    child: Any = DocumentAcceptance.on_behalf_of_pupil_id
    whose = (
        and_(DocumentAcceptance.account_id == principal.account_id, child.is_(None))
        if own
        else child == on_behalf_of
    )
    existing = select(DocumentAcceptance).where(
        in_school(DocumentAcceptance, principal.school_id),
        DocumentAcceptance.document_id == document.id,
        whose,
    )
    row = (await session.execute(existing)).scalar_one()
    if inserted is not None:
        await emit(
            session,
            "agreement.accepted",
            target_type="Pupil" if on_behalf_of else "PolicyDocument",
            target_id=on_behalf_of or document.id,
            detail={
                "documentId": str(document.id),
                "kind": document.kind,
                "version": document.version,
                "onBehalfOf": str(on_behalf_of) if on_behalf_of else None,
                "paper": reference is not None,
            },
        )
    return row


async def mark_read(
    session: AsyncSession, principal: Principal, document_id: uuid.UUID, *, now: datetime
) -> datetime:
    """Mark a notice of the caller's inbox read (once: the first time is kept)."""
    visible = (
        await session.execute(
            select(PolicyDocument.id).where(
                PolicyDocument.id == document_id, PolicyDocument.published_at <= now, _for_caller(principal)
            )
        )
    ).scalar_one_or_none()
    if visible is None:
        raise DomainError.one("documentId", "NOT_FOUND", "No such notice in your inbox.")
    await session.execute(
        insert(NoticeRead)
        .values(
            school_id=principal.school_id,
            account_id=principal.account_id,
            document_id=document_id,
            read_at=now,
        )
        .on_conflict_do_nothing()
    )
    read_at = (
        await session.execute(
            select(NoticeRead.read_at).where(
                in_school(NoticeRead, principal.school_id),
                NoticeRead.account_id == principal.account_id,
                NoticeRead.document_id == document_id,
            )
        )
    ).scalar_one()
    return read_at  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Outstanding:
    """A current document and the school's accounts that have not accepted it (at most :data:`LISTED`)."""

    document: PolicyDocument
    count: int
    accounts: list[Account]


@dataclass(frozen=True)
class AcceptanceReport:
    licence_terms: PolicyDocument | None
    """The licence terms in force, if the platform has published any."""
    licence_accepted: DocumentAcceptance | None
    """The first Super-User's acceptance of them for the school; None while the school has not accepted."""
    outstanding: list[Outstanding]


async def report(session: AsyncSession, school_id: uuid.UUID, *, now: datetime) -> AcceptanceReport:
    """Who has not accepted the documents in force (LL 3.1, LRS 1.1), and whether the school accepted the
    licence terms (LL 21): active accounts only, pupils under 13 counted as their parents' to accept."""
    current = list(
        (
            await session.execute(
                select(PolicyDocument)
                .where(current_document(PolicyDocument, now))
                .order_by(PolicyDocument.kind)
            )
        ).scalars()
    )
    licence = next((d for d in current if d.kind == LICENCE_TERMS), None)
    licence_accepted = None
    if licence is not None:
        licence_accepted = (
            await session.execute(
                select(DocumentAcceptance)
                .where(in_school(DocumentAcceptance, school_id), DocumentAcceptance.document_id == licence.id)
                .order_by(DocumentAcceptance.accepted_at)
                .limit(1)
            )
        ).scalar_one_or_none()
    child = and_(Account.role == "PUPIL", under_13(Account.pupil_id, school_id, born_after(now)))
    outstanding = []
    for document in current:
        if document.kind == LICENCE_TERMS:
            continue
        missing = and_(
            in_school(Account, school_id),
            Account.status == "ACTIVE",
            ~accepted_by(document.id, school_id, Account.id, Account.pupil_id, child),
        )
        count = (await session.execute(select(func.count()).select_from(Account).where(missing))).scalar_one()
        accounts = list(
            (
                await session.execute(
                    select(Account).where(missing).order_by(Account.role, Account.username).limit(LISTED)
                )
            ).scalars()
        )
        outstanding.append(Outstanding(document, count, accounts))
    return AcceptanceReport(licence, licence_accepted, outstanding)


async def current_version(session: AsyncSession, kind: str, now: datetime, default: str) -> str:
    """The version of the document of ``kind`` in force at ``now`` (the privacy notice a consent records, the
    licence terms a novation's successor accepts), or ``default`` before the platform has published one."""
    version = (
        await session.execute(
            select(PolicyDocument.version).where(
                PolicyDocument.kind == kind, current_document(PolicyDocument, now)
            )
        )
    ).scalar_one_or_none()
    return version or default

# mypy: disable-error-code="attr-defined,union-attr"
"""Content: the platform's pre-loaded items and a school's uploads; downloads, printed workbooks, reports
and takedowns.

Obligations carried out here:

* LL 4.4: pre-loaded content is read by every school; LL 6.4.4: uploads pass the acceptable-use gate
  (:func:`storage.files.check_upload`: type allowlist by content and extension, size limit).
* LL 7.1.4 (7.1.4.2): every download is recorded (who, what, when) and listed for school admins.
* LL 7.1.8: every download carries the copyright notice (in the file for text, always beside it).
* LL 6.4.2: one printed workbook per pupil; another copy only after a school admin's grant.
* LL 13.3 and LL 8.4: any user may report an item; a school admin (their school's uploads) or the
  operator (anything) reviews it; a takedown hides the item everywhere (lists, assignments, downloads,
  prints) and the decision, its reason and the reviewer are recorded; the uploader can be suspended.

A taken-down item is, to everyone but its reviewers, exactly an unknown item.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, and_, exists, func, literal, null, or_, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import Principal
from common import pagination as paging
from common.errors import DomainError, Problems
from common.events import emit
from common.pagination import Page, after_key
from common.transaction_hooks import after_transaction
from learning import curriculum, ladders
from models import Account
from models.content import Download, PlatformContent, SchoolContent, StoredFile
from storage.files import FileStore, UploadRefused, check_upload, storage_key
from tenants.context import bind
from tenants.scoping import in_school, scoped

PLATFORM, SCHOOL = "PLATFORM", "SCHOOL"
TEXT_TYPES: Final = ("text/plain", "text/markdown", "text/csv")


@dataclass(frozen=True)
class ContentItem:
    id: uuid.UUID
    source: str
    title: str
    description: str | None
    subject: str | None
    year_group: int | None
    is_workbook: bool
    file_name: str
    media_type: str
    byte_size: int | None
    created_at: datetime
    taken_down: bool
    takedown_reason: str | None
    ladder_id: uuid.UUID | None
    storage_key: str | None
    uploaded_by: uuid.UUID | None

    @property
    def refs(self) -> dict[str, uuid.UUID | None]:
        """The two reference columns of a tenant row that points at this item."""
        return {
            "platform_content_id": self.id if self.source == PLATFORM else None,
            "school_content_id": self.id if self.source == SCHOOL else None,
        }


def _content(school_id: uuid.UUID) -> Any:
    platform_columns: list[Any] = [
        PlatformContent.id,
        literal(PLATFORM).label("source"),
        PlatformContent.title,
        PlatformContent.description,
        PlatformContent.subject,
        PlatformContent.year_group,
        PlatformContent.is_workbook,
        PlatformContent.file_name,
        PlatformContent.media_type,
        null().label("byte_size"),
        PlatformContent.created_at,
        PlatformContent.taken_down_at.is_not(None).label("taken_down"),
        PlatformContent.takedown_reason,
        PlatformContent.ladder_id,
        PlatformContent.storage_key,
        null().label("uploaded_by"),
    ]
    school_columns: list[Any] = [
        SchoolContent.id,
        literal(SCHOOL),
        SchoolContent.title,
        SchoolContent.description,
        SchoolContent.subject,
        SchoolContent.year_group,
        SchoolContent.is_workbook,
        StoredFile.file_name,
        StoredFile.media_type,
        StoredFile.byte_size,
        SchoolContent.created_at,
        SchoolContent.taken_down_at.is_not(None),
        SchoolContent.takedown_reason,
        null(),
        StoredFile.storage_key,
        SchoolContent.uploaded_by,
    ]
    school = (
        select(*school_columns)
        .join(StoredFile, and_(in_school(StoredFile, school_id), StoredFile.id == SchoolContent.file_id))
        .where(in_school(SchoolContent, school_id))
    )
    return union_all(select(*platform_columns), school).subquery("content")


async def content_page(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    subject: str | None = None,
    year_group: int | None = None,
    workbooks_only: bool = False,
) -> list[ContentItem]:
    """Visible content (never taken down) by title and id, ``page.first + 1`` at most."""
    content = _content(principal.school_id)
    order = (content.c.title, content.c.id)
    stmt: Select[Any] = select(content).where(content.c.taken_down.is_(False))
    if subject is not None:
        stmt = stmt.where(func.lower(content.c.subject) == subject.strip().lower())
    if year_group is not None:
        stmt = stmt.where(content.c.year_group == year_group)
    if workbooks_only:
        stmt = stmt.where(content.c.is_workbook)
    after = after_key(page, paging.TEXT, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    stmt = stmt.order_by(*order).limit(page.first + 1)
    return [ContentItem(*row) for row in (await session.execute(stmt)).all()]


async def content_by_ids(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[uuid.UUID],
    *,
    include_taken_down: bool = False,
) -> dict[uuid.UUID, ContentItem]:
    """Items by id (either source), one statement; taken-down items only when asked (reviewers)."""
    if not ids:
        return {}
    content = _content(principal.school_id)
    stmt = select(content).where(content.c.id.in_(ids))
    if not include_taken_down:
        stmt = stmt.where(content.c.taken_down.is_(False))
    return {row[0]: ContentItem(*row) for row in (await session.execute(stmt)).all()}


async def visible_item(
    session: AsyncSession, principal: Principal, content_id: uuid.UUID, *, field: str = "contentId"
) -> ContentItem:
    item = (await content_by_ids(session, principal, [content_id])).get(content_id)
    if item is None:
        raise DomainError.one(field, "CONTENT_NOT_FOUND", "No content with this id at this school.")
    return item


# --- uploads ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewContent:
    title: str
    file_name: str
    data: bytes
    description: str | None = None
    subject: str | None = None
    year_group: int | None = None
    is_workbook: bool = False
    size: int | None = None
    """The file's real size when ``data`` holds only its first bytes (see :func:`accepted_file`)."""


def accepted_file(
    problems: Problems, field: str, file_name: str, data: bytes, max_bytes: int, size: int | None = None
) -> Any:
    """The checked file, or None with the refusal added to ``problems`` (LL 6.4.4); ``size`` is the
    file's real size when ``data`` was read only as far as the limit."""
    try:
        return check_upload(file_name, data, max_bytes=max_bytes, size=size)
    except UploadRefused as refused:
        problems.add(field, refused.code, refused.message)
        return None


async def store_file(
    session: AsyncSession, principal: Principal, store: FileStore, accepted: Any, *, now: datetime
) -> StoredFile:
    """Put the file in the store (durably), then record it. The key is content-addressed (storage.files).

    A file this call wrote is deleted again once the transaction has ended if no committed row names it
    (the request, or the savepoint of its call, rolled back): a rolled-back upload of a pupil's work leaves
    nothing on disk. The key is locked for the rest of the transaction (an advisory lock), so the clean-up
    never deletes a file that a concurrent upload of the same bytes is about to commit."""
    school = principal.school_id
    key = storage_key(school, accepted.sha256)
    await _lock_key(session, key)
    if await store.put(key, accepted.data):

        async def discard_if_unreferenced(ended: AsyncSession) -> None:
            async with ended.begin():
                await bind(ended, [school])
                await _lock_key(ended, key)
                named = exists(scoped(StoredFile, school).where(StoredFile.storage_key == key))
                if not (await ended.execute(select(named))).scalar_one():
                    await store.delete(key)

        after_transaction(session, discard_if_unreferenced)
    row = StoredFile(
        school_id=principal.school_id,
        storage_key=key,
        file_name=accepted.file_name,
        media_type=accepted.media_type,
        byte_size=accepted.byte_size,
        sha256=accepted.sha256,
        uploaded_by=principal.account_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _lock_key(session: AsyncSession, key: str) -> None:
    """Serialise the transactions that store or clean up one storage key (until each ends)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def upload_content(
    session: AsyncSession,
    principal: Principal,
    store: FileStore,
    data: NewContent,
    *,
    max_bytes: int,
    now: datetime,
) -> ContentItem:
    problems = Problems()
    title = (data.title or "").strip()
    if not title:
        problems.add("title", "REQUIRED", "title must not be empty.")
    elif len(title) > 200:
        problems.add("title", "TOO_LONG", "title has at most 200 characters.")
    if data.year_group is not None and data.year_group not in ladders.YEAR_GROUPS:
        problems.add("yearGroup", "INVALID_YEAR_GROUP", "yearGroup must be between -2 (nursery) and 14.")
    if data.subject is not None and len(data.subject.strip()) > 60:
        problems.add("subject", "TOO_LONG", "subject has at most 60 characters.")
    accepted = accepted_file(problems, "file", data.file_name, data.data, max_bytes, data.size)
    problems.raise_if_any()
    stored = await store_file(session, principal, store, accepted, now=now)
    row = SchoolContent(
        school_id=principal.school_id,
        title=title,
        description=(data.description or "").strip() or None,
        subject=(data.subject or "").strip() or None,
        year_group=data.year_group,
        is_workbook=data.is_workbook,
        file_id=stored.id,
        uploaded_by=principal.account_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return ContentItem(
        row.id, SCHOOL, row.title, row.description, row.subject, row.year_group, row.is_workbook,
        stored.file_name, stored.media_type, stored.byte_size, now, False, None, None, stored.storage_key,
        principal.account_id,
    )  # fmt: skip


# --- downloads (LL 7.1.4, LL 7.1.8) -----------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadedFile:
    download_id: uuid.UUID
    content: ContentItem
    file_name: str
    media_type: str
    data: bytes
    copyright_notice: str


def notice_for(school_name: str, item: ContentItem) -> str:
    origin = "" if item.source == PLATFORM else f" Uploaded by {school_name}."
    return curriculum.COPYRIGHT_NOTICE + origin


async def _body(
    session: AsyncSession,
    principal: Principal,
    store: FileStore,
    item: ContentItem,
    school_name: str,
    notice: str,
) -> bytes:
    if item.ladder_id is not None:
        ladder = await ladders.ladder(session, principal.school_id, item.ladder_id)
        rungs = [(r.code, r.statement) for r in ladder.rungs] if ladder else []
        title = ladder.row.title if ladder else item.title
        return curriculum.render_workbook(title, rungs, school_name=school_name, notice=notice)
    assert item.storage_key is not None
    data = await store.get(item.storage_key)
    if item.media_type.split(";")[0] in TEXT_TYPES:
        # The notice travels inside text files themselves (LL 7.1.8), first and last.
        text = notice.encode("utf-8")
        return text + b"\n\n" + data + b"\n\n" + text + b"\n"
    return data


async def download(
    session: AsyncSession,
    principal: Principal,
    store: FileStore,
    content_id: uuid.UUID,
    *,
    school_name: str,
    now: datetime,
) -> DownloadedFile:
    """The file of a visible item, with the notice, after recording who downloaded what and when."""
    item = await visible_item(session, principal, content_id)
    notice = notice_for(school_name, item)
    data = await _body(session, principal, store, item, school_name, notice)
    row = Download(
        school_id=principal.school_id,
        account_id=principal.account_id,
        title=item.title,
        downloaded_at=now,
        **item.refs,
    )
    session.add(row)
    await session.flush()
    await emit(
        session,
        "content.downloaded",
        target_type="Content",
        target_id=content_id,
        detail={"source": item.source, "title": item.title},
    )
    return DownloadedFile(row.id, item, item.file_name, item.media_type, data, notice)


@dataclass(frozen=True)
class DownloadRecord:
    id: uuid.UUID
    downloaded_at: datetime
    account_id: uuid.UUID
    username: str | None
    role: str | None
    content_id: uuid.UUID
    source: str
    title: str


def _downloads_stmt(school: uuid.UUID) -> Select[Any]:
    stmt: Select[Any] = (
        select(
            Download.id,
            Download.downloaded_at,
            Download.account_id,
            Account.username,
            Account.role,
            func.coalesce(Download.platform_content_id, Download.school_content_id),
            Download.platform_content_id.is_not(None),
            Download.title,
        )
        .outerjoin(Account, and_(in_school(Account, school), Account.id == Download.account_id))
        .where(in_school(Download, school))
    )
    return stmt


def _download_records(rows: Sequence[Any]) -> list[DownloadRecord]:
    return [
        DownloadRecord(r[0], r[1], r[2], r[3], r[4], r[5], PLATFORM if r[6] else SCHOOL, r[7]) for r in rows
    ]


async def downloads_page(
    session: AsyncSession, principal: Principal, page: Page, *, content_id: uuid.UUID | None = None
) -> list[DownloadRecord]:
    """The download log, newest first (school admins: the GraphQL edge checks the policy)."""
    stmt = _downloads_stmt(principal.school_id)
    if content_id is not None:
        stmt = stmt.where(
            or_(Download.platform_content_id == content_id, Download.school_content_id == content_id)
        )
    after = after_key(page, paging.TIMESTAMP, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(Download.downloaded_at, Download.id) < tuple_(*after))
    stmt = stmt.order_by(Download.downloaded_at.desc(), Download.id.desc()).limit(page.first + 1)
    return _download_records((await session.execute(stmt)).all())


async def downloads_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DownloadRecord]:
    """Entries of the download log by id (school admins: the GraphQL edge checks the policy)."""
    if not ids:
        return {}
    stmt = _downloads_stmt(principal.school_id).where(Download.id.in_(ids))
    return {record.id: record for record in _download_records((await session.execute(stmt)).all())}


def same_item(model: Any, item: ContentItem) -> Any:
    """``model`` (a tenant row with the two content columns) points at ``item``."""
    if item.source == PLATFORM:
        return model.platform_content_id == item.id
    return model.school_content_id == item.id

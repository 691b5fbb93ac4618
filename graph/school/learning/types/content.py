"""Content types: items (pre-loaded or the school's), downloads, reports about items, printed workbooks."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from graph.core.relay import Connection, Node, to_global_id
from graph.permissions import guarded, personal_data, public
from graph.school.learning.types.progress import pupil_of_row
from graph.school.learning.types.scale import ReportStatus, Source
from graph.school.people.types import PupilType
from learning import content
from learning import policies as rules
from learning.content import ContentItem, DownloadedFile, DownloadRecord
from models.content import ContentReport, PrintGrant, PrintRequest


@strawberry.type(name="Content", description="Pre-loaded (PLATFORM) or school-uploaded (SCHOOL) content.")
class ContentType(Node):
    row: strawberry.Private[ContentItem]
    id: strawberry.ID
    source: Source
    title: str
    description: str | None
    subject: str | None
    year_group: int | None
    is_workbook: bool
    file_name: str
    media_type: str
    byte_size: int | None
    created_at: datetime.datetime
    taken_down: bool = strawberry.field(description="Only ever true for the reviewers of a report.")

    @classmethod
    def of(cls, row: ContentItem) -> ContentType:
        return cls(
            row=row,
            id=to_global_id("Content", row.id),
            source=Source(row.source),
            title=row.title,
            description=row.description,
            subject=row.subject,
            year_group=row.year_group,
            is_workbook=row.is_workbook,
            file_name=row.file_name,
            media_type=row.media_type,
            byte_size=row.byte_size,
            created_at=row.created_at,
            taken_down=row.taken_down,
        )


ContentConnection = Connection[ContentType]


@strawberry.type(
    name="DownloadedFile", description="A downloaded file; the copyright notice travels with it."
)
class DownloadedFileType:
    download_id: strawberry.ID
    content: ContentType
    file_name: str
    media_type: str
    byte_size: int
    copyright_notice: str = strawberry.field(description="Keep this notice on every copy (licence 7.1.8).")
    data_base64: str

    @classmethod
    def of(cls, row: DownloadedFile) -> DownloadedFileType:
        return cls(
            download_id=to_global_id("Download", row.download_id),
            content=ContentType.of(row.content),
            file_name=row.file_name,
            media_type=row.media_type,
            byte_size=len(row.data),
            copyright_notice=row.copyright_notice,
            data_base64=base64.b64encode(row.data).decode(),
        )


@personal_data
@strawberry.type(name="DownloadRecord", description="Who downloaded what, when (licence 7.1.4.2).")
class DownloadRecordType(Node):
    row: strawberry.Private[DownloadRecord]
    id: strawberry.ID = public("opaque identifier")
    downloaded_at: datetime.datetime | None = guarded(rules.CONTENT_ADMIN)
    username: str | None = guarded(rules.CONTENT_ADMIN)
    role: str | None = guarded(rules.CONTENT_ADMIN)
    content_id: strawberry.ID | None = guarded(rules.CONTENT_ADMIN)
    source: Source | None = guarded(rules.CONTENT_ADMIN)
    title: str | None = guarded(rules.CONTENT_ADMIN, description="The title when it was downloaded.")

    @classmethod
    def of(cls, row: DownloadRecord) -> DownloadRecordType:
        return cls(
            row=row,
            id=to_global_id("Download", row.id),
            downloaded_at=row.downloaded_at,
            username=row.username,
            role=row.role,
            content_id=to_global_id("Content", row.content_id),
            source=Source(row.source),
            title=row.title,
        )


DownloadRecordConnection = Connection[DownloadRecordType]


async def _report_content(root: ContentReportType, info: Info) -> ContentType | None:
    ctx = info.context
    content_id = root.row.platform_content_id or root.row.school_content_id
    assert content_id is not None
    # Reviewers see the item even once taken down; the reporter sees it while it is visible.
    found = await content.content_by_ids(
        ctx.session, ctx.principal, [content_id], include_taken_down=rules.CONTENT_ADMIN(ctx.principal, None)
    )
    item = found.get(content_id)
    return None if item is None else ContentType.of(item)


@personal_data
@strawberry.type(
    name="ContentReport", description="A complaint about content and its review (licence 13.3, 8.4)."
)
class ContentReportType(Node):
    row: strawberry.Private[ContentReport]
    id: strawberry.ID = public("opaque identifier")
    content: ContentType | None = guarded(rules.CONTENT_REPORT, resolver=_report_content)
    reason: str | None = guarded(rules.CONTENT_REPORT)
    reported_at: datetime.datetime | None = guarded(rules.CONTENT_REPORT)
    status: ReportStatus | None = guarded(rules.CONTENT_REPORT)
    decision_note: str | None = guarded(rules.CONTENT_REPORT)
    reviewed_at: datetime.datetime | None = guarded(rules.CONTENT_REPORT)
    reviewed_by_operator: bool | None = guarded(
        rules.CONTENT_REPORT, description="True when the platform operator decided."
    )
    uploader_suspended: bool | None = guarded(rules.CONTENT_ADMIN)

    @classmethod
    def of(cls, row: ContentReport) -> ContentReportType:
        return cls(
            row=row,
            id=to_global_id("ContentReport", row.id),
            reason=row.reason,
            reported_at=row.reported_at,
            status=ReportStatus(row.status),
            decision_note=row.decision_note,
            reviewed_at=row.reviewed_at,
            reviewed_by_operator=row.reviewed_by_operator is not None,
            uploader_suspended=row.uploader_suspended,
        )


ContentReportConnection = Connection[ContentReportType]


async def _print_content(root: Any, info: Info) -> ContentType | None:
    content_id = root.row.platform_content_id or root.row.school_content_id
    item = await info.context.loaders.learning.content.load(content_id)
    return None if item is None else ContentType.of(item)


@personal_data
@strawberry.type(
    name="PrintRequest", description="A printed copy of a workbook for one pupil (licence 6.4.2)."
)
class PrintRequestType(Node):
    row: strawberry.Private[PrintRequest]
    id: strawberry.ID = public("opaque identifier")
    copy_number: int | None = guarded(rules.LEARNING_RECORD, description="1 for the pupil's first copy.")
    requested_at: datetime.datetime | None = guarded(rules.LEARNING_RECORD)
    pupil: PupilType | None = guarded(rules.LEARNING_RECORD, resolver=pupil_of_row)
    content: ContentType | None = guarded(rules.LEARNING_RECORD, resolver=_print_content)

    @classmethod
    def of(cls, row: PrintRequest) -> PrintRequestType:
        return cls(
            row=row,
            id=to_global_id("PrintRequest", row.id),
            copy_number=row.copy_number,
            requested_at=row.requested_at,
        )


@personal_data
@strawberry.type(name="PrintGrant", description="A school admin's permission for one more printed copy.")
class PrintGrantType(Node):
    row: strawberry.Private[PrintGrant]
    id: strawberry.ID = public("opaque identifier")
    reason: str | None = guarded(rules.CONTENT_ADMIN)
    granted_at: datetime.datetime | None = guarded(rules.CONTENT_ADMIN)
    pupil: PupilType | None = guarded(rules.CONTENT_ADMIN, resolver=pupil_of_row)
    content: ContentType | None = guarded(rules.CONTENT_ADMIN, resolver=_print_content)

    @classmethod
    def of(cls, row: PrintGrant) -> PrintGrantType:
        return cls(
            row=row, id=to_global_id("PrintGrant", row.id), reason=row.reason, granted_at=row.granted_at
        )

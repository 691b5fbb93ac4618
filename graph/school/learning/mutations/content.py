"""Content: uploads (licence 6.4.4), downloads (7.1.4.2), printed workbooks (6.4.2) and reports about items
(licence 13.3), decided by the school's content admins.
"""

from __future__ import annotations

import uuid
from enum import Enum

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from auth import policies
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.permissions import guarded_mutation
from graph.school.learning.mutations.uploads import max_upload_bytes, read_upload, store
from graph.school.learning.types.content import (
    ContentReportType,
    ContentType,
    DownloadedFileType,
    PrintGrantType,
    PrintRequestType,
)
from learning import content, prints, reports
from learning import policies as rules
from models.content import ContentReport


@strawberry.input
class UploadContentInput:
    title: str
    file: Upload = strawberry.field(description="PDF, image, text or Office document, 10 MiB at most.")
    description: str | None = None
    subject: str | None = None
    year_group: int | None = None
    is_workbook: bool = False


@strawberry.type
class ContentPayload:
    content: ContentType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DownloadContentInput:
    content_id: strawberry.ID


@strawberry.type
class DownloadPayload:
    file: DownloadedFileType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestWorkbookPrintInput:
    content_id: strawberry.ID
    pupil_ids: list[strawberry.ID]


@strawberry.type
class PrintPayload:
    prints: list[PrintRequestType] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class GrantExtraPrintInput:
    content_id: strawberry.ID
    pupil_id: strawberry.ID
    reason: str


@strawberry.type
class PrintGrantPayload:
    grant: PrintGrantType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReportContentInput:
    content_id: strawberry.ID
    reason: str


@strawberry.enum
class ReviewDecision(Enum):
    TAKE_DOWN = "TAKE_DOWN"
    DISMISS = "DISMISS"


@strawberry.input
class ReviewContentReportInput:
    report_id: strawberry.ID
    decision: ReviewDecision
    note: str = strawberry.field(description="The reason for the decision; kept with the report.")
    suspend_uploader: bool = strawberry.field(
        default=False, description="With TAKE_DOWN: also disable the uploader's account (licence 8.4)."
    )


@strawberry.type
class ContentReportPayload:
    report: ContentReportType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _report_payload(row: ContentReport) -> ContentReportPayload:
    return ContentReportPayload(report=ContentReportType.of(row))


async def upload_content(info: Info, input: UploadContentInput) -> ContentPayload:
    ctx = info.context
    limit = max_upload_bytes(info)

    async def upload() -> content.ContentItem:
        name, data, size = await read_upload(input.file, limit)
        new = content.NewContent(
            title=input.title,
            file_name=name,
            data=data,
            size=size,
            description=input.description,
            subject=input.subject,
            year_group=input.year_group,
            is_workbook=input.is_workbook,
        )
        return await content.upload_content(
            ctx.session, ctx.principal, store(info), new, max_bytes=limit, now=ctx.now
        )

    return await mutate(
        info, ContentPayload, upload, done=lambda item: ContentPayload(content=ContentType.of(item))
    )


async def download_content(info: Info, input: DownloadContentInput) -> DownloadPayload:
    ctx = info.context

    async def download(content_id: uuid.UUID) -> content.DownloadedFile:
        return await content.download(
            ctx.session, ctx.principal, store(info), content_id, school_name=ctx.tenant.name, now=ctx.now
        )

    return await mutate(
        info,
        DownloadPayload,
        download,
        [("contentId", "Content", input.content_id)],
        done=lambda found: DownloadPayload(file=DownloadedFileType.of(found)),
    )


async def request_workbook_print(info: Info, input: RequestWorkbookPrintInput) -> PrintPayload:
    ctx = info.context
    return await mutate(
        info,
        PrintPayload,
        lambda content_id, *pupil_ids: prints.request_prints(
            ctx.session, ctx.principal, content_id, list(pupil_ids), now=ctx.now
        ),
        [
            ("contentId", "Content", input.content_id),
            *((f"pupilIds.{i}", "Pupil", p) for i, p in enumerate(input.pupil_ids)),
        ],
        done=lambda rows: PrintPayload(prints=[PrintRequestType.of(r) for r in rows]),
    )


async def grant_extra_print(info: Info, input: GrantExtraPrintInput) -> PrintGrantPayload:
    ctx = info.context
    return await mutate(
        info,
        PrintGrantPayload,
        lambda content_id, pupil_id: prints.grant_print(
            ctx.session, ctx.principal, content_id, pupil_id, input.reason, now=ctx.now
        ),
        [("contentId", "Content", input.content_id), ("pupilId", "Pupil", input.pupil_id)],
        done=lambda row: PrintGrantPayload(grant=PrintGrantType.of(row)),
    )


async def report_content(info: Info, input: ReportContentInput) -> ContentReportPayload:
    ctx = info.context
    return await mutate(
        info,
        ContentReportPayload,
        lambda content_id: reports.report_content(
            ctx.session, ctx.principal, content_id, input.reason, now=ctx.now
        ),
        [("contentId", "Content", input.content_id)],
        done=_report_payload,
    )


async def review_content_report(info: Info, input: ReviewContentReportInput) -> ContentReportPayload:
    ctx = info.context
    return await mutate(
        info,
        ContentReportPayload,
        lambda report_id: reports.review_report(
            ctx.session,
            ctx.principal,
            report_id,
            input.decision.value,
            input.note,
            suspend_uploader=input.suspend_uploader,
            now=ctx.now,
        ),
        [("reportId", "ContentReport", input.report_id)],
        done=_report_payload,
    )


@strawberry.type
class ContentMutation:
    upload_content: ContentPayload = guarded_mutation(
        policies.STAFF,
        resolver=upload_content,
        description="Upload content for the school (licence 6.4.4: allowed types and size only).",
    )
    download_content: DownloadPayload = guarded_mutation(
        policies.SIGNED_IN,
        resolver=download_content,
        description="Download an item: recorded (licence 7.1.4.2), with the copyright notice (7.1.8).",
    )
    request_workbook_print: PrintPayload = guarded_mutation(
        policies.STAFF,
        resolver=request_workbook_print,
        description="A printed workbook for each pupil: one per pupil unless an admin grants another (6.4.2).",
    )
    grant_extra_print: PrintGrantPayload = guarded_mutation(
        rules.CONTENT_ADMIN,
        resolver=grant_extra_print,
        description="Allow one more printed copy for a pupil.",
    )
    report_content: ContentReportPayload = guarded_mutation(
        policies.SIGNED_IN,
        resolver=report_content,
        description="Report an item to the school (licence 13.3).",
    )
    review_content_report: ContentReportPayload = guarded_mutation(
        rules.CONTENT_ADMIN,
        resolver=review_content_report,
        description="Decide a report about the school's own upload: take it down everywhere, or dismiss.",
    )

"""The school schema's roster mutations: import (MIS CSV / OneRoster upload), export, the school's OneRoster
org, extended-data opt-in and revocation (LL-A 3.2), and activating imported accounts (LL 11.3).

Every field is for school admins, except ``activateImportedAccount``, whose one-time code is the credential.
Imports, exports, opt-ins and activation codes are audited with counts only: no personal data in the log.
"""

from __future__ import annotations

import base64
import tempfile
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from auth import policies
from common.errors import DomainError
from graph.core.errors import UserError
from graph.core.mutations import mutate
from graph.core.relay import expect_global_id
from graph.permissions import guarded_mutation, public
from graph.school.accounts.auth import AuthPayload
from graph.school.people.types import AccountType
from graph.school.roster.types import (
    ActivationCodeType,
    ExtendedDataSettingType,
    ImportMode,
    RosterImportType,
    RosterProblemType,
    RosterSourceType,
)
from privacy import extended_data
from roster import activation
from roster import queries as roster_queries
from roster import service as roster_service
from roster.export import export_oneroster

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


@strawberry.input
class ImportRosterInput:
    file: Upload = strawberry.field(
        description="A zip: OneRoster 1.1/1.2 CSV, or schoolgraph's own layout (docs/roster-csv.md)."
    )
    dry_run: bool = strawberry.field(default=False, description="Check and count only: nothing is written.")
    mode: ImportMode = strawberry.field(
        default=ImportMode.AUTO, description="AUTO: as the manifest says per file (own layout: BULK)."
    )
    strict: bool = strawberry.field(
        default=False,
        description="Refuse columns the format does not have (UNKNOWN_COLUMN errors); by default each is a "
        "warning and the column is ignored.",
    )


@strawberry.type
class ImportRosterPayload:
    roster_import: RosterImportType | None = strawberry.field(
        default=None, description="The history entry of this import (refused and dry-run imports too)."
    )
    problems: list[RosterProblemType] = strawberry.field(
        default_factory=list,
        description="Every error and warning, in detail up to a limit (see problemCodes).",
    )
    problems_not_shown: int = 0
    skipped_other_schools: int = strawberry.field(
        default=0, description="Rows of a trust package belonging to other schools' orgs."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExportedFile:
    file: str
    rows: int


@strawberry.type
class ExportRosterPayload:
    file_name: str | None = None
    content_base64: str | None = strawberry.field(
        default=None, description="The OneRoster 1.1 bulk zip, marked PROTECT (LRS 6.6)."
    )
    sha256: str | None = None
    size_bytes: float | None = None
    files: list[ExportedFile] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetRosterOrgInput:
    org_sourced_id: str = strawberry.field(description="The sourcedId of this school in the MIS's orgs.csv.")


@strawberry.type
class RosterSourcePayload:
    roster_source: RosterSourceType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ExtendedDataSettingPayload:
    setting: ExtendedDataSettingType | None = None
    deleted_rows: int = strawberry.field(default=0, description="Revoking: extended data rows deleted.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class IssueActivationCodesInput:
    account_ids: list[strawberry.ID] = strawberry.field(description="PENDING accounts (as imports create).")


@strawberry.type
class IssueActivationCodesPayload:
    codes: list[ActivationCodeType] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ActivateImportedAccountInput:
    username: str
    activation_code: str
    password: str = strawberry.field(
        description="The new password (NIST SP 800-63B rules, as changePassword)."
    )


# --- resolvers ------------------------------------------------------------------------------------------


def _importer(info: Info) -> roster_service.Importer:
    principal = info.context.principal
    return roster_service.Importer(
        name=principal.username, account_id=principal.account_id, staff_id=principal.staff_id
    )


async def import_roster(info: Info, input: ImportRosterInput) -> ImportRosterPayload:
    ctx = info.context
    upload: Any = input.file

    async def import_package() -> roster_service.ImportReport:
        stream = getattr(upload, "file", None)
        if stream is None:
            raise DomainError.one(
                "file", "REQUIRED", "Send the package as a file (GraphQL multipart request)."
            )
        size = getattr(upload, "size", None)
        if size is not None and size > MAX_UPLOAD_BYTES:
            raise DomainError.one(
                "file",
                "TOO_LARGE",
                f"The file is {size:,} bytes; a package may be at most {MAX_UPLOAD_BYTES:,} bytes "
                f"({MAX_UPLOAD_BYTES // 1024**2} MiB).",
            )
        school = await roster_service.school_ref(ctx.session, ctx.tenant.id)
        stream.seek(0)  # from the start, every time: attempt() runs this again after a deadlock
        return await roster_service.import_stream(
            ctx.session,
            school,
            stream,
            getattr(upload, "filename", None) or "upload.zip",
            by=_importer(info),
            options=roster_service.ImportOptions(
                mode=input.mode.value, dry_run=input.dry_run, strict=input.strict
            ),
            now=ctx.now,
        )

    async def done(report: roster_service.ImportReport) -> ImportRosterPayload:
        history = await roster_queries.import_by_id(ctx.session, ctx.tenant.id, report.import_id)
        errors = []
        if report.outcome == "REFUSED":
            errors = [
                UserError(
                    field="file",
                    code="ROSTER_REFUSED",
                    message=f"{report.error_count} error(s): nothing was imported. See problems.",
                )
            ]
        return ImportRosterPayload(
            roster_import=RosterImportType.of(history),
            problems=[RosterProblemType.of(p) for p in report.problems],
            problems_not_shown=report.truncated,
            skipped_other_schools=report.skipped_other_schools,
            errors=errors,
        )

    try:
        return await mutate(info, ImportRosterPayload, import_package, done=done)
    finally:
        close = getattr(upload, "close", None)
        if close is not None:
            await close()  # Starlette spools uploads to a temporary file: release it now


async def export_roster(info: Info) -> ExportRosterPayload:
    ctx = info.context
    school = await roster_service.school_ref(ctx.session, ctx.tenant.id)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        summary = await export_oneroster(ctx.session, school, out)
        out.seek(0)
        content = base64.b64encode(out.read()).decode()
    # LL 7.1.4 / LRS 6.6: the record of downloads: what was exported, never its content.
    return ExportRosterPayload(
        file_name=f"{ctx.tenant.slug}-oneroster-{ctx.now:%Y%m%d}.zip",
        content_base64=content,
        sha256=summary.sha256,
        size_bytes=float(summary.size),
        files=[ExportedFile(file=name, rows=count) for name, count in summary.rows.items()],
    )


async def set_roster_org(info: Info, input: SetRosterOrgInput) -> RosterSourcePayload:
    ctx = info.context
    return await mutate(
        info,
        RosterSourcePayload,
        lambda: roster_service.set_org(
            ctx.session, ctx.tenant.id, input.org_sourced_id, by=ctx.principal.account_id, now=ctx.now
        ),
        done=lambda row: RosterSourcePayload(
            roster_source=RosterSourceType(org_sourced_id=row.org_sourced_id, set_at=row.set_at)
        ),
    )


async def opt_in_to_extended_data(info: Info) -> ExtendedDataSettingPayload:
    ctx = info.context

    return await mutate(
        info,
        ExtendedDataSettingPayload,
        lambda: extended_data.opt_in(ctx.session, ctx.principal, now=ctx.now),
        done=lambda row: ExtendedDataSettingPayload(setting=ExtendedDataSettingType.of(row)),
    )


async def revoke_extended_data(info: Info) -> ExtendedDataSettingPayload:
    ctx = info.context

    def done(revoked: extended_data.Revoked) -> ExtendedDataSettingPayload:
        return ExtendedDataSettingPayload(
            setting=ExtendedDataSettingType.of(revoked.setting), deleted_rows=revoked.deleted
        )

    return await mutate(
        info,
        ExtendedDataSettingPayload,
        lambda: extended_data.revoke(ctx.session, ctx.principal, now=ctx.now),
        done=done,
    )


async def issue_activation_codes(info: Info, input: IssueActivationCodesInput) -> IssueActivationCodesPayload:
    ctx = info.context

    async def issue() -> list[activation.IssuedActivation]:
        # Decoded one by one: the first id that is not an account's is the error (as the service reports).
        ids = [
            expect_global_id(i, "Account", field=f"accountIds.{n}") for n, i in enumerate(input.account_ids)
        ]
        return await activation.issue(ctx.session, ctx.principal, ids, now=ctx.now)

    def done(issued: list[activation.IssuedActivation]) -> IssueActivationCodesPayload:
        return IssueActivationCodesPayload(
            codes=[
                ActivationCodeType(
                    row=i, account=AccountType.of(i.account), code=i.code, expires_at=i.expires_at
                )
                for i in issued
            ]
        )

    return await mutate(info, IssueActivationCodesPayload, issue, done=done)


async def activate_imported_account(info: Info, input: ActivateImportedAccountInput) -> AuthPayload:
    ctx = info.context

    return await mutate(
        info,
        AuthPayload,
        lambda: activation.activate(
            ctx.session,
            ctx.auth,
            ctx.tenant,
            username=input.username,
            code=input.activation_code,
            password=input.password,
            address=ctx.client_address,
            now=ctx.now,
        ),
        done=lambda tokens: AuthPayload.of(tokens, []),
        throttle_on="INVALID_ACTIVATION_CODE",
    )


@strawberry.type
class RosterMutation:
    import_roster: ImportRosterPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=import_roster,
        description="Import the school's roster (LL 10.2, LL-A 4.1): all of it or nothing.",
    )
    export_roster: ExportRosterPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=export_roster,
        description="The school's roster as a OneRoster 1.1 bulk zip (LL 5.1.4).",
    )
    set_roster_org: RosterSourcePayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=set_roster_org,
        description="Which org of the MIS's OneRoster packages is this school.",
    )
    opt_in_to_extended_data: ExtendedDataSettingPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=opt_in_to_extended_data,
        description="Opt in to extended pupil data; records who approved and when (LL-A 3.2).",
    )
    revoke_extended_data: ExtendedDataSettingPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=revoke_extended_data,
        description="Opt out; records who and when, and deletes all stored extended data (LL-A 3.2).",
    )
    issue_activation_codes: IssueActivationCodesPayload = guarded_mutation(
        policies.SCHOOL_ADMIN,
        resolver=issue_activation_codes,
        description="One-time codes for imported (PENDING) accounts; each withdraws the account's last code.",
    )
    activate_imported_account: AuthPayload = public(
        "the one-time activation code a school admin issued is the credential (LL 11.3)",
        resolver=activate_imported_account,
        mutation=True,
        description="Activate an account an import created (PENDING), with the code from issueActivationCodes.",
    )

"""Roster push (issue 14): a partner with ``roster.write`` submits a OneRoster package into the school's
roster importer (``roster.service``), the very path an admin's upload takes: all or nothing, the same
checks and the same problems report, recorded in the school's audit chain (``roster.import``, with the
partner as actor). A push is a dry run unless the partner says ``dryRun=false``: nothing is written
until it asks for it, having read the dry run's report."""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from partners.oauth import PartnerAccess
from roster import service
from roster.reading import SchoolRef


async def push(
    session: AsyncSession,
    school: SchoolRef,
    access: PartnerAccess,
    stream: BinaryIO,
    file_name: str,
    *,
    dry_run: bool,
    mode: str = "auto",
    now: datetime,
) -> service.ImportReport:
    """Import the package for the school as the partner (a dry run unless ``dry_run`` is False)."""
    by = service.Importer(name=f"partner {access.client_id}")
    options = service.ImportOptions(mode=mode, dry_run=dry_run)
    return await service.import_stream(session, school, stream, file_name, by=by, options=options, now=now)


def report_body(report: service.ImportReport) -> dict[str, Any]:
    """The import report as JSON: what the admin's importRoster payload says, problem by problem."""
    return {
        "outcome": report.outcome,
        "dryRun": report.dry_run,
        "format": report.format,
        "mode": report.mode,
        "counts": {k: c.as_dict() for k, c in report.counts.items()},
        "errors": report.error_count,
        "warnings": report.warning_count,
        "truncated": report.truncated,
        "problems": [
            {
                "severity": p.severity,
                "code": p.code,
                "message": p.message,
                "file": p.file,
                "row": p.row,
                "column": p.column,
                "expected": p.expected,
            }
            for p in report.problems
        ],
    }

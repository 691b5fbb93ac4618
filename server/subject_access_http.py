"""``GET /schools/{slug}/subject-access/{id}``: a released subject access archive, to the school's admins only.

The same gate as the school endpoint (the school from the URL, the bearer token verified for that school):
an anonymous caller gets 401, any other role 403, another school's request (or no such request) 404, an
archive past its download window 410, a suspended or terminated school 403. Every download is audited in
the school's chain in the same transaction that counts it (a download that fails is recorded FAILED,
:mod:`server.door`), and so is every refusal at a known school
(``subject_access.download_refused``, DENIED, with the status and code: :mod:`server.refusals`)
(LL 5.1.1, LRS 5.1, LRS 6.8: the archive is encrypted; its password is not here).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from audit.recorder import AuditTrail
from auth import policies
from common.errors import DomainError
from privacy import subject_access
from server.caller import client_address
from server.door import Door, serve_audited
from server.errors import RequestError
from server.http import actor_of, authenticate, tenant_refusal
from server.refusals import JSON, failure, refuse
from server.runtime import Runtime
from server.transaction import record_unresolved
from tenants.context import enter_school

REFUSED = "subject_access.download_refused"


def _request_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def subject_access_download(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    request_id = _request_id(request.path_params["request_id"])

    async def run(door: Door) -> Response:
        session, now = door.session, door.now
        tenant = await enter_school(session, slug)
        refusal = tenant_refusal(tenant, slug)
        if tenant is None:
            assert refusal is not None  # no school's log: the platform's (LRS 5.1)
            await record_unresolved(runtime, request, door.request_id, refusal, now=now)
            return refusal.response(JSON)
        principal = (
            None if refusal is not None else await authenticate(session, runtime, request, tenant, now)
        )
        trail = door.audit(
            AuditTrail(
                actor=actor_of(principal),
                request_id=door.request_id,
                client_address=client_address(request),
                school_id=tenant.id,
            )
        )

        def refused(answer: RequestError) -> Response:
            return refuse(
                runtime, trail, answer, action=REFUSED,
                target=("SubjectAccessRequest", request_id), source=f"subject-access:{slug}", now=now,
            )  # fmt: skip

        if refusal is not None:  # a suspended or terminated school: recorded as an anonymous refusal
            return refused(refusal)
        if principal is None:
            return refused(RequestError(401, "UNAUTHENTICATED", "Sign in as a school admin."))
        if not policies.SCHOOL_ADMIN(principal, None):
            return refused(RequestError(403, "FORBIDDEN", "Only the school's admins download exports."))
        if request_id is None:
            return refused(RequestError(404, "NOT_FOUND", "No such subject access request."))
        try:
            row, data = await subject_access.download(
                session, principal, request_id, data_dir=runtime.settings.data_dir, now=now
            )
        except subject_access.Gone as gone:
            return refused(RequestError(410, "GONE", gone.problems[0].message))
        except DomainError as error:
            problem = error.problems[0]
            status = 404 if problem.code == "NOT_FOUND" else 409
            return refused(RequestError(status, problem.code, problem.message))
        return Response(
            data,
            media_type="application/zip",
            headers={
                "content-disposition": f'attachment; filename="subject-access-{row.id}.zip"',
                "cache-control": "no-store",
            },
        )

    return await serve_audited(request, run, failure=failure)

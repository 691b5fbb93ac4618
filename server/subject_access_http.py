"""``GET /schools/{slug}/subject-access/{id}``: a released subject access archive, to the school's admins only.

The same gate as the school endpoint (the school from the URL, the bearer token verified for that school):
an anonymous caller gets 401, any other role 403, another school's request (or no such request) 404, an
archive past its download window 410. Every download is audited in the school's chain in the same
transaction that counts it (LL 5.1.1, LRS 6.8: the archive is encrypted; its password is not here).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.recorder import AuditTrail
from auth import policies
from common.errors import DomainError
from common.events import attach
from privacy import subject_access
from server.caller import client_address
from server.errors import RequestError
from server.http import actor_of, authenticate, tenant_refusal
from server.runtime import Runtime
from tenants.context import enter_school

JSON = "application/json"


async def subject_access_download(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    try:
        request_id = uuid.UUID(request.path_params["request_id"])
    except ValueError:
        return RequestError(404, "NOT_FOUND", "No such subject access request.").response(JSON)
    now = runtime.clock.now()
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session, session.begin():
        tenant = await enter_school(session, slug)
        refusal = tenant_refusal(tenant, slug)
        if refusal is not None:
            return refusal.response(JSON)
        assert tenant is not None
        principal = await authenticate(session, runtime, request, tenant, now)
        if principal is None:
            return RequestError(401, "UNAUTHENTICATED", "Sign in as a school admin.").response(JSON)
        if not policies.SCHOOL_ADMIN(principal, None):
            return RequestError(403, "FORBIDDEN", "Only the school's admins download exports.").response(JSON)
        trail = AuditTrail(
            actor=actor_of(principal),
            request_id=uuid.uuid4().hex,
            client_address=client_address(request),
            school_id=tenant.id,
        )
        attach(session, trail)
        try:
            row, data = await subject_access.download(
                session, principal, request_id, data_dir=runtime.settings.data_dir, now=now
            )
        except subject_access.Gone as gone:
            return RequestError(410, "GONE", gone.problems[0].message).response(JSON)
        except DomainError as refused:
            problem = refused.problems[0]
            status = 404 if problem.code == "NOT_FOUND" else 409
            return RequestError(status, problem.code, problem.message).response(JSON)
        await trail.write(session, now=now)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="subject-access-{row.id}.zip"',
            "cache-control": "no-store",
        },
    )

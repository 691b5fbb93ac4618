"""``GET /trusts/{slug}/termination-exports/{school id}``: a terminated school's returned export, encrypted
(LL 5.1.3, LRS 6.8), to the admins of the trust it is returned to, until the return window closes.

Anonymous: 401. A school not terminated, not of this trust, or not released: 404. Purged or past the
window: 410. Every download is in the platform's log (``termination.export_downloaded``).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.platform import PlatformTrail, trust_admin_actor
from auth import trust_admins
from auth.admin_tokens import audience_for_trust, verify_admin_token
from common.errors import DomainError
from common.events import attach
from server.caller import bearer_token, client_address
from server.errors import RequestError
from server.runtime import Runtime
from subscriptions import handover
from subscriptions.trusts import resolve_trust
from tenants.context import bind

JSON = "application/json"


async def termination_export_download(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        school_id = uuid.UUID(request.path_params["school_id"])
    except ValueError:
        return RequestError(404, "NOT_FOUND", "No such export.").response(JSON)
    now = runtime.clock.now()
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session, session.begin():
        trust = await resolve_trust(session, request.path_params["slug"])
        if trust is None:
            return RequestError(404, "NOT_FOUND", "No such trust.").response(JSON)
        await bind(session, [], [trust.id])
        token = bearer_token(request)
        claims = (
            None
            if token is None
            else verify_admin_token(runtime.auth.keys, token, audience=audience_for_trust(trust.id), now=now)
        )
        principal = (
            None
            if claims is None
            else await trust_admins.load_principal(session, claims, trust_id=trust.id, now=now)
        )
        if principal is None:
            return RequestError(401, "UNAUTHENTICATED", "Sign in as an admin of this trust.").response(JSON)
        trail = PlatformTrail(
            actor=trust_admin_actor(principal.account_id, principal.username),
            request_id=uuid.uuid4().hex,
            client_address=client_address(request),
            trust_id=trust.id,
        )
        attach(session, trail)
        try:
            data = await handover.download(session, principal, school_id, today=now.date())
        except handover.Gone as gone:
            return RequestError(410, "GONE", gone.problems[0].message).response(JSON)
        except DomainError as refused:
            return RequestError(404, refused.problems[0].code, refused.problems[0].message).response(JSON)
        await trail.write(session, now=now)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="termination-export-{school_id}.zip"',
            "cache-control": "no-store",
        },
    )

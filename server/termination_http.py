"""``GET /trusts/{slug}/termination-exports/{school id}``: a terminated school's returned export, encrypted
(LL 5.1.3, LRS 6.8), to the admins of the trust it is returned to, until the return window closes.

Anonymous (or a token this trust does not accept): 401. A school not terminated, not of this trust, or not
released: 404. Purged or past the window: 410. Every download is in the platform's log
(``termination.export_downloaded``), and so is every refusal at a known trust
(``termination.export_download_refused``, DENIED, with the status and code: :mod:`server.refusals`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.platform import PlatformTrail, trust_admin_actor
from audit.recorder import Actor
from auth import trust_admins
from auth.admin_tokens import audience_for_trust, verify_admin_token
from common.errors import DomainError
from common.events import attach
from server.caller import bearer_token, client_address
from server.errors import RequestError
from server.refusals import JSON, refuse
from server.runtime import Runtime
from server.transaction import record_unresolved, request_id_of
from subscriptions import handover
from subscriptions.trusts import resolve_trust
from tenants.context import bind

REFUSED = "termination.export_download_refused"


def _school_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def termination_export_download(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    school_id = _school_id(request.path_params["school_id"])
    now = runtime.clock.now()
    async with AsyncSession(runtime.engine, expire_on_commit=False) as session, session.begin():
        trust = await resolve_trust(session, request.path_params["slug"])
        if trust is None:
            unknown = RequestError(404, "NOT_FOUND", "No such trust.")  # no trust's schools: the platform log
            await record_unresolved(runtime, request, request_id_of(request), unknown, now=now)
            return unknown.response(JSON)
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
        trail = PlatformTrail(
            actor=Actor.anonymous()
            if principal is None
            else trust_admin_actor(principal.account_id, principal.username),
            request_id=uuid.uuid4().hex,
            client_address=client_address(request),
            trust_id=trust.id,
        )

        async def refused(answer: RequestError) -> Response:
            return await refuse(
                session, runtime, trail, answer, action=REFUSED,
                target=("School", school_id), source=f"termination-exports:{trust.slug}", now=now,
            )  # fmt: skip

        if principal is None:
            return await refused(RequestError(401, "UNAUTHENTICATED", "Sign in as an admin of this trust."))
        if school_id is None:
            return await refused(RequestError(404, "NOT_FOUND", "No such export."))
        attach(session, trail)
        try:
            data = await handover.download(session, principal, school_id, today=now.date())
        except handover.Gone as gone:
            return await refused(RequestError(410, "GONE", gone.problems[0].message))
        except DomainError as error:
            return await refused(RequestError(404, error.problems[0].code, error.problems[0].message))
        await trail.write(session, now=now)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="termination-export-{school_id}.zip"',
            "cache-control": "no-store",
        },
    )

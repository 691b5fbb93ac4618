"""The trust and platform endpoints, ``/trusts/{slug}/graphql`` and ``/platform/graphql``: how their
requests are prepared.

Both are for admins signed in with an admin token for *this* endpoint's audience (``trust:<id>``,
``platform``); anything unrecognised is anonymous. Their audit trail is a :class:`PlatformTrail`: the
platform log, and each school's chain for the events about that school. Execution, commit or rollback and
the audit writing are :mod:`server.transaction`'s, as for the school endpoint (:mod:`server.http`).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.platform import PlatformTrail, operator_actor, trust_admin_actor
from audit.recorder import Actor
from auth import operators, trust_admins
from auth.admin_tokens import PLATFORM_AUDIENCE, audience_for_trust, verify_admin_token
from graph.platform.context import AdminContext
from server.caller import bearer_token, client_address
from server.errors import RequestError
from server.runtime import Runtime
from server.transaction import Prepared, serve_graphql
from subscriptions.trusts import current_school_ids, resolve_trust
from tenants.context import bind


async def trust_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_trust)


async def platform_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_platform)


async def _prepare_trust(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    """The trust is resolved by slug; its schools today are read with the trust bound, then the transaction
    is bound to exactly those schools (and the trust) for row-level security."""
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    trust = await resolve_trust(session, slug)
    if trust is None:
        return RequestError(404, "NOT_FOUND", f"No trust at /trusts/{slug}.")
    await bind(session, [], [trust.id])
    school_ids = await current_school_ids(session, trust.id, now.date())
    await bind(session, school_ids, [trust.id])
    principal = None
    token = bearer_token(request)
    if token is not None:
        claims = verify_admin_token(runtime.auth.keys, token, audience=audience_for_trust(trust.id), now=now)
        if claims is not None:
            principal = await trust_admins.load_principal(session, claims, trust_id=trust.id, now=now)
    actor = (
        Actor.anonymous()
        if principal is None
        else trust_admin_actor(principal.account_id, principal.username)
    )
    trail = PlatformTrail(
        actor=actor, request_id=request_id, client_address=client_address(request), trust_id=trust.id
    )
    context = AdminContext(
        audit=trail,
        session=session,
        principal=principal,
        tenant=trust,
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=client_address(request),
        max_page_size=runtime.settings.max_page_size,
        school_ids=tuple(school_ids),
    )
    schema: strawberry.Schema = request.app.state.trust_schema
    return Prepared(schema, context, trail, f"trust {slug}")


async def _prepare_platform(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    """Operators only. The transaction starts bound to no school; a service that must reach a school's
    rows binds to that school for the moment it needs them (``tenants.context.bound``)."""
    runtime: Runtime = request.app.state.runtime
    await bind(session, [])
    principal = None
    token = bearer_token(request)
    if token is not None:
        claims = verify_admin_token(runtime.auth.keys, token, audience=PLATFORM_AUDIENCE, now=now)
        if claims is not None:
            principal = await operators.load_principal(session, claims, now=now)
    actor = (
        Actor.anonymous() if principal is None else operator_actor(principal.account_id, principal.username)
    )
    trail = PlatformTrail(actor=actor, request_id=request_id, client_address=client_address(request))
    context = AdminContext(
        audit=trail,
        session=session,
        principal=principal,
        tenant=None,
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=client_address(request),
        max_page_size=runtime.settings.max_page_size,
    )
    schema: strawberry.Schema = request.app.state.platform_schema
    return Prepared(schema, context, trail, "platform")

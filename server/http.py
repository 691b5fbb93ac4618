"""The school endpoint, ``/schools/{slug}/graphql``: how its request is prepared.

1. The school is resolved from the URL slug: an unknown school is 404, a suspended or terminated one 403
   with a reason code.
2. The transaction is bound to the school for row-level security (``enter_school`` does both at once).
3. The bearer token, if any, is verified for *this* school's audience (``school:<id>``) and its session
   loaded into a principal; anything unrecognised is anonymous, so a token of one school is worth nothing
   at any other. On plain PostgreSQL steps 1-3 are one round trip (``auth.principal.enter_school_as``): the
   token is verified for the school its own audience names, and its principal read only if that school
   is the URL's. That statement runs in a transaction of its own, and the request's transaction begins,
   bound to the school the same way, only if the request sends anything else (:mod:`common.driver`).
4. While the school has not accepted the licence terms in force, every signed-in caller but its Super-Users
   is refused (403, ``TERMS_NOT_ACCEPTED``); the Super-Users may only read and accept them (LL 21). An
   integration partner's token is refused the same way (and so is the OneRoster provider).

The trust and platform endpoints are in :mod:`server.admin_http`; what happens next (execution, commit or
rollback, the audit) is :mod:`server.transaction`, the same for all three.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.recorder import Actor, AuditTrail, Event
from auth.access_tokens import verify_access_token, verify_access_token_of_its_school
from auth.principal import Principal, Role, enter_school_as, load_principal
from graph.context import Context
from graph.school.loaders import Loaders
from partners import ratelimit
from partners.oauth import access as partner_access
from server.caller import bearer_token, client_address
from server.cookies import browser_session
from server.errors import RequestError
from server.runtime import Runtime
from server.transaction import Prepared, refused_event, serve_graphql
from tenants.context import Tenant


async def school_graphql(request: Request) -> Response:
    return await serve_graphql(request, _prepare_school)


async def _prepare_school(
    session: AsyncSession, request: Request, now: datetime, request_id: str
) -> Prepared | RequestError:
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]
    address = client_address(request)
    token = bearer_token(request)
    claims = verify_access_token_of_its_school(runtime.auth.keys, token, now=now) if token else None
    # The school and, when the token is this school's, its principal: one round trip (auth.principal).
    tenant, principal = await enter_school_as(session, slug, claims, now, runtime.kept_principals)
    refusal = tenant_refusal(tenant, slug)
    if refusal is not None:
        if tenant is not None:
            # A known school's refusal (suspended, terminated) is activity at that school: recorded, in a
            # transaction of its own after the rollback, counted per address like anonymous denials.
            refused = AuditTrail(
                actor=Actor.anonymous(),
                request_id=request_id,
                client_address=address,
                school_id=tenant.id,
            )
            event = Event(
                "request.refused", "DENIED", None, None, {"reason": refusal.extensions["reason"]}, None
            )
            refused.events += runtime.anonymous_denials.admit((slug, address or ""), [event], now)
            refusal.trail = refused
        return refusal
    assert tenant is not None
    if token is not None and (claims is None or claims.school_id != tenant.id):
        # Not an account's token for this school: an integration partner's, or nothing (anonymous).
        principal = await partner_principal(session, runtime, token, tenant, now)
    trail = AuditTrail(
        actor=actor_of(principal),
        request_id=request_id,
        client_address=address,
        school_id=tenant.id,
    )
    if principal is not None and principal.terms_pending and not principal.super_user:
        terms = terms_not_accepted()
        terms.trail = trail  # recorded at the school, as the signed-in caller (server.transaction)
        trail.events.append(refused_event(terms))
        return terms
    if principal is None and bearer_token(request) is not None:
        # A token this school does not accept (forged, expired, another school's, a session ended): the
        # request goes on as anonymous, and the refusal is recorded (counted per address).
        event = Event("auth.token_refused", "DENIED", None, None, {}, None)
        trail.events += runtime.anonymous_denials.admit((slug, address or ""), [event], now)
    context = Context(
        audit=trail,
        session=session,
        principal=principal,
        tenant=tenant,
        loaders=Loaders.create(session, principal, now),
        auth=runtime.auth,
        now=now,
        request_id=request_id,
        client_address=address,
        max_page_size=runtime.settings.max_page_size,
        browser=browser_session(request, runtime.settings, slug),
    )
    return Prepared(runtime.school_schema, context, trail, slug)


def terms_not_accepted() -> RequestError:
    """The refusal of a signed-in caller of a school whose Super-Users have not accepted the licence terms
    in force (a new error each time: the request's audit trail goes with it). Sign-in itself (anonymous)
    still works, so a Super-User can sign in, read and accept them."""
    return RequestError(
        403,
        "FORBIDDEN",
        "The school has not accepted the platform's current licence terms: one of its Super-Users must sign "
        "in and accept them (LL 21).",
        reason="TERMS_NOT_ACCEPTED",
    )


def tenant_refusal(tenant: Tenant | None, slug: str) -> RequestError | None:
    """Why a request to ``/schools/{slug}`` cannot be served: no such school (404), or its access is
    suspended or ended (403, with the reason code); None when it can."""
    if tenant is None:
        return RequestError(404, "NOT_FOUND", f"No school at /schools/{slug}.")
    if not tenant.active:
        reason = f"SCHOOL_{tenant.status}"
        return RequestError(
            403,
            "FORBIDDEN",
            f"This school's access is {tenant.status.lower()}"
            + (f" ({tenant.status_reason})" if tenant.status_reason else "")
            + ". Contact the school or the platform operator.",
            reason=tenant.status_reason or reason,
        )
    return None


async def authenticate(
    session: AsyncSession, runtime: Runtime, request: Request, tenant: Tenant, now: datetime
) -> Principal | None:
    """The caller of a school request: the principal of a valid access token for this school, else None."""
    token = bearer_token(request)
    if token is None:
        return None
    claims = verify_access_token(runtime.auth.keys, token, school_id=tenant.id, now=now)
    if claims is None:
        return await partner_principal(session, runtime, token, tenant, now)
    return await load_principal(
        session, school_id=tenant.id, account_id=claims.account_id, session_id=claims.session_id, now=now
    )


def actor_of(principal: Principal | None) -> Actor:
    """How a school request's caller is named in the school's audit chain."""
    if principal is None:
        return Actor.anonymous()
    kind = "PARTNER" if principal.is_partner else "ACCOUNT"
    return Actor(kind, principal.account_id, principal.username, principal.role.value)


async def partner_principal(
    session: AsyncSession, runtime: Runtime, token: str, tenant: Tenant, now: datetime
) -> Principal | None:
    """An integration partner's token for this school (issue 14), checked against its approval on this
    very request, as a principal of role PARTNER whose scopes decide what it reads; its request counts
    against the partner's rate limit (429 with Retry-After beyond it). None for anything else."""
    access = await partner_access(session, runtime.auth.keys, token, tenant.id, now)
    if access is None:
        return None
    retry_after = await ratelimit.admit(session, runtime.settings, access.partner_id, now)
    if retry_after is not None:
        raise RequestError(
            429,
            "RATE_LIMITED",
            "This client's rate limit is reached; retry after the Retry-After seconds.",
            headers={"retry-after": str(retry_after)},
        )
    return Principal(
        account_id=access.partner_id,
        username=access.client_id,
        school_id=tenant.id,
        role=Role.PARTNER,
        session_id=access.token_id,
        pupil_scope=None,
        group_scope=None,
        teacher_scope=None,
        scopes=access.scopes,
        terms_pending=access.terms_pending,  # refused TERMS_NOT_ACCEPTED, as the school's users are
    )

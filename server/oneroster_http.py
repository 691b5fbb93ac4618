"""The OneRoster 1.1 REST provider at ``/schools/{slug}/ims/oneroster/v1p1/`` (issue 14).

A request is one transaction: the school is resolved and bound as for the GraphQL endpoint, the bearer
token must be a partner token for this school whose approval is in force on this very request and the
partner's rate limit is counted (429 with ``Retry-After``), both in one statement on plain PostgreSQL
(:func:`partners.oauth.admit`), the collection's scope must be granted, and the page is read (:mod:`partners.oneroster.service`). Every
request that reached a partner is in the school's audit chain with actor PARTNER (one that fails is
recorded FAILED, :mod:`server.door`; a refused token or a suspended school's refusal by an anonymous
caller, counted per address), and the pupils it
returned are recorded for the pupil access report. Refusals are the specification's status-info payload
(``imsx_codeMajor``, ``imsx_severity``, ``imsx_CodeMinor``); nothing answers a 500 with a trace.
"""

from __future__ import annotations

import tempfile
import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from audit.recorder import AuditTrail
from common.events import Actor, Event
from partners import changes, oauth
from partners.oneroster import nested, service
from partners.oneroster.params import OneRosterError, Query, parse_query, single_fields
from partners.oneroster.resources import RESOURCES, Context, Resource
from partners.push import push, report_body
from partners.scopes import ROSTER_EXTENDED_READ, ROSTER_READ, ROSTER_WRITE
from privacy.extended_data import is_opted_in
from roster.reading import SchoolRef
from roster.service import school_ref
from server.caller import bearer_token, client_address
from server.door import Door, serve_audited
from server.errors import JSONBody, RequestError
from server.runtime import Runtime
from server.transaction import PATH_RECORDED, record_unresolved
from tenants.context import enter_school, on_citus

PREFIX = "/ims/oneroster/v1p1"

REQUEST_SETTINGS = {"jit": "off"}
"""Set (transaction-local) by the request's access check, in its statement: JIT compilation off. A page of
persons is one large statement whose estimate crosses ``jit_above_cost`` from a few hundred rows, and
compiling its expressions took longer (about 100 ms) than reading the page."""

PERSON_SETTINGS = REQUEST_SETTINGS | {"plan_cache_mode": "force_generic_plan"}
"""For ``users``, ``students`` and ``teachers``: also the generic plan of the page statement (a prepared
statement of the connection, planned once), which PostgreSQL would otherwise re-plan for each of its
first five executions on a connection, 10-30 ms each for this statement under load; its page size is in
its text (``partners.oneroster.users``), so the generic plan knows how many rows it joins. Not on Citus
(:func:`_settings`)."""


async def _settings(session: AsyncSession, collection: str) -> dict[str, str]:
    """The request's transaction-local settings: :data:`PERSON_SETTINGS` for a person collection on plain
    PostgreSQL; on Citus, which routes a statement by its parameters' values and cannot plan a generic
    plan ("could not create distributed plan"), :data:`REQUEST_SETTINGS`."""
    resource = RESOURCES.get(collection)
    if resource is None or resource.render is not None or on_citus(await session.connection()):
        return REQUEST_SETTINGS
    return PERSON_SETTINGS


def _error(error: OneRosterError) -> Response:
    return JSONBody(error.body(), status_code=error.status, headers=error.headers)


async def oneroster_collection(request: Request) -> Response:
    return await _serve(request, request.path_params["collection"], None)


async def oneroster_object(request: Request) -> Response:
    return await _serve(request, request.path_params["collection"], request.path_params["sourced_id"])


async def oneroster_nested(request: Request) -> Response:
    """``.../{collection}/{sourced_id}/{nested}``: the specification's nested endpoints
    (:mod:`partners.oneroster.nested`)."""
    params = request.path_params
    return await _serve(
        request, params["nested"], None, parents=((params["collection"], params["sourced_id"]),)
    )


async def oneroster_class_of_school(request: Request) -> Response:
    """``.../schools/{school}/classes/{class}/{nested}``: a class's enrollments, students or teachers."""
    params = request.path_params
    parents = (("schools", params["school"]), ("classes", params["class_id"]))
    return await _serve(request, params["nested"], None, parents=parents)


async def oneroster_unknown(request: Request) -> Response:
    """Any other path below the provider: the specification's ``unknownobject``, not the router's plain-text
    404 (nothing is read: no endpoint, no data)."""
    path = request.path_params["rest"]
    return _error(
        OneRosterError(404, "unknownobject", f"'{path[:200]}' is not a OneRoster 1.1 endpoint served here.")
    )


async def oneroster_push(request: Request) -> Response:
    """``POST .../v1p1/packages?dryRun=true|false``: a OneRoster CSV zip (the body) into the importer."""
    return await _serve(request, "packages", None, push=True)


async def _serve(
    request: Request,
    collection: str,
    sourced_id: str | None,
    *,
    push: bool = False,
    parents: tuple[tuple[str, str], ...] = (),
) -> Response:
    """One transaction (:mod:`server.door`): the request's trail in the school's log committed with it,
    or recorded FAILED (spooled when the database is unreachable) when the request fails."""
    runtime: Runtime = request.app.state.runtime

    async def run(door: Door) -> Response:
        try:
            trail, response = await _prepare(door, runtime, request, collection)
        except OneRosterError as error:
            return _error(error)
        if response is not None:
            return response
        try:
            if push:
                return await _push(door.session, runtime, request, trail)
            return await _read(door.session, runtime, request, trail, collection, sourced_id, parents)
        except OneRosterError as error:
            trail.record(
                "partner.oneroster.read",
                "REJECTED",
                detail={"collection": collection, "error": error.code_minor, "status": error.status},
            )
            return _error(error)

    return await serve_audited(request, run, failure=_failure)


def _failure(status: int, code: str, message: str) -> Response:
    """A request the server could not complete, in the specification's status-info shape: 503
    ``server_busy`` (the database), 500 ``internal_server_error``; never a trace."""
    return _error(
        OneRosterError(status, "server_busy" if status == 503 else "internal_server_error", message)
    )


async def _prepare(
    door: Door, runtime: Runtime, request: Request, collection: str
) -> tuple[AuditTrail, Response | None]:
    """The school, the partner and its rate limit: the request's trail, and the refusal if any (raised
    before there is a trail)."""
    session, now = door.session, door.now
    slug = request.path_params["slug"]
    tenant = await enter_school(session, slug)
    if tenant is None:  # no school's log: the platform's (LRS 5.1)
        unknown = RequestError(404, "NOT_FOUND", f"No school at /schools/{slug}.")
        await record_unresolved(runtime, request, door.request_id, unknown, now=now)
        raise OneRosterError(404, "unknownobject", unknown.message)
    if not tenant.active:
        reason = f"SCHOOL_{tenant.status}"
        _refused_at(door, runtime, request, tenant.id, slug, "request.refused", 403, "FORBIDDEN", reason)
        raise OneRosterError(403, "forbidden", f"This school's access is {tenant.status.lower()}.")
    token = bearer_token(request)
    admission = (
        oauth.Admission(None)
        if token is None
        else await oauth.admit(
            session,
            runtime.auth.keys,
            token,
            tenant.id,
            now,
            runtime.settings,
            local_settings=await _settings(session, collection),
        )
    )
    access = admission.access
    if access is None:
        _refused_at(door, runtime, request, tenant.id, slug, "auth.token_refused", 401, "UNAUTHENTICATED")
        raise OneRosterError(
            401,
            "unauthorisedrequest",
            "A partner access token for this school is required (POST /oauth/token); it is missing, "
            "expired, revoked, or the school's approval was withdrawn.",
            headers={"www-authenticate": 'Bearer error="invalid_token"'},
        )
    trail = door.audit(
        AuditTrail(
            actor=Actor("PARTNER", access.partner_id, access.client_id, "PARTNER"),
            request_id=door.request_id,
            client_address=client_address(request),
            school_id=tenant.id,
        )
    )
    request.state.partner_access = access
    request.state.school_id = tenant.id
    request.state.school_slug = tenant.slug
    retry_after = admission.retry_after
    if retry_after is not None:
        trail.record("partner.rate_limited", "REJECTED", detail={"collection": collection})
        return trail, _error(
            OneRosterError(
                429,
                "server_busy",
                f"Rate limit of {runtime.settings.partner_rate_limit} requests per "
                f"{int(runtime.settings.partner_rate_window.total_seconds())} seconds reached.",
                headers={"retry-after": str(retry_after)},
            )
        )
    if access.terms_pending:
        trail.record(
            "partner.oneroster.read",
            "DENIED",
            detail={"collection": collection, "reason": "TERMS_NOT_ACCEPTED"},
        )
        return trail, _error(
            OneRosterError(
                403,
                "forbidden",
                "TERMS_NOT_ACCEPTED: the school has not accepted the platform's current licence terms; until "
                "one of its Super-Users accepts them, no partner is served (LL 21).",
            )
        )
    return trail, None


def _refused_at(
    door: Door,
    runtime: Runtime,
    request: Request,
    school_id: uuid.UUID,
    slug: str,
    action: str,
    status: int,
    code: str,
    reason: str | None = None,
) -> None:
    """A request refused at a known school before a partner was known (no token or not one this school
    accepts: ``auth.token_refused``; a suspended or terminated school: ``request.refused`` with the
    reason), in the school's log by an anonymous caller, counted per address like every anonymous
    denial (one entry a window, its repeats carried by the next)."""
    address = client_address(request)
    detail: dict[str, Any] = {"code": code, "status": status, "path": request.url.path[:PATH_RECORDED]}
    if reason is not None:
        detail["reason"] = reason
    event = Event(action, "DENIED", None, None, detail, None)
    trail = door.audit(
        AuditTrail(
            actor=Actor.anonymous(), request_id=door.request_id, client_address=address, school_id=school_id
        )
    )
    trail.events += runtime.anonymous_denials.admit((f"oneroster:{slug}", address or ""), [event], door.now)


async def _read(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    trail: AuditTrail,
    collection: str,
    sourced_id: str | None,
    parents: tuple[tuple[str, str], ...],
) -> Response:
    access: oauth.PartnerAccess = request.state.partner_access
    if collection == "changes" and sourced_id is None and not parents:
        return await _changes(session, request, trail, access)
    within = nested.within(parents, collection) if parents else None
    resource = RESOURCES.get(collection)
    if resource is None:
        raise OneRosterError(
            404, "unknownobject", f"{collection!r} is not a OneRoster 1.1 collection served here."
        )
    if not access.has(resource.scope):
        trail.record(
            "partner.oneroster.read", "DENIED", detail={"collection": collection, "scope": resource.scope}
        )
        raise OneRosterError(
            403, "forbidden", f"{collection} needs the scope {resource.scope}, not granted to this token."
        )
    params = dict(request.query_params)
    base = f"{str(request.base_url).rstrip('/')}/schools/{request.state.school_slug}{PREFIX}"
    # The person pages need the school's id alone; the other collections and a nested endpoint's parents,
    # the school's org too.
    school = (
        None
        if resource.render is None and within is None
        else await school_ref(session, request.state.school_id)
    )
    if within is not None:
        assert school is not None
        await _parents_exist(session, school, within)
    if resource.render is None:
        return await _people(session, runtime, trail, resource, sourced_id, params, request, base, within)
    assert school is not None
    extended = (
        resource.collection == "demographics"
        and access.has(ROSTER_EXTENDED_READ)
        and await is_opted_in(session, school.id)
    )
    context = Context(base=base, org=school.org_sourced_id or school.own_org_id, extended=extended)
    if sourced_id is not None:
        fields = single_fields(params, resource.fields)
        row = await service.read_one(session, school, resource, sourced_id, extended=extended)
        if row is None:
            raise OneRosterError(
                404, "unknownobject", f"No {resource.singular} with sourcedId {sourced_id!r}."
            )
        assert resource.render is not None
        obj = resource.render(row, context)
        trail.record("partner.oneroster.read", detail={"collection": collection, "sourcedId": sourced_id})
        return JSONBody({resource.singular: _select(obj, fields)})
    query = parse_query(params, filterable=resource.filterable, selectable=resource.fields)
    page = await service.read_page(session, school, resource, query, extended=extended, within=within)
    render = resource.render
    objects = [render(row, context) for row in page.rows]
    _record_page(trail, _path(within, collection), query, len(objects))
    headers = _page_headers(request, params, query, page.total)
    return JSONBody({collection: [_select(obj, query.fields) for obj in objects]}, headers=headers)


async def _people(
    session: AsyncSession,
    runtime: Runtime,
    trail: AuditTrail,
    resource: Resource,
    sourced_id: str | None,
    params: dict[str, str],
    request: Request,
    base: str,
    within: nested.Within | None,
) -> Response:
    """``users``, ``students``, ``teachers``: pages PostgreSQL builds whole (``partners.oneroster.users``)."""
    collection, school_id = resource.collection, request.state.school_id
    if sourced_id is not None:
        fields = single_fields(params, resource.fields)
        obj = await service.read_person(session, school_id, resource, sourced_id, base=base)
        if obj is None:
            raise OneRosterError(
                404, "unknownobject", f"No {resource.singular} with sourcedId {sourced_id!r}."
            )
        trail.record("partner.oneroster.read", detail={"collection": collection, "sourcedId": sourced_id})
        return JSONBody({resource.singular: _select(obj, fields)})
    query = parse_query(params, filterable=resource.filterable, selectable=resource.fields)
    built = await service.read_people(
        session, school_id, resource, query, base=base, positions=runtime.oneroster_positions, within=within
    )
    _record_page(trail, _path(within, collection), query, built.count)
    headers = _page_headers(request, params, query, built.total)
    if query.fields is None:  # the page's JSON as PostgreSQL built it, wrapped, never re-encoded
        content = b'{"' + collection.encode() + b'":' + built.objects + b"}"
        return Response(content, media_type="application/json", headers=headers)
    objects = orjson.loads(built.objects)
    return JSONBody({collection: [_select(obj, query.fields) for obj in objects]}, headers=headers)


async def _parents_exist(session: AsyncSession, school: SchoolRef, within: nested.Within) -> None:
    """A nested endpoint's parents are each served (else ``unknownobject``, as for the object alone)."""
    for parent, parent_id in within.parents:
        if not await service.exists(session, school, RESOURCES[parent], parent_id):
            raise OneRosterError(
                404, "unknownobject", f"No {RESOURCES[parent].singular} with sourcedId {parent_id!r}."
            )


def _path(within: nested.Within | None, collection: str) -> str:
    """The collection as the request's URL names it below the provider (``classes/5K/students``)."""
    return collection if within is None else f"{within.path}/{collection}"


def _record_page(trail: AuditTrail, collection: str, query: Query, returned: int) -> None:
    trail.record(
        "partner.oneroster.read",
        detail={
            "collection": collection,
            "offset": query.offset,
            "limit": query.limit,
            "returned": returned,
            "filterFields": sorted({p.field for p in query.filter.predicates}) if query.filter else [],
        },
    )


def _page_headers(request: Request, params: dict[str, str], query: Query, total: int) -> dict[str, str]:
    headers = {"x-total-count": str(total)}
    links = _links(request, params, query.offset, query.limit, total)
    if links:
        headers["link"] = links
    return headers


async def _changes(
    session: AsyncSession, request: Request, trail: AuditTrail, access: oauth.PartnerAccess
) -> Response:
    """``GET .../v1p1/changes?since=<N or next>&limit=``: the roster change feed (``partners/changes.py``)."""
    if not access.has(ROSTER_READ):
        trail.record("partner.changes.read", "DENIED", detail={"scope": ROSTER_READ})
        raise OneRosterError(403, "forbidden", f"The change feed needs the scope {ROSTER_READ}.")
    params = request.query_params
    try:
        since = changes.Cursor.parse(params.get("since", "0"))
    except changes.BadCursor:
        raise OneRosterError(
            400, "invaliddata", "since: a version (a whole number) or the next cursor of a previous page."
        ) from None
    limit = parse_query({"limit": params.get("limit", "100")}, filterable=(), selectable=()).limit
    school = await school_ref(session, request.state.school_id)
    collections = changes.collections_for(access.scopes, changes.ROSTER)
    try:
        feed = await changes.read(session, school, since, limit, collections, via="oneroster changes")
    except changes.SinceTooOld as error:
        # Gone: what the consumer would need from there (a purged deletion) no longer exists.
        raise OneRosterError(410, "invaliddata", str(error)) from None
    base = f"{str(request.base_url).rstrip('/')}/schools/{school.slug}{PREFIX}"
    trail.record("partner.changes.read", detail={"returned": len(feed.changes), "since": since.version})
    body = {
        "changes": [
            {
                "version": r.version,
                "collection": r.collection,
                "sourcedId": r.sourcedId,
                "status": r.status,
                # A deleted object (a tombstone) has nothing left to fetch.
                "href": None if r.status == changes.DELETED else f"{base}/{r.collection}/{r.sourcedId}",
            }
            for r in feed.changes
        ],
        "next": feed.next.encode(),
    }
    return JSONBody(body)


async def _push(session: AsyncSession, runtime: Runtime, request: Request, trail: AuditTrail) -> Response:
    access: oauth.PartnerAccess = request.state.partner_access
    if not access.has(ROSTER_WRITE):
        trail.record("partner.roster_push", "DENIED", detail={"scope": ROSTER_WRITE})
        raise OneRosterError(403, "forbidden", f"Pushing a roster needs the scope {ROSTER_WRITE}.")
    dry_run = request.query_params.get("dryRun", "true")
    if dry_run not in ("true", "false"):
        raise OneRosterError(400, "invaliddata", f"dryRun: {dry_run!r} must be true or false.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/zip", "application/x-zip-compressed", "application/octet-stream"):
        raise OneRosterError(
            400, "invaliddata", "Send the OneRoster CSV package as the body, application/zip."
        )
    limit = runtime.settings.max_upload_bytes
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise OneRosterError(413, "invaliddata", f"The package is over {limit // 1024**2} MiB.")
            spool.write(chunk)
        spool.seek(0)
        school = await school_ref(session, request.state.school_id)
        report = await push(
            session,
            school,
            access,
            spool,
            request.query_params.get("fileName", "push.zip")[:255],
            dry_run=dry_run == "true",
            now=runtime.clock.now(),
        )
    status = 200 if report.outcome in ("COMMITTED", "DRY_RUN") else 422
    return JSONBody(report_body(report), status_code=status)


def _select(obj: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return obj if fields is None else {name: obj.get(name) for name in fields}


def _links(request: Request, params: dict[str, str], offset: int, limit: int, total: int) -> str:
    """RFC 8288 Link header with the specification's rels: next, prev, first, last."""
    base = str(request.url).partition("?")[0]  # the request's URL without its query (no "?" in a path)
    # The query as urlencode would write it for each offset, its other pairs encoded once.
    query = {**params, "limit": str(limit), "offset": ""}
    pairs = [None if name == "offset" else urlencode({name: value}) for name, value in query.items()]

    def url(at: int) -> str:
        return base + "?" + "&".join(f"offset={at}" if pair is None else pair for pair in pairs)

    last = max(0, ((total - 1) // limit) * limit) if total else 0
    links = []
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
    links.append(f'<{url(0)}>; rel="first"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)

"""A terminated school's returned export, encrypted (LL 5.1.3, LRS 6.8), until the return window closes.

``GET /trusts/{slug}/termination-exports/{school id}``: to the admins of the trust it is returned to.
Anonymous (or a token this trust does not accept): 401. A school not terminated, not of this trust, or not
released: 404. Purged or past the window: 410.

``POST /schools/{slug}/termination-export/release`` and ``GET /schools/{slug}/termination-export``: to the
holder of the school's handover credential (given once to a Super-User who chose RETURN before the school
was terminated, ``subscriptions.handover``), presented as the bearer token; for a school in a trust or not.
The release answers the archive's password once (JSON); the download the archive. No credential, or not
this school's (another school's, a voided one, a trust admin's or a school account's token): 401. Not
released, not yet destroyed, DELETE chosen or already released: 409. Purged or past the window: 410. An
export no key of this server opens (``EXPORT_KEY_MISMATCH``): 503.

Each request is one transaction (:mod:`server.door`: a request that fails is recorded FAILED). Every release and download is in the platform's log
(``termination.export_released``, ``termination.export_downloaded``; the holder's actor type is
``HANDOVER``), and so is every refusal at a known trust or school (``termination.export_download_refused``,
``termination.export_release_refused``, DENIED, with the status and code: :mod:`server.refusals`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from audit.platform import PlatformTrail, trust_admin_actor
from audit.recorder import Actor
from auth import trust_admins
from auth.admin_tokens import audience_for_trust, verify_admin_token
from common.errors import DomainError
from models import School
from models.licensing import DestructionRecord
from privacy.exporter import export_keys_of
from server.caller import bearer_token, client_address
from server.door import Door, serve_audited
from server.errors import RequestError
from server.refusals import JSON, failure, refuse
from server.runtime import Runtime
from server.transaction import record_unresolved
from subscriptions import handover
from subscriptions.trusts import resolve_trust
from tenants.context import bind

REFUSED = "termination.export_download_refused"
RELEASE_REFUSED = "termination.export_release_refused"
CONFLICTS = ("NOT_RETURNED", "NOT_READY", "ALREADY_RELEASED", "NOT_RELEASED")
KEY_PROBLEMS = ("EXPORT_KEY_MISMATCH", "EXPORT_KEY_UNREADABLE")


def _school_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def termination_export_download(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    school_id = _school_id(request.path_params["school_id"])

    async def run(door: Door) -> Response:
        session, now = door.session, door.now
        trust = await resolve_trust(session, request.path_params["slug"])
        if trust is None:
            unknown = RequestError(404, "NOT_FOUND", "No such trust.")  # no trust's schools: the platform log
            await record_unresolved(runtime, request, door.request_id, unknown, now=now)
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
        trail = door.audit(
            PlatformTrail(
                actor=Actor.anonymous()
                if principal is None
                else trust_admin_actor(principal.account_id, principal.username),
                request_id=door.request_id,
                client_address=client_address(request),
                trust_id=trust.id,
            )
        )

        def refused(answer: RequestError) -> Response:
            return refuse(
                runtime, trail, answer, action=REFUSED,
                target=("School", school_id), source=f"termination-exports:{trust.slug}", now=now,
            )  # fmt: skip

        if principal is None:
            return refused(RequestError(401, "UNAUTHENTICATED", "Sign in as an admin of this trust."))
        if school_id is None:
            return refused(RequestError(404, "NOT_FOUND", "No such export."))
        try:
            data = await handover.download(session, principal, school_id, today=now.date())
        except handover.Gone as gone:
            return refused(RequestError(410, "GONE", gone.problems[0].message))
        except DomainError as error:
            return refused(RequestError(404, error.problems[0].code, error.problems[0].message))
        return _archive(data, school_id)

    return await serve_audited(request, run, failure=failure)


def _archive(data: bytes, school_id: uuid.UUID) -> Response:
    return Response(
        data,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="termination-export-{school_id}.zip"',
            "cache-control": "no-store",
        },
    )


def _holder_refusal(error: DomainError) -> RequestError:
    """How a refused release or download is answered at the holder's route."""
    problem = error.problems[0]
    if isinstance(error, handover.Gone) or problem.code == "ALREADY_PURGED":
        return RequestError(410, "GONE", problem.message)
    if problem.code in KEY_PROBLEMS:
        return RequestError(503, problem.code, problem.message)
    return RequestError(409 if problem.code in CONFLICTS else 404, problem.code, problem.message)


def holder_actor(record: DestructionRecord) -> Actor:
    """The holder of a school's handover credential, as the platform log names them."""
    return Actor("HANDOVER", record.credential_holder, "handover credential", "HANDOVER")


async def _as_holder(
    request: Request,
    *,
    refused_action: str,
    act: Callable[[AsyncSession, DestructionRecord, datetime], Awaitable[Any]],
    answer: Callable[[DestructionRecord, Any], Response],
) -> Response:
    """One transaction (:mod:`server.door`): the school of the URL, the caller's handover credential
    checked against its destruction record (locked), ``act`` on it, the platform log written; every
    refusal recorded, and a failure recorded FAILED."""
    runtime: Runtime = request.app.state.runtime
    slug = request.path_params["slug"]

    async def run(door: Door) -> Response:
        session, now = door.session, door.now
        school_id = await session.scalar(select(School.id).where(School.slug == slug))
        if school_id is None:
            unknown = RequestError(404, "NOT_FOUND", "No such school.")  # no school's log: the platform's
            await record_unresolved(runtime, request, door.request_id, unknown, now=now)
            return unknown.response(JSON)
        credential = bearer_token(request)
        record = None if credential is None else await handover.held_record(session, school_id, credential)
        trail = door.audit(
            PlatformTrail(
                actor=Actor.anonymous() if record is None else holder_actor(record),
                request_id=door.request_id,
                client_address=client_address(request),
                trust_id=None if record is None else record.trust_id,
            )
        )

        def refused(refusal: RequestError) -> Response:
            return refuse(
                runtime, trail, refusal, action=refused_action,
                target=("School", school_id), source=f"termination-export:{slug}", now=now,
            )  # fmt: skip

        if record is None:
            return refused(
                RequestError(
                    401, "UNAUTHENTICATED", "Present this school's handover credential as the bearer token."
                )
            )
        try:
            result = await act(session, record, now)
        except DomainError as error:
            return refused(_holder_refusal(error))
        return answer(record, result)

    return await serve_audited(request, run, failure=failure)


async def school_termination_export_release(request: Request) -> Response:
    """``POST /schools/{slug}/termination-export/release``: the archive's password, this once."""
    runtime: Runtime = request.app.state.runtime  # its export keys unseal
    slug = request.path_params["slug"]

    async def act(session: AsyncSession, record: DestructionRecord, now: datetime) -> handover.Released:
        return await handover.release_record(session, record, keys=export_keys_of(runtime.settings), now=now)

    def answer(record: DestructionRecord, released: handover.Released) -> Response:
        body = {
            "password": released.password,
            "downloadPath": f"/schools/{slug}{handover.DOWNLOAD_PATH}",
            "returnUntil": None if record.return_until is None else record.return_until.isoformat(),
            "sha256": record.archive_sha256,
        }
        return JSONResponse(body, headers={"cache-control": "no-store"})

    return await _as_holder(request, refused_action=RELEASE_REFUSED, act=act, answer=answer)


async def school_termination_export_download(request: Request) -> Response:
    """``GET /schools/{slug}/termination-export``: the released archive."""

    async def act(session: AsyncSession, record: DestructionRecord, now: datetime) -> bytes:
        return await handover.download_record(session, record, today=now.date())

    return await _as_holder(
        request, refused_action=REFUSED, act=act, answer=lambda record, data: _archive(data, record.tenant_id)
    )

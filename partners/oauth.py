"""OAuth 2.0 for integration partners: client authentication, the client-credentials grant (RFC 6749 4.4),
revocation (RFC 7009), introspection (RFC 7662), and the check every partner request passes (issue 14).

authlib has no Starlette server integration, and its server classes call their storage synchronously, so
this module is the grant itself, small and explicit, built from authlib's parts where they fit: its error
classes give every refusal its RFC name, status and body (:mod:`authlib.oauth2.rfc6749.errors`), its scope
helpers parse ``scope``, and its RFC 7523 client-assertion verifier checks ``private_key_jwt`` assertions
(with the request's clock instead of the host's). Tokens are schoolgraph's ES256 access tokens
(:func:`auth.tokens.sign_token`) whose audience is one school and whose ``sid`` is a ``partner_tokens``
row: a token is honoured only while that row is unrevoked, its approval in force and the partner active, so
revoking the approval refuses the very next request. Neither a token nor a secret is ever stored, logged or
audited: the audit names the token's row id.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import UUID, DateTime, Select, bindparam, delete, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.access_tokens import PARTNER_ROLE, audience_for_school
from auth.agreements import terms_pending
from auth.runtime import AuthRuntime
from auth.tokens import SigningKeys, canonical_uuid, sign_token, verified_claims
from common.events import Actor
from common.prepared import Prepared
from common.settings import Settings
from models.partners import Partner, PartnerApproval, PartnerAssertion, PartnerToken
from partners import approvals, ratelimit, registry
from partners.scopes import normalise, unknown_scopes
from tenants.context import Tenant, bind, enter_school, on_citus
from tenants.scoping import in_school, scoped, scoped_update

ASSERTION_TYPE = JWTBearerClientAssertion.CLIENT_ASSERTION_TYPE
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
GRANT_TYPE = "client_credentials"


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 2: the requested resource (here: the school) is not one this client may have a token for."""

    error = "invalid_target"


def partner_actor(partner: Partner) -> Actor:
    """A partner as the audit log names it (actor type PARTNER, its client id as the name)."""
    return Actor("PARTNER", partner.id, partner.client_id, PARTNER_ROLE)


@dataclass(frozen=True)
class ClientAuthentication:
    """What a request offered to authenticate its client: the method and the claimed client id."""

    method: str
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None


def client_credentials_of(form: dict[str, str], authorization: str | None) -> ClientAuthentication:
    """The one client authentication method a token, revocation or introspection request used
    (RFC 6749 2.3: exactly one). Raises InvalidClientError (none; 401 when an Authorization header was
    tried) or InvalidRequestError (more than one)."""
    offered: list[ClientAuthentication] = []
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClientError("The Basic credentials are not base64.", status_code=401) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise InvalidClientError("The Basic credentials have no ':'.", status_code=401)
        offered.append(
            ClientAuthentication("client_secret_basic", unquote_plus(client_id), unquote_plus(secret))
        )
    elif authorization:
        raise InvalidClientError("Authenticate the client with Basic or in the form body.", status_code=401)
    if "client_secret" in form:
        offered.append(
            ClientAuthentication("client_secret_post", form.get("client_id"), form["client_secret"])
        )
    if "client_assertion" in form or "client_assertion_type" in form:
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise InvalidClientError(f"private_key_jwt needs client_assertion_type={ASSERTION_TYPE}.")
        offered.append(
            ClientAuthentication("private_key_jwt", form.get("client_id"), assertion=form["client_assertion"])
        )
    if len(offered) > 1:
        raise InvalidRequestError("Use exactly one client authentication method.")
    if not offered:
        raise InvalidClientError(
            f"No client authentication; supported: {', '.join(AUTH_METHODS)}.", status_code=401
        )
    return offered[0]


class _AssertionVerifier(JWTBearerClientAssertion):  # type: ignore[misc]
    """authlib's RFC 7523 verifier, with the request's clock and this endpoint's audiences; ``jti`` replay
    is checked by :func:`authenticate_client` in the database (authlib's hook is synchronous)."""

    def __init__(self, audiences: list[str], now: datetime) -> None:
        super().__init__(validate_jti=False, leeway=60)
        self.audiences, self.now = audiences, now

    def get_audiences(self) -> list[str]:
        return self.audiences

    def verify_claims(self, claims: Any) -> None:
        registry_ = jwt.JWTClaimsRegistry(
            now=int(self.now.timestamp()),
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.audiences},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry_.validate(claims)
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="The assertion's iss and sub must both be the client id.")


async def authenticate_client(
    session: AsyncSession,
    auth: AuthRuntime,
    offered: ClientAuthentication,
    *,
    audiences: list[str],
    now: datetime,
) -> Partner:
    """The partner the credentials prove, or InvalidClientError (the same for an unknown client, a wrong
    secret and a disabled partner, so the error tells nothing about which client ids exist)."""
    status = 401 if offered.method == "client_secret_basic" else 400
    refused = InvalidClientError("Client authentication failed.", status_code=status)
    if offered.method == "private_key_jwt":
        return await _authenticate_assertion(session, offered, audiences, now)
    partner = await registry.by_client_id(session, offered.client_id or "")
    hashes = [s.secret_hash for s in await registry.live_secrets(session, partner.id, now)] if partner else []
    matched = False
    for encoded in hashes:
        matched = matched or await auth.verify(encoded, offered.secret or "")
    if not hashes:
        await auth.verify(None, offered.secret or "")  # the same cost for an unknown client
    if partner is None or not matched or partner.status != "ACTIVE":
        raise refused
    return partner


async def _authenticate_assertion(
    session: AsyncSession, offered: ClientAuthentication, audiences: list[str], now: datetime
) -> Partner:
    verifier = _AssertionVerifier(audiences, now)
    assert offered.assertion is not None
    _, unverified = verifier.extract_assertion(offered.assertion)
    subject = unverified.get("sub")
    if not isinstance(subject, str) or (offered.client_id and offered.client_id != subject):
        raise InvalidClientError("The assertion's sub must be the client id.")
    partner = await registry.by_client_id(session, subject)
    keys = await registry.live_keys(session, partner.id) if partner else []
    if partner is None or not keys or partner.status != "ACTIVE":
        raise InvalidClientError("Client authentication failed.")
    claims = verifier.process_assertion_claims(
        offered.assertion, KeySet.import_key_set({"keys": [k.jwk for k in keys]})
    )
    expires = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
    await session.execute(delete(PartnerAssertion).where(PartnerAssertion.expires_at < now))
    inserted = await session.execute(
        pg_insert(PartnerAssertion)
        .values(partner_id=partner.id, jti=str(claims["jti"])[:200], expires_at=expires)
        .on_conflict_do_nothing()
        .returning(PartnerAssertion.jti)
    )
    if inserted.first() is None:
        raise InvalidClientError("This client assertion was used before (jti).")
    return partner


def check_grant_type(form: dict[str, str]) -> None:
    grant = form.get("grant_type")
    if not grant:
        raise InvalidRequestError("grant_type is required.")
    if grant != GRANT_TYPE:
        raise UnsupportedGrantTypeError(f"Only {GRANT_TYPE} is supported, not {grant!r}.")


def school_slug_of(form: dict[str, str]) -> str:
    """The school a token is requested for: ``school=<slug>``, or an RFC 8707 ``resource`` naming its URL
    (``.../schools/<slug>``)."""
    slug = form.get("school")
    resource = form.get("resource")
    if not slug and resource:
        parts = resource.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "schools":
            slug = parts[-1]
    if not slug:
        raise InvalidRequestError("Name the school the token is for: school=<slug> (or resource=<its URL>).")
    return slug


@dataclass(frozen=True)
class IssuedToken:
    body: dict[str, Any]
    token: PartnerToken
    tenant: Tenant


async def issue_token(
    session: AsyncSession, auth: AuthRuntime, partner: Partner, form: dict[str, str], *, now: datetime
) -> IssuedToken:
    """A short-lived access token for one school with the approved scopes the request asked for (all of
    them when it named none). InvalidTargetError when the school is unknown, not active or has not
    approved the partner (one answer for all three); InvalidScopeError for a scope not approved."""
    slug = school_slug_of(form)
    tenant = await enter_school(session, slug)
    approval = None
    if tenant is not None and tenant.active:
        approval = await approvals.current(session, tenant.id, partner.id)
    if tenant is None or approval is None:
        raise InvalidTargetError(f"This client is not approved at school {slug!r}.")
    requested = scope_to_list(form.get("scope")) or list(approval.scopes)
    unknown = unknown_scopes(requested)
    if unknown:
        raise InvalidScopeError(f"Unknown scope(s): {' '.join(unknown)}.")
    refused = [s for s in requested if s not in approval.scopes]
    if refused:
        raise InvalidScopeError(f"Not approved at this school: {' '.join(refused)}.")
    granted = normalise(requested)
    ttl = auth.settings.partner_token_ttl
    row = PartnerToken(
        school_id=tenant.id,
        partner_id=partner.id,
        approval_id=approval.id,
        scopes=granted,
        issued_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    token = sign_token(
        auth.keys,
        subject=partner.id,
        audience=audience_for_school(tenant.id),
        session_id=row.id,
        roles=[PARTNER_ROLE],
        ttl=ttl,
        now=now,
        extra_claims={"client_id": partner.client_id, "scope": " ".join(granted)},
    )
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(ttl.total_seconds()),
        "scope": " ".join(granted),
    }
    return IssuedToken(body, row, tenant)


@dataclass(frozen=True)
class TokenIdentity:
    """A verified partner token's claims that matter: whose, for which school, which row."""

    partner_id: uuid.UUID
    school_id: uuid.UUID
    token_id: uuid.UUID


def identify(keys: SigningKeys, token: str, now: datetime) -> TokenIdentity | None:
    """The identity of a partner token signed by us and unexpired at ``now`` (for any school), else None."""
    audience = _unverified_audience(token)
    school_id = canonical_uuid(audience[len("school:") :]) if audience.startswith("school:") else None
    if school_id is None:
        return None
    claims = verified_claims(keys, token, audience=audience, now=now, leeway=timedelta(0))
    if claims is None or claims.get("roles") != [PARTNER_ROLE]:
        return None
    partner_id, token_id = canonical_uuid(claims["sub"]), canonical_uuid(claims["sid"])
    if partner_id is None or token_id is None:
        return None
    return TokenIdentity(partner_id, school_id, token_id)


def _unverified_audience(token: str) -> str:
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        return ""
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return ""
    audience = payload.get("aud") if isinstance(payload, dict) else None
    return audience if isinstance(audience, str) else ""


@dataclass(frozen=True)
class PartnerAccess:
    """A partner request's caller, checked against the database on this very request."""

    partner_id: uuid.UUID
    client_id: str
    name: str
    school_id: uuid.UUID
    token_id: uuid.UUID
    scopes: frozenset[str]
    terms_pending: bool = False
    """The school's Super-Users have not accepted the licence terms in force (LL 21): the partner is
    refused everything, as the school's users are (``auth.agreements.terms_pending``)."""

    def has(self, scope: str) -> bool:
        return scope in self.scopes


_SCHOOL = bindparam("school_id", type_=UUID(as_uuid=True))
_TOKEN = bindparam("token_id", type_=UUID(as_uuid=True))
_PARTNER = bindparam("partner_id", type_=UUID(as_uuid=True))
_NOW = bindparam("now", type_=DateTime(timezone=True))


def _access_statement() -> Select[Any]:
    """The one statement of :func:`access`: the token's row unrevoked and unexpired, its approval in force
    and its partner active, and whether the school owes its acceptance of the licence terms. Its values
    are the parameters ``school_id``, ``token_id``, ``partner_id`` and ``now``."""
    stmt: Select[Any] = (
        select(
            Partner.client_id,
            Partner.name,
            col(PartnerToken.scopes).label("token_scopes"),
            col(PartnerApproval.scopes).label("approved_scopes"),
            terms_pending(_SCHOOL, _NOW).label("terms"),
        )
        .select_from(PartnerToken)
        .join(
            PartnerApproval,
            (PartnerApproval.id == PartnerToken.approval_id) & in_school(PartnerApproval, _SCHOOL),
        )
        .join(Partner, Partner.id == PartnerToken.partner_id)
        .where(
            in_school(PartnerToken, _SCHOOL),
            PartnerToken.id == _TOKEN,
            PartnerToken.partner_id == _PARTNER,
            col(PartnerToken.revoked_at).is_(None),
            PartnerToken.expires_at > _NOW,
            col(PartnerApproval.revoked_at).is_(None),
            Partner.status == "ACTIVE",
        )
    )
    return stmt


_ACCESS = Prepared(_access_statement())
"""Compiled once: every partner request runs it (GraphQL and OneRoster)."""


def _admit_statement(local_settings: tuple[tuple[str, str], ...]) -> Prepared:
    """:func:`access`'s statement as a CTE, the rate window's upsert inserting from it (so only an
    admitted request is counted), and ``set_config`` of the request's transaction-local settings."""
    checked = _access_statement().cte("access")
    values = select(_PARTNER, _NOW, literal(1)).select_from(checked)
    window_start = bindparam("window_start", type_=DateTime(timezone=True))
    counted = ratelimit.count(_NOW, window_start, values).cte("counted")
    configured = [func.set_config(name, value, True) for name, value in local_settings]
    return Prepared(
        select(checked, counted.c.requests, counted.c.window_started_at, *configured).select_from(
            checked.outerjoin(counted, true())
        )
    )


_ADMIT: dict[tuple[tuple[str, str], ...], Prepared] = {}


def _partner_access(identity: TokenIdentity, row: Sequence[Any]) -> PartnerAccess:
    """The access of :func:`_access_statement`'s row (its columns by position, as the driver's rows and
    SQLAlchemy's both give them): client id, name, the token's scopes, the approval's, the terms owed."""
    client_id, name, token_scopes, approved_scopes, terms = row[:5]
    return PartnerAccess(
        identity.partner_id,
        client_id,
        name,
        identity.school_id,
        identity.token_id,
        frozenset(token_scopes) & frozenset(approved_scopes),
        bool(terms),
    )


def _identity_at(keys: SigningKeys, token: str, school_id: uuid.UUID, now: datetime) -> TokenIdentity | None:
    identity = identify(keys, token, now)
    if identity is None or identity.school_id != school_id:
        return None
    return identity


def _values(identity: TokenIdentity, now: datetime) -> dict[str, Any]:
    return {
        "school_id": identity.school_id,
        "token_id": identity.token_id,
        "partner_id": identity.partner_id,
        "now": now,
    }


async def access(
    session: AsyncSession, keys: SigningKeys, token: str, school_id: uuid.UUID, now: datetime
) -> PartnerAccess | None:
    """The partner behind ``token`` at ``school_id`` if the token is valid for this school and, read now in
    one statement, its row is unrevoked, its approval in force and its partner active; else None. The
    same statement reads whether the school owes its acceptance of the licence terms (``terms_pending``,
    which the caller refuses). The session must be bound to the school."""
    identity = _identity_at(keys, token, school_id, now)
    if identity is None:
        return None
    connection = await session.connection()
    row = await _ACCESS.first(connection, _values(identity, now))  # by the driver
    return None if row is None else _partner_access(identity, row)


@dataclass(frozen=True)
class Admission:
    """A partner request checked and counted: who (None: refused, nothing counted) and, when it is over
    its rate limit, the seconds until its window ends."""

    access: PartnerAccess | None
    retry_after: int | None = None


async def admit(
    session: AsyncSession,
    keys: SigningKeys,
    token: str,
    school_id: uuid.UUID,
    now: datetime,
    settings: Settings,
    *,
    local_settings: Mapping[str, str] | None = None,
) -> Admission:
    """:func:`access` and, when it admits the partner, its request counted against its rate limit
    (:mod:`partners.ratelimit`), in one statement on plain PostgreSQL: the access check is a CTE and the
    window's upsert inserts from it, so a refused request is not counted, exactly as the two statements
    one after the other did; the same statement sets ``local_settings`` for the rest of the transaction
    (``set_config(name, value, true)``). On Citus (ADR 19) the check reads distributed tables and the
    window is a reference table, which one statement cannot write from such a read: there they are two
    statements, as before, and the settings a third."""
    identity = _identity_at(keys, token, school_id, now)
    if identity is None:
        return Admission(None)
    configured = tuple(sorted((local_settings or {}).items()))
    connection = await session.connection()
    if on_citus(connection):
        found = await access(session, keys, token, school_id, now)
        if found is None:
            return Admission(None)
        if configured:
            await session.execute(select(*(func.set_config(n, v, True) for n, v in configured)))
        return Admission(found, await ratelimit.admit(session, settings, found.partner_id, now))
    statement = _ADMIT.get(configured)
    if statement is None:
        statement = _ADMIT[configured] = _admit_statement(configured)
    values = _values(identity, now) | {"window_start": now - settings.partner_rate_window}
    row = await statement.first(connection, values)  # by the driver
    if row is None:
        return Admission(None)
    # The access's five columns, then the window's count and start (_admit_statement).
    retry = ratelimit.retry_after(settings, row[5], row[6], now)
    return Admission(_partner_access(identity, row), retry)


async def revoke_token(
    session: AsyncSession, keys: SigningKeys, partner: Partner, token: str, *, now: datetime
) -> PartnerToken | None:
    """RFC 7009: revoke the partner's own token (the row it names). Another client's token, an invalid or
    expired one: nothing happens (the endpoint answers 200 all the same). Returns the revoked row."""
    identity = identify(keys, token, now)
    if identity is None or identity.partner_id != partner.id:
        return None
    await bind(session, [identity.school_id])
    result = await session.execute(
        scoped_update(PartnerToken, identity.school_id)
        .where(PartnerToken.id == identity.token_id, col(PartnerToken.revoked_at).is_(None))
        .values(revoked_at=now)
        .returning(PartnerToken)
    )
    return result.scalar_one_or_none()


async def introspect(
    session: AsyncSession, keys: SigningKeys, partner: Partner, token: str, *, now: datetime
) -> dict[str, Any]:
    """RFC 7662: the token's state for the partner that holds it; ``{"active": false}`` for anything else
    (another client's token, revoked, expired, approval withdrawn, malformed)."""
    identity = identify(keys, token, now)
    if identity is None or identity.partner_id != partner.id:
        return {"active": False}
    await bind(session, [identity.school_id])
    found = await access(session, keys, token, identity.school_id, now)
    if found is None:
        return {"active": False}
    row = (
        await session.execute(
            scoped(PartnerToken, identity.school_id).where(PartnerToken.id == identity.token_id)
        )
    ).scalar_one()
    return {
        "active": True,
        "scope": " ".join(normalise(found.scopes)),
        "client_id": partner.client_id,
        "token_type": "Bearer",
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.issued_at.timestamp()),
        "sub": str(partner.id),
        "aud": audience_for_school(identity.school_id),
        "iss": "schoolgraph",
    }


__all__ = [
    "AUTH_METHODS",
    "ClientAuthentication",
    "InvalidTargetError",
    "PartnerAccess",
    "access",
    "authenticate_client",
    "check_grant_type",
    "client_credentials_of",
    "introspect",
    "issue_token",
    "partner_actor",
    "revoke_token",
]

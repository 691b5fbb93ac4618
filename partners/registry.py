"""The operator's registry of integration partners and their credentials (issue 14).

A partner is registered with its organisation, a contact, its privacy notice and the scopes it may ask
for; it gets a public ``client_id``. Credentials are of two kinds: a client secret (random, 256 bits,
shown once and stored only as its argon2 hash; issuing a new one leaves the previous one working for
``Settings.partner_secret_overlap``, then never again) and public JWKs for ``private_key_jwt`` (RFC 7523),
which hold no secret at all. The operator endpoint enforces who may call these; they trust their caller.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.passwords import PasswordHasher
from common.errors import DomainError, Problems
from common.events import emit
from models.partners import PARTNER_STATUSES, Partner, PartnerKey, PartnerSecret
from partners.scopes import SCOPES, normalise, unknown_scopes

CLIENT_ID_PREFIX = "sgp_"
KEY_TYPES = ("EC", "RSA", "OKP")
_PUBLIC_MEMBERS = {
    "EC": {"kty", "crv", "x", "y", "kid", "alg", "use"},
    "RSA": {"kty", "n", "e", "kid", "alg", "use"},
    "OKP": {"kty", "crv", "x", "kid", "alg", "use"},
}


@dataclass(frozen=True)
class IssuedSecret:
    """A new client secret: ``secret`` is shown to the operator once and never stored or logged."""

    partner: Partner
    secret: str
    row: PartnerSecret


async def register(
    session: AsyncSession,
    *,
    name: str,
    contact_name: str,
    contact_email: str,
    privacy_notice_url: str,
    allowed_scopes: Sequence[str],
) -> Partner:
    """Register a partner (validated as a whole: every problem reported at once) and emit
    ``partner.registered``."""
    problems = Problems()
    name, contact_name, contact_email = name.strip(), contact_name.strip(), contact_email.strip()
    if not name or len(name) > 200:
        problems.add("name", "INVALID", "The organisation's name is required (at most 200 characters).")
    if not contact_name or len(contact_name) > 200:
        problems.add("contactName", "INVALID", "A contact's name is required (at most 200 characters).")
    if "@" not in contact_email or len(contact_email) > 254 or " " in contact_email:
        problems.add("contactEmail", "INVALID", f"{contact_email!r} is not an e-mail address.")
    url = urlsplit(privacy_notice_url.strip())
    if url.scheme != "https" or not url.netloc or len(privacy_notice_url) > 500:
        problems.add(
            "privacyNoticeUrl",
            "INVALID",
            "The privacy notice must be an https:// URL (at most 500 characters).",
        )
    unknown = unknown_scopes(allowed_scopes)
    if unknown:
        problems.add(
            "allowedScopes",
            "UNKNOWN_SCOPE",
            f"Unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}.",
        )
    elif not allowed_scopes:
        problems.add("allowedScopes", "REQUIRED", "A partner must be allowed at least one scope.")
    problems.raise_if_any()
    partner = Partner(
        client_id=CLIENT_ID_PREFIX + secrets.token_urlsafe(18),
        name=name,
        contact_name=contact_name,
        contact_email=contact_email,
        privacy_notice_url=privacy_notice_url.strip(),
        allowed_scopes=normalise(allowed_scopes),
    )
    session.add(partner)
    await emit(
        session,
        "partner.registered",
        target_type="Partner",
        target_id=partner.id,
        detail={"name": partner.name, "clientId": partner.client_id, "allowedScopes": partner.allowed_scopes},
    )
    return partner


async def get(session: AsyncSession, partner_id: uuid.UUID) -> Partner:
    """The partner with this id; a ``NOT_FOUND`` DomainError on ``partnerId`` when there is none."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise DomainError.one("partnerId", "NOT_FOUND", "No partner has this id.")
    return partner


async def set_status(session: AsyncSession, partner_id: uuid.UUID, status: str) -> Partner:
    """Disable a partner everywhere (``DISABLED``: every token and approval stops working at its next
    request, and no token is issued) or enable it again (``ACTIVE``); emits ``partner.status_changed``."""
    if status not in PARTNER_STATUSES:
        raise DomainError.one("status", "INVALID", f"status must be one of {', '.join(PARTNER_STATUSES)}.")
    partner = await get(session, partner_id)
    previous, partner.status = partner.status, status
    await emit(
        session,
        "partner.status_changed",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id, "from": previous, "to": status},
    )
    return partner


async def by_client_id(session: AsyncSession, client_id: str) -> Partner | None:
    if not client_id.startswith(CLIENT_ID_PREFIX) or len(client_id) > 64:
        return None
    result = await session.execute(select(Partner).where(Partner.client_id == client_id))
    return result.scalar_one_or_none()


async def all_partners(session: AsyncSession) -> list[Partner]:
    return list((await session.execute(select(Partner).order_by(Partner.name, Partner.id))).scalars())


async def issue_secret(
    session: AsyncSession, hasher: PasswordHasher, partner_id: uuid.UUID, *, overlap: timedelta, now: datetime
) -> IssuedSecret:
    """A new client secret for the partner. Secrets issued before it stop working after ``overlap``
    (``Settings.partner_secret_overlap``), so the partner can switch without an outage; the secret itself
    is never stored, logged nor audited (only its argon2 hash is kept)."""
    partner = await get(session, partner_id)
    overlap_end = now + overlap
    await session.execute(
        update(PartnerSecret)
        .where(
            PartnerSecret.partner_id == partner.id,
            (col(PartnerSecret.expires_at).is_(None)) | (col(PartnerSecret.expires_at) > overlap_end),
        )
        .values(expires_at=overlap_end)
    )
    secret = secrets.token_urlsafe(32)
    # argon2 is deliberately slow: off the event loop.
    secret_hash = await anyio.to_thread.run_sync(hasher.hash, secret)
    row = PartnerSecret(partner_id=partner.id, secret_hash=secret_hash, created_at=now)
    session.add(row)
    await emit(
        session,
        "partner.secret_issued",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id, "previousValidUntil": overlap_end.isoformat()},
    )
    return IssuedSecret(partner, secret, row)


async def live_secrets(session: AsyncSession, partner_id: uuid.UUID, now: datetime) -> list[PartnerSecret]:
    """The partner's secrets that still authenticate at ``now`` (the newest and any within its overlap)."""
    stmt = select(PartnerSecret).where(
        PartnerSecret.partner_id == partner_id,
        col(PartnerSecret.expires_at).is_(None) | (col(PartnerSecret.expires_at) > now),
    )
    return list((await session.execute(stmt.order_by(col(PartnerSecret.created_at).desc()))).scalars())


def public_key(jwk: Any, field: str = "jwk") -> dict[str, Any]:
    """``jwk`` checked to be one public JWK (EC, RSA or OKP, no private members), with its ``kid`` (the
    RFC 7638 thumbprint when it had none); a DomainError on ``field`` otherwise."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in KEY_TYPES:
        raise DomainError.one(field, "INVALID_KEY", f"A JWK object with kty one of {', '.join(KEY_TYPES)}.")
    extra = set(jwk) - _PUBLIC_MEMBERS[jwk["kty"]]
    if extra:
        raise DomainError.one(
            field,
            "INVALID_KEY",
            f"Only the public members of a {jwk['kty']} key are accepted; not {', '.join(sorted(extra))} "
            "(a private key must never leave the partner).",
        )
    try:
        key = JWKRegistry.import_key(dict(jwk))
        key.ensure_kid()
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise DomainError.one(field, "INVALID_KEY", f"The key cannot be used: {error}.") from error
    if key.is_private:
        raise DomainError.one(field, "INVALID_KEY", "A private key was given; register the public key.")
    return dict(key.as_dict(private=False))


async def add_key(session: AsyncSession, partner_id: uuid.UUID, jwk: Any, *, now: datetime) -> PartnerKey:
    """Register a public key of the partner for ``private_key_jwt`` client authentication."""
    partner = await get(session, partner_id)
    public = public_key(jwk)
    existing = await session.execute(
        select(PartnerKey.id).where(PartnerKey.partner_id == partner.id, PartnerKey.kid == public["kid"])
    )
    if existing.first() is not None:
        raise DomainError.one(
            "jwk", "DUPLICATE", f"The partner already has a key with kid {public['kid']!r}."
        )
    row = PartnerKey(partner_id=partner.id, kid=str(public["kid"]), jwk=public, created_at=now)
    session.add(row)
    await emit(
        session,
        "partner.key_added",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id, "kid": row.kid},
    )
    return row


async def revoke_key(session: AsyncSession, partner_id: uuid.UUID, kid: str, *, now: datetime) -> PartnerKey:
    partner = await get(session, partner_id)
    row = (
        await session.execute(
            select(PartnerKey).where(
                PartnerKey.partner_id == partner.id,
                PartnerKey.kid == kid,
                col(PartnerKey.revoked_at).is_(None),
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise DomainError.one("kid", "NOT_FOUND", f"The partner has no key in use with kid {kid!r}.")
    row.revoked_at = now
    await emit(
        session,
        "partner.key_revoked",
        target_type="Partner",
        target_id=partner.id,
        detail={"clientId": partner.client_id, "kid": kid},
    )
    return row


async def live_keys(session: AsyncSession, partner_id: uuid.UUID) -> list[PartnerKey]:
    stmt = select(PartnerKey).where(PartnerKey.partner_id == partner_id, col(PartnerKey.revoked_at).is_(None))
    return list((await session.execute(stmt)).scalars())

"""School access tokens: bound to one school, so a token minted for one school is refused at every other.

Their ``aud`` is ``school:<school_id>``; signing and the signature, time and audience checks are
``auth.tokens``' (:func:`auth.tokens.sign_token`, :func:`auth.tokens.verified_claims`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auth.tokens import SigningKeys, canonical_uuid, roles_of, sign_token, timestamp, verified_claims


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token asserts. Times are aware UTC datetimes, in whole seconds."""

    account_id: uuid.UUID
    school_id: uuid.UUID
    session_id: uuid.UUID
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


PARTNER_ROLE = "PARTNER"
"""The role in the ``roles`` claim of a token issued to an integration partner (``partners.oauth``)."""


def audience_for_school(school_id: uuid.UUID) -> str:
    """The ``aud`` of access tokens for ``school_id``: ``"school:<uuid>"``."""
    return f"school:{school_id}"


def issue_access_token(
    keys: SigningKeys,
    *,
    account_id: uuid.UUID,
    school_id: uuid.UUID,
    session_id: uuid.UUID,
    roles: Sequence[str],
    ttl: timedelta,
    now: datetime,
) -> str:
    """Sign an access token for ``account_id`` at ``school_id`` with the current key of ``keys``, valid
    from ``now`` for ``ttl``: ``sub`` is the account, ``aud`` :func:`audience_for_school`. The header, the
    other claims and the ``ValueError`` for caller mistakes are :func:`auth.tokens.sign_token`'s."""
    return sign_token(
        keys,
        subject=account_id,
        audience=audience_for_school(school_id),
        session_id=session_id,
        roles=roles,
        ttl=ttl,
        now=now,
    )


def verify_access_token(
    keys: SigningKeys,
    token: str,
    *,
    school_id: uuid.UUID,
    now: datetime,
    leeway: timedelta = timedelta(seconds=30),
) -> AccessClaims | None:
    """The claims of ``token`` if it is a valid access token for ``school_id`` at ``now``, else None.

    None, never an exception, for anything wrong with the token: everything
    :func:`auth.tokens.verified_claims` refuses (malformed, over 8 KiB, an unexpected header, bad
    signature, wrong ``iss``, ``aud`` not this school, expired, not yet valid, a claim missing), or a
    claim of the wrong form. Raises ``ValueError`` only for caller mistakes: a naive ``now`` or a
    negative ``leeway``.
    """
    claims = verified_claims(keys, token, audience=audience_for_school(school_id), now=now, leeway=leeway)
    return None if claims is None else _access_claims(claims, school_id)


def _access_claims(claims: dict[str, Any], school_id: uuid.UUID) -> AccessClaims | None:
    """Type-check signed, time-valid claims that JWTClaimsRegistry only checked for presence."""
    account_id = canonical_uuid(claims["sub"])
    session_id = canonical_uuid(claims["sid"])
    roles = roles_of(claims)
    if roles is not None and PARTNER_ROLE in roles:
        return None  # a partner's token is for the partner door (partners.oauth), never an account's
    issued_at = timestamp(claims["iat"])
    expires_at = timestamp(claims["exp"])
    if account_id is None or session_id is None or roles is None or issued_at is None or expires_at is None:
        return None
    return AccessClaims(
        account_id=account_id,
        school_id=school_id,
        session_id=session_id,
        roles=roles,
        issued_at=issued_at,
        expires_at=expires_at,
    )


def verify_access_token_of_its_school(
    keys: SigningKeys, token: str, *, now: datetime, leeway: timedelta = timedelta(seconds=30)
) -> AccessClaims | None:
    """The claims of ``token`` if it is a valid access token for the school its own ``aud`` names: the
    checks of :func:`verify_access_token`, for that school. Whether that school is the one a request is
    for is the caller's to check (``claims.school_id``): the request path reads the token before the
    school of its URL is known, so that both are read in one round trip (:func:`auth.principal.enter_school_as`)."""
    claims = keys._signed_claims(token)
    audience = claims.get("aud") if claims is not None else None
    if not isinstance(audience, str) or not audience.startswith("school:"):
        return None
    school_id = canonical_uuid(audience.removeprefix("school:"))
    if school_id is None:
        return None
    return verify_access_token(keys, token, school_id=school_id, now=now, leeway=leeway)

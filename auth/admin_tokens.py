"""Access tokens of accounts that are not of any school: a trust's admins and the platform's operators.

They are signed with the same keys as school tokens, but for an audience no school token ever has:
``trust:<trust_id>`` for a trust's admins, ``platform`` for operators. Each verifier demands its own
audience exactly, so a school token is anonymous at a trust or platform URL and the other way round.
Signing and the signature, time and audience checks are ``auth.tokens``'.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.tokens import (
    SigningKeys,
    canonical_uuid,
    require_aware,
    require_verifiable,
    roles_of,
    sign_token,
    timestamp,
    verified_claims,
)

PLATFORM_AUDIENCE = "platform"


def audience_for_trust(trust_id: uuid.UUID) -> str:
    """The ``aud`` of a trust admin's access tokens: ``"trust:<uuid>"``."""
    return f"trust:{trust_id}"


@dataclass(frozen=True)
class AdminClaims:
    """What a verified trust-admin or operator access token asserts."""

    subject: uuid.UUID
    audience: str
    session_id: uuid.UUID
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


def _is_admin_audience(audience: str) -> bool:
    if audience == PLATFORM_AUDIENCE:
        return True
    kind, _, rest = audience.partition(":")
    return kind == "trust" and canonical_uuid(rest) is not None


def issue_admin_token(
    keys: SigningKeys,
    *,
    subject: uuid.UUID,
    audience: str,
    session_id: uuid.UUID,
    roles: Sequence[str],
    ttl: timedelta,
    now: datetime,
) -> str:
    """Sign an access token for a trust admin (``audience_for_trust``) or an operator (``PLATFORM_AUDIENCE``).

    The same header and claims as a school's access token, with ``aud`` = ``audience``. Raises
    ``ValueError`` for an audience that is neither, and for the caller mistakes of
    :func:`auth.tokens.sign_token`.
    """
    require_aware(now)
    if not _is_admin_audience(audience):
        raise ValueError(f"not a trust or platform audience: {audience!r}")
    return sign_token(
        keys, subject=subject, audience=audience, session_id=session_id, roles=roles, ttl=ttl, now=now
    )


def verify_admin_token(
    keys: SigningKeys,
    token: str,
    *,
    audience: str,
    now: datetime,
    leeway: timedelta = timedelta(seconds=30),
) -> AdminClaims | None:
    """The claims of ``token`` if it is a valid access token for exactly ``audience`` at ``now``, else None.

    The same refusals as a school's access token; in particular a school token (``aud`` school:...)
    is None here, and a token of one trust is None for another.
    """
    require_verifiable(now, leeway)
    if not _is_admin_audience(audience):
        return None
    claims = verified_claims(keys, token, audience=audience, now=now, leeway=leeway)
    if claims is None:
        return None
    subject = canonical_uuid(claims["sub"])
    session_id = canonical_uuid(claims["sid"])
    roles = roles_of(claims)
    issued_at = timestamp(claims["iat"])
    expires_at = timestamp(claims["exp"])
    if subject is None or session_id is None or roles is None or issued_at is None or expires_at is None:
        return None
    return AdminClaims(subject, audience, session_id, roles, issued_at, expires_at)

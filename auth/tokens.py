"""Signing keys, signed access tokens for any audience, and refresh tokens.

An access token is a short-lived ES256 JWT (RFC 9068 ``typ`` "at+jwt") bound to one audience: a school's
(``auth.access_tokens``), a trust's or the platform's (``auth.admin_tokens``); this module signs and
verifies them (:func:`sign_token`, :func:`verified_claims`), those check what their audience asserts.
Verification trusts nothing in the token's header beyond picking a key by ``kid``: the algorithm must be
ES256, whatever the header claims, which closes the ``alg: none`` and HMAC-with-the-public-key confusions.

Refresh tokens are opaque random strings, not signed: ``auth.opaque_tokens``.

Signing keys form a set: the newest key signs, every key in the set verifies, so a rotation does not log
anyone out while tokens signed by the previous key are still alive.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

__all__ = [
    "ISSUER",
    "SigningKeys",
    "canonical_uuid",
    "require_aware",
    "require_verifiable",
    "roles_of",
    "sign_token",
    "timestamp",
    "verified_claims",
]

ISSUER = "schoolgraph"

_ALGORITHM = "ES256"
_CURVE = "P-256"
_JWT_TYPE = "at+jwt"
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_KEY_MEMBERS = frozenset({"kty", "crv", "x", "y", "d", "kid", "alg", "use"})
# Our tokens are well under 1 KiB; the cap keeps an attacker's megabyte header away from the JSON parser.
_MAX_TOKEN_LENGTH = 8192
_VERIFIED_TOKENS = 4096
"""Signature-verified tokens a key set remembers (:meth:`SigningKeys._signed_claims`)."""

# An allow-list of exactly one algorithm: joserfc then refuses any other "alg" before looking at a key,
# and without emitting the SecurityWarning it raises for "none".
_JWS_REGISTRY = JWSRegistry(algorithms=[_ALGORITHM])


class SigningKeys:
    """An asymmetric signing key set (EC P-256, ES256). The newest key signs; all keys verify (rotation).

    Instances are immutable: :meth:`rotate` returns a new set. Every key is private (the set must sign),
    on P-256, and has a ``kid`` unique within the set.
    """

    __slots__ = ("_keys", "_times", "_verified", "_verifying_keys")

    def __init__(self, keys: Sequence[ECKey]) -> None:
        """Wrap ``keys``, newest first; raises ``ValueError`` if the set is empty or a key is unusable.

        A key is usable if it is private, on P-256, has a ``kid`` unique in the set, and its ``alg`` and
        ``use``, when present, are "ES256" and "sig".
        """
        if not keys:
            raise ValueError("a signing key set needs at least one key")
        verifying: dict[str, ECKey] = {}
        for index, key in enumerate(keys):
            if not key.is_private:
                raise ValueError(f"key {index}: not a private key")
            if key.curve_name != _CURVE:
                raise ValueError(f"key {index}: curve {key.curve_name}, expected {_CURVE}")
            if key.alg not in (None, _ALGORITHM):
                raise ValueError(f"key {index}: alg {key.alg!r}, expected {_ALGORITHM!r}")
            if key.get("use") not in (None, "sig"):
                raise ValueError(f"key {index}: use {key.get('use')!r}, expected 'sig'")
            kid = key.kid
            if not kid:
                raise ValueError(f"key {index}: no kid")
            if kid in verifying:
                raise ValueError(f"key {index}: duplicate kid {kid!r}")
            # Verification uses public-only copies, so nothing on that path can reach a private key, and
            # they carry exactly the members public_jwks() promises.
            public = {name: key[name] for name in ("kty", "crv", "x", "y", "kid")}
            verifying[kid] = ECKey.import_key(public, {"alg": _ALGORITHM, "use": "sig"})
        self._keys: tuple[ECKey, ...] = tuple(keys)
        self._verifying_keys = verifying
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._times: dict[str, tuple[float, float, float]] = {}
        """Per token whose claims passed every check once (:func:`verified_claims`): its iat, nbf and exp,
        the only claims whose checks depend on the time (:meth:`_times_of`)."""

    @classmethod
    def generate(cls) -> SigningKeys:
        """A set of one fresh key whose ``kid`` is its RFC 7638 thumbprint."""
        return cls([_generate_key()])

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKeys:
        """Load the private JWK set stored at ``path``, creating it first if the file does not exist.

        A new file holds one fresh key, has mode 0600 and appears atomically (complete or not at all);
        missing parent directories are created. When several processes start at once, all of them end up
        with the set of whichever created the file first. A file that cannot be used raises ``ValueError``
        naming ``path`` and the problem; other I/O failures raise ``OSError``.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls._create_file(path)
        except UnicodeDecodeError as error:
            raise ValueError(f"signing key file {path}: not UTF-8 text") from error
        try:
            return cls.from_json(text)
        except ValueError as error:
            raise ValueError(f"signing key file {path}: {error}") from error

    @classmethod
    def from_json(cls, text: str) -> SigningKeys:
        """Parse a private JWK set, ``{"keys": [...]}`` newest first, as written by :meth:`to_json`.

        Each key must be an EC P-256 private JWK with no members beyond kty, crv, x, y, d, kid, alg and
        use; ``alg`` and ``use``, when present, must be "ES256" and "sig"; a key without ``kid`` gets its
        RFC 7638 thumbprint. Raises ``ValueError`` describing the problem.
        """
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ValueError(f"not valid JSON ({error})") from error
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError('expected a JSON object with a "keys" array')
        members: list[Any] = document["keys"]
        return cls([_import_private_key(index, member) for index, member in enumerate(members)])

    def rotate(self) -> SigningKeys:
        """A new set whose signing key is fresh, keeping this set's keys (after it) for verification."""
        return SigningKeys([_generate_key(), *self._keys])

    def to_json(self) -> str:
        """The private JWK set as one line of JSON, newest key first; it contains secrets."""
        return json.dumps({"keys": [dict(key.as_dict(private=True)) for key in self._keys]})

    def public_jwks(self) -> dict[str, Any]:
        """``{"keys": [...]}`` of public JWKs (with kid, use "sig", alg "ES256"); safe to publish."""
        return {"keys": [dict(key.as_dict(private=False)) for key in self._verifying_keys.values()]}

    @property
    def current_kid(self) -> str:
        """The ``kid`` of the key that signs new tokens."""
        kid = self._keys[0].kid
        assert kid is not None  # checked in __init__
        return kid

    def sign_jws(self, payload: str, *, typ: str) -> str:
        """A compact JWS (ES256, the current key) over ``payload``: for statements other than access tokens,
        such as a signed audit chain head. Verifiable with :meth:`public_jwks`."""
        return jws.serialize_compact(
            {"alg": _ALGORITHM, "kid": self.current_kid, "typ": typ},
            payload,
            self._signing_key,
            registry=_JWS_REGISTRY,
        )

    def verify_jws(self, token: str, *, typ: str) -> str | None:
        """The payload of a compact JWS of type ``typ`` that one of these keys signed (:meth:`sign_jws`),
        else None."""
        if len(token) > _MAX_TOKEN_LENGTH:
            return None
        header = _unverified_header(token)
        if header is None or set(header) != _HEADER_MEMBERS or header["alg"] != _ALGORITHM:
            return None
        if header["typ"] != typ or not isinstance(header["kid"], str):
            return None
        key = self._verifying_key(header["kid"])
        if key is None:
            return None
        try:
            return jws.deserialize_compact(token, key, registry=_JWS_REGISTRY).payload.decode()
        except (JoseError, ValueError):
            return None

    @classmethod
    def _create_file(cls, path: Path) -> SigningKeys:
        keys = cls.generate()
        if _write_new_file(path, keys.to_json()):
            return keys
        # Another process created the file between our read and our write: use its keys.
        return cls.load_or_create(path)

    @property
    def _signing_key(self) -> ECKey:
        return self._keys[0]

    def _verifying_key(self, kid: str) -> ECKey | None:
        return self._verifying_keys.get(kid)

    def _signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a compact JWS whose header is exactly ours and whose signature one of these keys
        made, else None. Nothing about time or audience is checked here (the callers do, every time).

        A valid signature stays valid for this immutable key set, so verified claims are remembered per
        token (the last :data:`_VERIFIED_TOKENS`): a client sends the same access token with every request
        until it expires, and an ES256 verification costs far more than the rest of the checks.
        """
        verified = self._verified
        claims = verified.get(token)
        if claims is not None:
            verified.move_to_end(token)
            return claims
        if len(token) > _MAX_TOKEN_LENGTH:
            return None
        header = _unverified_header(token)
        if header is None or set(header) != _HEADER_MEMBERS:
            return None
        if header["alg"] != _ALGORITHM or header["typ"] != _JWT_TYPE or not isinstance(header["kid"], str):
            return None
        key = self._verifying_key(header["kid"])
        if key is None:
            return None
        try:
            claims = dict(jwt.decode(token, key, registry=_JWS_REGISTRY).claims)
        except (JoseError, ValueError):
            return None
        verified[token] = claims
        if len(verified) > _VERIFIED_TOKENS:
            self._times.pop(verified.popitem(last=False)[0], None)
        return claims

    def _times_of(self, token: str) -> tuple[float, float, float] | None:
        """The iat, nbf and exp of a token whose claims once passed every check of :func:`verified_claims`,
        or None. Those checks other than the times' (issuer, the claims present and their forms) depend
        on the claims alone, which a valid signature fixes: they hold again, and need not be run again."""
        return self._times.get(token)

    def _checked(self, token: str, claims: dict[str, Any]) -> None:
        """Remember that ``token``'s claims passed every check (while its signature is remembered)."""
        if token in self._verified:
            self._times[token] = (claims["iat"], claims["nbf"], claims["exp"])


def _unverified_header(token: str) -> dict[str, Any] | None:
    """The decoded JOSE header of a compact JWS, or None if it is not a JSON object."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    encoded = segments[0]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
        header = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def _generate_key() -> ECKey:
    return ECKey.generate_key(_CURVE, parameters={"alg": _ALGORITHM, "use": "sig"}, auto_kid=True)


def _import_private_key(index: int, member: object) -> ECKey:
    """One member of a private JWK set as a key; raises ``ValueError`` naming ``index``."""
    if not isinstance(member, dict):
        raise ValueError(f"key {index}: not a JSON object")
    # ECKey.import_key trusts the caller about the key type, so a non-EC "kty" must be refused here.
    if member.get("kty") != "EC" or member.get("crv") != _CURVE:
        raise ValueError(f"key {index}: expected an EC {_CURVE} key")
    unknown = set(member) - _KEY_MEMBERS
    if unknown:
        raise ValueError(f"key {index}: unsupported members {sorted(unknown)}")
    if "d" not in member:
        raise ValueError(f"key {index}: not a private key (no 'd')")
    try:
        key = ECKey.import_key(member)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"key {index}: invalid key ({error})") from error
    key.ensure_kid()
    return key


def sign_token(
    keys: SigningKeys,
    *,
    subject: uuid.UUID,
    audience: str,
    session_id: uuid.UUID,
    roles: Sequence[str],
    ttl: timedelta,
    now: datetime,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """Sign an access token for ``audience`` with the current key of ``keys``, valid from ``now`` for ``ttl``.

    Header ``{"alg": "ES256", "kid": <current kid>, "typ": "at+jwt"}``; claims ``iss``, ``sub``, ``aud``,
    ``sid``, ``roles`` (a list), ``iat`` = ``nbf`` (``now``, truncated to the second), ``exp`` (``now +
    ttl``, truncated) and a random ``jti``. Raises ``ValueError`` for a naive ``now``, a ``ttl`` that is
    not positive, or a role that is not a non-empty string (including ``roles`` given as one string).
    The audience-specific issuers (``auth.access_tokens``, ``auth.admin_tokens``) check the audience.
    """
    require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    # A str is a Sequence[str]: "admin" would otherwise become ["a", "d", "m", "i", "n"].
    if isinstance(roles, str) or not all(isinstance(role, str) and role for role in roles):
        raise ValueError("roles must be a sequence of non-empty strings")
    # Computing the expiry as a datetime first makes an absurd ttl fail here, not at verification.
    issued_at = int(now.timestamp())
    expires_at = int((now + ttl).timestamp())
    header = {"alg": _ALGORITHM, "kid": keys.current_kid, "typ": _JWT_TYPE}
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(subject),
        "aud": audience,
        "sid": str(session_id),
        "roles": list(roles),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires_at,
        "jti": secrets.token_urlsafe(16),
    }
    for name, value in (extra_claims or {}).items():
        if name in claims:
            raise ValueError(f"extra claim {name!r} would replace a standard claim")
        claims[name] = value
    return jwt.encode(header, claims, keys._signing_key, registry=_JWS_REGISTRY, default_type=None)


def verified_claims(
    keys: SigningKeys, token: str, *, audience: str, now: datetime, leeway: timedelta
) -> dict[str, Any] | None:
    """The claims of ``token`` if its signature is valid under ``keys`` and it is valid for exactly
    ``audience`` at ``now``, else None: malformed, over 8 KiB, a header other than exactly ``alg`` ES256 /
    ``kid`` in ``keys`` / ``typ`` "at+jwt", bad signature, wrong ``iss`` or ``aud``, expired (``exp <= now
    - leeway``), not yet valid (``nbf`` or ``iat`` after ``now + leeway``), or a claim missing. The
    claims' forms (uuids, times, roles) are the caller's to check. Raises ``ValueError`` only for caller
    mistakes: a naive ``now`` or a negative ``leeway``.
    """
    require_verifiable(now, leeway)
    claims = keys._signed_claims(token)
    if claims is None:
        return None
    times = keys._times_of(token)
    if times is not None:
        # Checked in full before: only the times can have changed, checked as JWTClaimsRegistry checks
        # them (joserfc's validate_iat, validate_nbf and validate_exp), at this ``now``.
        at, slack = int(now.timestamp()), int(leeway.total_seconds())
        issued, not_before, expires = times
        if issued > at + slack or not_before > at + slack or expires <= at - slack:
            return None
        return claims if claims["aud"] == audience else None
    try:
        jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=int(leeway.total_seconds()),
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            sid={"essential": True},
            roles={"essential": True, "allow_blank": True},
            iat={"essential": True},
            nbf={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError):
        return None
    # JWTClaimsRegistry accepts an "aud" list containing ours; we only ever issue the single string.
    if claims["aud"] != audience:
        return None
    keys._checked(token, claims)
    return claims


def roles_of(claims: dict[str, Any]) -> tuple[str, ...] | None:
    """The ``roles`` claim as a tuple of non-empty strings, or None if it is anything else."""
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
        return None
    return tuple(roles)


def canonical_uuid(value: object) -> uuid.UUID | None:
    """``value`` as a uuid if it is one in the canonical text form, else None."""
    return _canonical_uuid(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)
def _canonical_uuid(value: str) -> uuid.UUID | None:
    """:func:`canonical_uuid` of a text, remembered for the last few thousand: every request reads the
    same three from its access token (account, session, school), each parsed and printed in Python."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    # uuid.UUID also accepts braces, "urn:uuid:" and missing hyphens; we only issue the canonical form.
    return parsed if str(parsed) == value else None


def timestamp(value: object) -> datetime | None:
    """A NumericDate claim as an aware UTC datetime, or None if it is not an integer in range."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def require_verifiable(now: datetime, leeway: timedelta) -> None:
    """Raise ``ValueError`` for the caller mistakes of a verification: a naive ``now``, a negative ``leeway``."""
    require_aware(now)
    if leeway < timedelta(0):
        raise ValueError(f"leeway must not be negative, got {leeway}")


def require_aware(now: datetime) -> None:
    """Raise ``ValueError`` for a naive ``now``: token times are compared in UTC."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _write_new_file(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) holding ``text`` unless it exists; True if this call created it.

    The content goes to a temporary file in the same directory first and is then published in one step,
    so no reader ever sees a partial file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600, so the secret is never readable by others, not even briefly.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # os.link, unlike os.replace, refuses to overwrite: when workers start together, the first file
        # wins and everyone loads it, instead of each worker signing with a key the others do not know.
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError:
            # A filesystem without hard links: fall back to a rename, atomic but last-writer-wins.
            os.replace(temp, path)
        return True
    finally:
        temp.unlink(missing_ok=True)

"""Opaque secrets handed to a client: random text, stored only as its SHA-256 digest.

A refresh token is such a string (not signed: it means something only while its digest is in the
database), and so are parent and activation codes. Storing the digest alone means a read of the database
does not yield usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets

_REFRESH_TOKEN_BYTES = 32


def new_refresh_token() -> tuple[str, bytes]:
    """A fresh refresh token: (the opaque text for the client, its :func:`hash_token` digest to store).

    The text is 32 random bytes as URL-safe base64 without padding (43 characters).
    """
    token = secrets.token_urlsafe(_REFRESH_TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    """The SHA-256 digest (32 bytes) of ``token``'s UTF-8 text.

    Unsalted and fast, so fit only for secrets with enough entropy that guessing is hopeless (refresh
    tokens, and parent or activation codes drawn at random); never for passwords.
    """
    return hashlib.sha256(token.encode("utf-8")).digest()

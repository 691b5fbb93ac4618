"""Persisted queries: Apollo's automatic persisted queries (APQ) and a registered-operations mode.

APQ (``SCHOOLGRAPH_PERSISTED_QUERIES=apq``, the default): a client sends only
``extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}``. A hash this process has not seen is
answered ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``, HTTP 200, as Apollo's link
expects); the client then sends the document with its hash once, which is checked (the SHA-256 of the
text) and kept, and later requests send the hash alone. The store is per process and bounded
(:data:`MAX_DOCUMENTS`, least recently used out), so a replica that has not seen a hash asks for it.

Registered operations (``registered``): only the documents of ``SCHOOLGRAPH_REGISTERED_OPERATIONS`` (a
JSON object ``{sha256 hex: document}``, e.g. from relay-compiler's ``persistConfig`` or GraphQL Code
Generator's persisted documents) run, by hash or by their exact text; any other document is refused
with ``PERSISTED_QUERY_REQUIRED`` and nothing new is learnt. It is what production can require for its
first-party apps: a stranger cannot run a document of their own.

``off``: documents only; a persisted-query request is refused with ``PERSISTED_QUERY_NOT_SUPPORTED``.
A request by hash carries no document, so it may come by GET (cacheable, see :mod:`server.protocol`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from common.settings import Settings
from server.errors import RequestError

MAX_DOCUMENTS = 2000
"""Documents an APQ store keeps (each at most ``max_query_chars`` long)."""


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class DocumentStore:
    """A bounded, thread-safe LRU of documents by their SHA-256."""

    def __init__(self, limit: int = MAX_DOCUMENTS) -> None:
        self.limit = limit
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> str | None:
        with self._lock:
            found = self._documents.get(digest)
            if found is not None:
                self._documents.move_to_end(digest)
            return found

    def put(self, digest: str, query: str) -> None:
        with self._lock:
            self._documents[digest] = query
            self._documents.move_to_end(digest)
            while len(self._documents) > self.limit:
                self._documents.popitem(last=False)


APQ_STORE = DocumentStore()


@cache
def registered_operations(path: Path) -> dict[str, str]:
    """The registered documents by their hash, each hash checked against its text."""
    try:
        loaded = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise RuntimeError(f"the registered operations file {path} cannot be read: {error}") from None
    if not isinstance(loaded, dict):
        raise RuntimeError(f"{path}: expected a JSON object of sha256 hex digests to documents")
    for digest, document in loaded.items():
        if not isinstance(document, str) or sha256_hex(document) != digest.lower():
            raise RuntimeError(f"{path}: the document under {digest} does not have that SHA-256")
    return {digest.lower(): document for digest, document in loaded.items()}


def check_registered_operations(settings: Settings) -> None:
    """Read the registered operations at start-up (registered mode), so a missing file or a document that
    does not match its hash stops the server before it answers anything."""
    if settings.persisted_queries == "registered":
        if settings.registered_operations_file is None:
            raise RuntimeError("persisted_queries=registered needs the registered operations file")
        registered_operations(settings.registered_operations_file)


def _persisted_hash(params: dict[str, Any]) -> str | None:
    extensions = params.get("extensions")
    if extensions is None:
        return None
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(persisted.get("sha256Hash"), str)
    ):
        raise RequestError(
            400,
            "BAD_REQUEST",
            'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<hex>"}.',
        )
    digest: str = persisted["sha256Hash"].lower()
    return digest


def resolve_document(params: dict[str, Any], settings: Settings) -> tuple[str | None, bool]:
    """The document to run for ``params`` (``query`` and ``extensions``) and whether it came by hash alone.

    Raises :class:`RequestError`: ``PERSISTED_QUERY_NOT_FOUND`` (200) for an unknown hash,
    ``PERSISTED_QUERY_HASH_MISMATCH`` (400) when the document does not have the hash sent with it,
    ``PERSISTED_QUERY_REQUIRED`` (400) for an unregistered document in registered mode,
    ``PERSISTED_QUERY_NOT_SUPPORTED`` (400) when persisted queries are off."""
    mode = settings.persisted_queries
    digest = _persisted_hash(params)
    query = params.get("query")
    text = query if isinstance(query, str) and query.strip() else None
    if mode == "off":
        if digest is not None:
            raise RequestError(
                400,
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PersistedQueryNotSupported: send the document as 'query'.",
            )
        return text, False
    if mode == "registered":
        known = (
            registered_operations(settings.registered_operations_file)
            if settings.registered_operations_file
            else {}
        )
        if text is not None:
            if sha256_hex(text) not in known or (digest is not None and digest != sha256_hex(text)):
                raise RequestError(
                    400,
                    "PERSISTED_QUERY_REQUIRED",
                    "This server runs registered operations only: this document is not one of them.",
                )
            return text, False
        if digest is None:
            return None, False
        found = known.get(digest)
        if found is None:
            raise RequestError(200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return found, True
    # APQ
    if digest is None:
        return text, False
    if text is not None:
        if sha256_hex(text) != digest:
            raise RequestError(
                400, "PERSISTED_QUERY_HASH_MISMATCH", "The sha256Hash sent does not match the document."
            )
        if len(text) <= settings.max_query_chars:
            APQ_STORE.put(digest, text)
        return text, False
    found = APQ_STORE.get(digest)
    if found is None:
        raise RequestError(200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
    return found, True

"""The edge's error format: a request that cannot be executed answers a GraphQL-shaped error body.

``{"errors": [{"message": ..., "extensions": {"code": ..., ...}}]}`` with the status that says why (400,
404, 403, 405, 413, 415, 500), as the GraphQL-over-HTTP spec has it for request errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"


class JSONBody(Response):
    """A JSON response body, compact UTF-8 as Starlette's ``JSONResponse`` writes it, encoded by orjson
    (the response of a class view is thousands of values; the standard encoder was a visible share of a
    request's time)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RequestError(Exception):
    """A request that cannot be executed at all: the status and a GraphQL-shaped error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extensions = status, code, message, extensions
        self.headers = headers
        """Response headers the status calls for (the ``Allow`` of a 405)."""
        self.trail: Any = None
        """An audit trail to record after the rollback (a known school's refusal), if any."""

    def response(self, media_type: str = GRAPHQL_RESPONSE, headers: dict[str, str] | None = None) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code, **self.extensions}}]}
        return JSONBody(body, status_code=self.status, media_type=media_type, headers=headers or self.headers)

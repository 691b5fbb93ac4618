"""The GraphQL-over-HTTP protocol: reading a request's parameters, and writing the response.

What the spec (graphql.github.io/graphql-over-http) asks and this edge does: POST with
``application/json`` (or ``multipart/form-data`` with files, :mod:`server.multipart`), GET for queries
only (in production only persisted queries sent by hash: ``Settings.allows_get_queries``,
:mod:`server.persisted`); bodies are read within the limits of :mod:`server.body`, documents parsed
within those of :mod:`graph.documents`. The response is
``application/graphql-response+json`` unless the client accepts only ``application/json``. With
``application/graphql-response+json`` a request error (nothing executed: bad JSON, syntax, validation) is
a 400 and an executed operation a 200; with ``application/json`` every executed or validated request is a
200. Errors that are not GraphQL's own are masked with the request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import ExecutionResult

from common.errors import DomainError
from common.settings import Settings
from graph.documents import LIMIT_CODES, DocumentLimits, parse_document
from graph.limits import without_suggestions
from server.body import guarded, parse_json
from server.errors import GRAPHQL_RESPONSE, JSONBody, RequestError
from server.headers import header
from server.multipart import multipart_params
from server.persisted import resolve_document


@dataclass(frozen=True)
class Operation:
    """What a request asks to run, read and checked; ``document`` is None when the text does not parse
    (the schema then reports the syntax error or the limit as the operation's error)."""

    query: str
    variables: dict[str, Any] | None
    name: str | None
    document: DocumentNode | None
    mutations_allowed: bool
    """False over GET: the spec allows only queries there."""
    by_hash: bool = False
    """Sent as a persisted query's hash alone (:mod:`server.persisted`): a GET of it may be cached."""


def media_type(request: Request) -> str:
    """The response's media type: ``application/json`` only for a client that accepts it and not ours."""
    accept = header(request.scope, "accept") or ""
    if "application/json" in accept and GRAPHQL_RESPONSE not in accept:
        return "application/json"
    return GRAPHQL_RESPONSE


def _content_type(request: Request) -> str:
    return (header(request.scope, "content-type") or "").split(";")[0].strip()


def with_body_limits(request: Request, settings: Settings) -> Request:
    """``request`` reading its body within the limits of its kind (:func:`server.body.guarded`): an upload
    (multipart) may be larger and slower than a JSON body. Raises the 413 of a declared length over it."""
    if _content_type(request) == "multipart/form-data":
        return guarded(request, limit=settings.max_upload_bytes, seconds=settings.upload_timeout_seconds)
    return guarded(request, limit=settings.max_body_bytes, seconds=settings.body_timeout_seconds)


async def read_operation(request: Request, settings: Settings) -> Operation:
    """The request's operation, read within the edge's limits: ``request`` comes from
    :func:`with_body_limits`, the document is parsed by :mod:`graph.documents`. Raises
    :class:`RequestError` for anything that cannot be executed at all."""
    if request.method == "GET":
        params, mutations_allowed = _get_params(request, settings), False
    else:
        params, mutations_allowed = await _post_params(request, settings), True
    params["query"], by_hash = resolve_document(params, settings)
    if request.method == "GET" and not settings.allows_get_queries and not by_hash:
        # A persisted query's hash is the one GET production takes: no document of the caller's own.
        raise RequestError(
            405,
            "METHOD_NOT_ALLOWED",
            "Send GraphQL requests with POST: this server takes GET for persisted queries only.",
            allow="POST",
            headers={"allow": "POST"},
        )
    query, variables, name = _checked(params)
    try:
        document: DocumentNode | None = parse_document(query, DocumentLimits.of(settings))
    except GraphQLError as error:
        code = (error.extensions or {}).get("code")
        if code in LIMIT_CODES:  # refused before any transaction: it costs no audit entry either
            raise RequestError(400, str(code), error.message) from None
        document = None  # a syntax error: the schema reports it as the operation's error
    if name is None and document is not None and _operation_count(document) > 1:
        raise RequestError(
            400, "BAD_REQUEST", "The document has several operations: name the one to run in 'operationName'."
        )
    return Operation(query, variables, name, document, mutations_allowed, by_hash)


async def _post_params(request: Request, settings: Settings) -> dict[str, Any]:
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        return await multipart_params(request, settings.max_json_depth)
    if content_type != "application/json":
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the GraphQL request as application/json (POST), as multipart/form-data with files "
            "(the GraphQL multipart request spec), or as a GET query.",
        )
    params = parse_json(await request.body(), settings.max_json_depth, "The request body")
    if not isinstance(params, dict):
        raise RequestError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return params


def _get_params(request: Request, settings: Settings) -> dict[str, Any]:
    def json_param(name: str) -> Any:
        raw = request.query_params.get(name)
        return parse_json(raw, settings.max_json_depth, f"The '{name}' parameter") if raw else None

    return {
        "query": request.query_params.get("query"),
        "variables": json_param("variables"),
        "operationName": request.query_params.get("operationName"),
        "extensions": json_param("extensions"),
    }


def cache_control(request: Request, operation: Operation, result: ExecutionResult) -> str | None:
    """A shared cache may keep a response only when it is the same for everyone: a persisted query by GET,
    from a caller with no credentials (no Authorization, no cookie), answered without errors. Everything
    else keeps ``no-store`` (:class:`server.app.SecurityHeaders`)."""
    if request.method != "GET" or not operation.by_hash or result.errors:
        return None
    if "authorization" in request.headers or "cookie" in request.headers:
        return None
    return f"public, max-age={PUBLIC_MAX_AGE}"


PUBLIC_MAX_AGE = 60
"""Seconds a shared cache may serve an anonymous persisted query's response (public data only)."""


def _checked(params: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query, variables, operation = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "BAD_REQUEST", "The 'query' parameter is required and must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "BAD_REQUEST", "The 'variables' parameter must be a JSON object.")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "BAD_REQUEST", "The 'operationName' parameter must be a string.")
    return query, variables, operation


def document_operation_name(document: DocumentNode | None) -> str | None:
    """The name of the document's only operation, if it has one and it is named."""
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1 and operations[0].name is not None:
        return operations[0].name.value
    return None


def _operation_count(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def unexpected_errors(result: ExecutionResult) -> list[GraphQLError]:
    """The errors that are not the GraphQL layer's own: bugs and faults, which roll the request back."""
    return [e for e in result.errors or [] if _unexpected(e)]


def _unexpected(error: GraphQLError) -> bool:
    """Neither the GraphQL layer's own error nor a DomainError of a query's argument (a page size, a
    cursor): those are the client's to fix, and reach it with their code."""
    return error.original_error is not None and not isinstance(
        error.original_error, GraphQLError | DomainError
    )


def result_response(
    result: ExecutionResult, media_type: str, request_id: str, *, hide_suggestions: bool
) -> Response:
    """The executed (or refused at validation) operation's response, with its status per the spec.

    ``hide_suggestions`` (production) strips every "Did you mean ...?" from the messages: with
    introspection off, suggestions would still spell out arguments, input fields, types and enum values."""
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_format_error(e, request_id, hide_suggestions) for e in result.errors]
    # A field error that nulls a non-null root field (a refused mutation, say) leaves data None too, but
    # execution started: the response must carry "data": null and is not a request error. Only errors
    # raised before execution (syntax, validation) have no path.
    executed = result.data is not None or not result.errors or any(e.path is not None for e in result.errors)
    if executed:
        body["data"] = result.data
    status = 400 if not executed and media_type == GRAPHQL_RESPONSE else 200
    return JSONBody(body, status_code=status, media_type=media_type, headers={"x-request-id": request_id})


def _format_error(error: GraphQLError, request_id: str, hide_suggestions: bool) -> dict[str, Any]:
    """The error as the client sees it: unexpected errors masked to a message with the request id."""
    formatted = dict(error.formatted)
    if hide_suggestions:
        formatted["message"] = without_suggestions(formatted["message"])
    if isinstance(error.original_error, DomainError):
        problem = error.original_error.problems[0]
        formatted["message"] = problem.message
        formatted["extensions"] = {"code": problem.code, "field": problem.field}
        return formatted
    if _unexpected(error):
        formatted["message"] = f"Internal error: quote request id {request_id} to support."
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return formatted
    extensions = dict(formatted.get("extensions") or {})
    extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_REQUEST")
    formatted["extensions"] = extensions
    return formatted

"""The GraphQL-over-HTTP protocol: reading a request's parameters, and writing the response.

What the spec (graphql.github.io/graphql-over-http) asks and this edge does: POST with
``application/json`` (or ``multipart/form-data`` with files, :mod:`server.multipart`), GET for queries
only; the response is ``application/graphql-response+json`` unless the client accepts only
``application/json``. With ``application/graphql-response+json`` a request error (nothing executed: bad
JSON, syntax, validation) is a 400 and an executed operation a 200; with ``application/json`` every
executed or validated request is a 200. Errors that are not GraphQL's own are masked with the request id.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import ExecutionResult

from common.errors import DomainError
from server.errors import GRAPHQL_RESPONSE, JSONBody, RequestError
from server.multipart import multipart_params

MAX_BODY = 1_000_000


def media_type(request: Request) -> str:
    """The response's media type: ``application/json`` only for a client that accepts it and not ours."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and GRAPHQL_RESPONSE not in accept:
        return "application/json"
    return GRAPHQL_RESPONSE


async def read_params(request: Request) -> tuple[str, dict[str, Any] | None, str | None, bool]:
    """The request's query, variables and operation name, and whether mutations are allowed (not over
    GET). Raises :class:`RequestError` for anything that cannot be executed at all."""
    params, mutations_allowed = await _params(request)
    return (*_validate(params), mutations_allowed)


async def _params(request: Request) -> tuple[dict[str, Any], bool]:
    if request.method == "GET":
        return _get_params(request), False
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "multipart/form-data":
        return await multipart_params(request), True
    if content_type != "application/json":
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the GraphQL request as application/json (POST), as multipart/form-data with files "
            "(the GraphQL multipart request spec), or as a GET query.",
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        raise RequestError(413, "REQUEST_TOO_LARGE", f"The request body is over {MAX_BODY} bytes.")
    try:
        params = json.loads(body)
    except ValueError as error:
        raise RequestError(400, "BAD_REQUEST", f"The request body is not valid JSON: {error}.") from None
    if not isinstance(params, dict):
        raise RequestError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return params, True


def _get_params(request: Request) -> dict[str, Any]:
    variables = request.query_params.get("variables")
    try:
        parsed = json.loads(variables) if variables else None
    except ValueError:
        raise RequestError(400, "BAD_REQUEST", "The 'variables' parameter is not valid JSON.") from None
    return {
        "query": request.query_params.get("query"),
        "variables": parsed,
        "operationName": request.query_params.get("operationName"),
    }


def _validate(params: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query, variables, operation = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "BAD_REQUEST", "The 'query' parameter is required and must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "BAD_REQUEST", "The 'variables' parameter must be a JSON object.")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "BAD_REQUEST", "The 'operationName' parameter must be a string.")
    if operation is None and _operation_count(query) > 1:
        raise RequestError(
            400, "BAD_REQUEST", "The document has several operations: name the one to run in 'operationName'."
        )
    return query, variables, operation


@lru_cache(maxsize=512)
def _operation_count(query: str) -> int:
    try:
        document = parse(query)
    except GraphQLError:
        return 1  # the schema reports the syntax error itself
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


def result_response(result: ExecutionResult, media_type: str, request_id: str) -> Response:
    """The executed (or refused at validation) operation's response, with its status per the spec."""
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_format_error(e, request_id) for e in result.errors]
    # A field error that nulls a non-null root field (a refused mutation, say) leaves data None too, but
    # execution started: the response must carry "data": null and is not a request error. Only errors
    # raised before execution (syntax, validation) have no path.
    executed = result.data is not None or not result.errors or any(e.path is not None for e in result.errors)
    if executed:
        body["data"] = result.data
    status = 400 if not executed and media_type == GRAPHQL_RESPONSE else 200
    return JSONBody(body, status_code=status, media_type=media_type, headers={"x-request-id": request_id})


def _format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """The error as the client sees it: unexpected errors masked to a message with the request id."""
    formatted = dict(error.formatted)
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

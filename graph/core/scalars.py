"""The custom scalars every schoolgraph schema uses, with a description and ``@specifiedBy`` that code
generators (GraphQL Code Generator, relay-compiler) can map to a client type.

``Upload`` accepts only a file sent as a part of a GraphQL multipart request: any other value where a file
belongs (a string, a number, an object in the JSON variables, or an inline literal) is a variable
coercion error before execution, naming the variable, instead of reaching a resolver that would fail on it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from graphql import GraphQLError, ValueNode
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition, scalar

RFC3339 = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
MULTIPART_SPEC = "https://github.com/jaydenseric/graphql-multipart-request-spec"
ECMA_404 = "https://ecma-international.org/publications-and-standards/standards/ecma-404/"


def _file_only(value: Any) -> UploadFile:
    if isinstance(value, UploadFile):
        return value
    raise GraphQLError(
        f"Upload takes a file sent as a part of a multipart request (the GraphQL multipart request spec), "
        f"not a {type(value).__name__} value."
    )


def _no_literal(node: ValueNode, variables: Any = None) -> Any:
    raise GraphQLError("Upload cannot be written in the document: send the file as a variable.")


def _with(definition: ScalarDefinition, description: str, url: str) -> ScalarDefinition:
    return ScalarDefinition(
        name=definition.name,
        description=description,
        specified_by_url=url,
        serialize=definition.serialize,
        parse_value=definition.parse_value,
        parse_literal=definition.parse_literal,
        origin=definition.origin,
    )


SCALARS: dict[object, Any] = {
    dt.date: _with(
        DateDefinition,
        "A calendar date, RFC 3339 full-date (YYYY-MM-DD). A school's day is its London date.",
        RFC3339,
    ),
    dt.datetime: _with(
        DateTimeDefinition,
        "An instant, RFC 3339 date-time with its offset (e.g. 2026-09-01T08:30:00+00:00).",
        RFC3339,
    ),
    JSON: scalar(
        name="JSON",
        description="Any JSON value (ECMA-404): an object, array, string, number, boolean or null.",
        specified_by_url=ECMA_404,
        serialize=lambda v: v,
        parse_value=lambda v: v,
    ),
    Upload: scalar(
        name="Upload",
        description="A file, sent as a part of a GraphQL multipart request (never inline in JSON).",
        specified_by_url=MULTIPART_SPEC,
        serialize=lambda v: None,
        parse_value=_file_only,
        parse_literal=_no_literal,
    ),
}
"""Scalar overrides for :class:`graph.core.schema.SchoolSchema`."""

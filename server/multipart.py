"""The GraphQL multipart request spec (github.com/jaydenseric/graphql-multipart-request-spec): files as
variables, sent as ``operations``, ``map`` and one part per file."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from server.errors import RequestError

MAX_UPLOAD = 100 * 1024 * 1024


async def multipart_params(request: Request) -> dict[str, Any]:
    """The request's GraphQL parameters (``operations``) with each file placed where ``map`` says.

    Files stay spooled by Starlette until the response is sent; their size is checked by the services
    that store them, against their own limits, and the whole body against ``MAX_UPLOAD``.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise RequestError(413, "REQUEST_TOO_LARGE", f"The upload is over {MAX_UPLOAD} bytes.")
    try:
        form = await request.form(max_files=20, max_fields=50)
    except Exception as error:  # Starlette raises several types for malformed multipart bodies
        raise RequestError(400, "BAD_REQUEST", f"The multipart body could not be read: {error}.") from None
    try:
        operations = json.loads(str(form.get("operations") or ""))
        file_map = json.loads(str(form.get("map") or "{}"))
    except ValueError:
        raise RequestError(400, "BAD_REQUEST", "The 'operations' and 'map' parts must be JSON.") from None
    if not isinstance(operations, dict) or not isinstance(file_map, dict):
        raise RequestError(400, "BAD_REQUEST", "'operations' must be a JSON object and 'map' a JSON object.")
    for key, paths in file_map.items():
        upload = form.get(key)
        if upload is None or isinstance(upload, str):
            raise RequestError(400, "BAD_REQUEST", f"The map names a file part {key!r} that was not sent.")
        if not isinstance(paths, list):
            raise RequestError(400, "BAD_REQUEST", f"The map entry {key!r} must be a list of paths.")
        for path in paths:
            _place(operations, str(path), upload)
    return operations


def _place(operations: dict[str, Any], path: str, value: Any) -> None:
    """Put a file at a dotted path such as ``variables.input.file`` or ``variables.files.0``."""
    parts = path.split(".")
    target: Any = operations
    try:
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        elif isinstance(target, dict) and last in target:
            target[last] = value
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise RequestError(
            400, "BAD_REQUEST", f"The map path {path!r} names no variable set to null."
        ) from None

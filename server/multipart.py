"""The GraphQL multipart request spec (github.com/jaydenseric/graphql-multipart-request-spec): files as
variables, sent as ``operations``, ``map`` and one part per file."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.body import parse_json
from server.errors import RequestError


async def multipart_params(request: Request, max_json_depth: int) -> dict[str, Any]:
    """The request's GraphQL parameters (``operations``) with each file placed where ``map`` says.

    ``request`` reads through :func:`server.body.guarded` (the whole body's size and time). Files stay
    spooled by Starlette until the response is sent; their size is checked by the services that store
    them, against their own limits.
    """
    try:
        form = await request.form(max_files=20, max_fields=50)
    except RequestError:
        raise
    except Exception as error:  # Starlette raises several types for malformed multipart bodies
        raise RequestError(400, "BAD_REQUEST", f"The multipart body could not be read: {error}.") from None
    operations = parse_json(str(form.get("operations") or ""), max_json_depth, "The 'operations' part")
    file_map = parse_json(str(form.get("map") or "{}"), max_json_depth, "The 'map' part")
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

"""Reading a mutation's uploaded file, within the size limit, into the school's file store."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from storage.files import MAX_FILE_BYTES, FileStore, local_store


def store(info: Info) -> FileStore:
    return local_store(info.context.auth.settings.data_dir)


def max_upload_bytes(info: Info) -> int:
    configured = info.context.auth.settings.extra.get("upload_max_bytes")
    return int(configured) if configured else MAX_FILE_BYTES


async def read_upload(upload: Any, limit: int) -> tuple[str, bytes, int]:
    """The upload's name, at most ``limit + 1`` of its bytes (enough to tell it is too large) and its
    real size (the edge has spooled the whole part and counted it), for a refusal that names it."""
    name = str(getattr(upload, "filename", None) or "")
    try:
        data = await upload.read(limit + 1)
    finally:
        # The edge spools uploads to temporary files: release this one as soon as it is read.
        await upload.close()
    size = getattr(upload, "size", None)
    return name, bytes(data), size if isinstance(size, int) else len(data)

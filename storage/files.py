"""File storage behind one small interface, and the checks every upload passes first.

:class:`FileStore` is the interface (put, get, delete by key); :class:`LocalFileStore` keeps files in a
directory (``<data dir>/files`` by default). Another backend (S3, say) implements the same three methods.

:func:`check_upload` is the acceptable-use gate of LL 6.4.4: a file is accepted only when its size is
within the limit and its *content* (sniffed from its first bytes) is one of the allowed types *and*
agrees with its file-name extension; anything else is refused with a :class:`UploadRefused` that says
exactly why. Keys are content-addressed (``<school>/<sha256>``): storing is idempotent. A file is written
durably (the file and its directory are fsynced) before ``put`` returns, so before the row that names it can
commit; a file that a rolled-back request wrote is deleted by the caller (learning.content.store_file) once
it is sure no committed row names it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import anyio

MAX_FILE_BYTES: Final = 10 * 1024 * 1024
"""The default upload limit: 10 MiB."""

_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class FileType:
    media_type: str
    extensions: tuple[str, ...]
    label: str


ALLOWED_TYPES: Final = (
    FileType("application/pdf", (".pdf",), "PDF"),
    FileType("image/png", (".png",), "PNG image"),
    FileType("image/jpeg", (".jpg", ".jpeg"), "JPEG image"),
    FileType("image/gif", (".gif",), "GIF image"),
    FileType("text/plain; charset=utf-8", (".txt",), "plain text"),
    FileType("text/markdown; charset=utf-8", (".md",), "Markdown text"),
    FileType("text/csv; charset=utf-8", (".csv",), "CSV text"),
    FileType(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",), "Word document"
    ),
    FileType(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (".pptx",),
        "PowerPoint presentation",
    ),
    FileType(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",), "Excel workbook"
    ),
)
_BY_EXTENSION: Final = {ext: t for t in ALLOWED_TYPES for ext in t.extensions}
ALLOWED_EXTENSIONS: Final = tuple(sorted(_BY_EXTENSION))


class UploadRefused(ValueError):
    """An upload that breaks the rules: ``code`` is stable (FILE_TOO_LARGE, FILE_TYPE_NOT_ALLOWED, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class AcceptedFile:
    file_name: str
    media_type: str
    data: bytes
    sha256: str

    @property
    def byte_size(self) -> int:
        return len(self.data)


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _office_part(data: bytes, extension: str) -> bool:
    """An Office Open XML file is a zip whose [Content_Types].xml and main part name the right kind."""
    if not data.startswith(_ZIP) or b"[Content_Types].xml" not in data:
        return False
    main = {".docx": b"word/", ".pptx": b"ppt/", ".xlsx": b"xl/"}[extension]
    return main in data


def sniff(data: bytes, extension: str) -> bool:
    """Whether ``data`` really is a file of the type its (allowed) ``extension`` claims."""
    if extension == ".pdf":
        return data.startswith(b"%PDF-")
    if extension == ".png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if extension in (".jpg", ".jpeg"):
        return data.startswith(b"\xff\xd8\xff")
    if extension == ".gif":
        return data.startswith((b"GIF87a", b"GIF89a"))
    if extension in (".txt", ".md", ".csv"):
        return _is_text(data)
    if extension in (".docx", ".pptx", ".xlsx"):
        return _office_part(data, extension)
    return False


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def clean_file_name(name: str) -> str:
    """The last path component, without control or odd characters, at most 200 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip(" .")
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else base[:200]
    return base


def check_upload(
    file_name: str, data: bytes, *, max_bytes: int = MAX_FILE_BYTES, size: int | None = None
) -> AcceptedFile:
    """Accept ``data`` named ``file_name``, or raise :class:`UploadRefused` saying why (LL 6.4.4).

    ``size`` is the file's real size when ``data`` is only its first ``max_bytes + 1`` bytes (an upload
    is read no further than needed to know it is too large): the refusal names the real size."""
    name = clean_file_name(file_name or "")
    if not name:
        raise UploadRefused(
            "FILE_NAME_REQUIRED", "The file needs a name with an extension, e.g. homework.pdf."
        )
    if not data:
        raise UploadRefused("FILE_EMPTY", f"{name} is empty.")
    if len(data) > max_bytes:
        real = max(size or 0, len(data))
        raise UploadRefused(
            "FILE_TOO_LARGE",
            f"{name} is {real:,} bytes; files may be at most {max_bytes:,} bytes "
            f"({max_bytes / 1024 / 1024:.0f} MiB).",
        )
    extension = os.path.splitext(name)[1].lower()
    kind = _BY_EXTENSION.get(extension)
    if kind is None:
        raise UploadRefused(
            "FILE_TYPE_NOT_ALLOWED",
            f"{name}: files of type {extension or '(no extension)'} are not allowed; "
            f"allowed: {', '.join(ALLOWED_EXTENSIONS)}.",
        )
    if not sniff(data, extension):
        raise UploadRefused(
            "FILE_CONTENT_MISMATCH",
            f"{name} does not contain a {kind.label}: its content does not match its {extension} extension.",
        )
    return AcceptedFile(name, kind.media_type, data, hashlib.sha256(data).hexdigest())


class FileStore(Protocol):
    """Where uploaded files live. Keys are opaque strings made by :func:`storage_key`."""

    async def put(self, key: str, data: bytes) -> bool:
        """Store ``data`` durably under ``key``; whether it wrote the file (False: it was there already)."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


def storage_key(school_id: uuid.UUID, sha256: str) -> str:
    return f"{school_id}/{sha256}"


_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


class LocalFileStore:
    """Files in a local directory. Writes go to a temporary file, fsynced, renamed into place (never
    half-written), and the directory is fsynced (the rename survives a crash)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        return await anyio.to_thread.run_sync(self._write, path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> bool:
        new_directory = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size == len(data):
            return False  # content-addressed: the same key holds the same bytes
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        if new_directory:
            _fsync_directory(path.parent.parent)
        return True

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        return await anyio.to_thread.run_sync(path.read_bytes)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


def _fsync_directory(path: Path) -> None:
    """Make a directory's entries (a file renamed into it, a new subdirectory) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def local_store(data_dir: Path) -> LocalFileStore:
    """The default store: ``<data dir>/files``."""
    return LocalFileStore(data_dir / "files")

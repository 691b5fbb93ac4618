"""A roster package: a zip file or a folder of CSV files, read one member at a time, never whole.

The package is identified by the SHA-256 of its bytes (for a folder: of each CSV file's name and bytes, in
name order). Files may sit at the top of the zip or together in one folder inside it (as many MIS exports
put them); other folders, hidden files and ``__MACOSX`` are ignored. File names are matched exactly: a
known file in the wrong case (``userprofiles.csv``) is reported with the expected name, never guessed.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

MAX_ENTRIES = 10_000
"""A zip with more entries than this is refused (a package has a dozen files)."""
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
"""The CSV files of a zip together, uncompressed as declared, may not be larger (a trust of 200,000 pupils
is well under 1 GiB). Reading never goes past a member's declared size, so a header that lies about it
only truncates the member, which then fails its CRC check."""
MAX_RATIO = 200
"""A CSV member that declares more than this many bytes per compressed byte is refused: CSV deflates about
5 to 20 times, a zip bomb about 1,000 times."""
RATIO_FLOOR = 1024 * 1024
"""Members smaller than this (uncompressed) are not held to :data:`MAX_RATIO`: a short, repetitive file
compresses well and costs nothing to read."""
CHUNK = 1024 * 1024


READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
"""What reading a member can raise when the zip is damaged or lies about a member (a CRC that fails)."""


class PackageError(Exception):
    """The input is not a package at all: not a zip, not a folder, unreadable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Package:
    """The CSV files of one package, by base name."""

    name: str
    sha256: str
    size: int
    files: dict[str, str] = field(default_factory=dict)
    """base name -> member name (zip) or path (folder)."""
    _zip: zipfile.ZipFile | None = None
    _folder: Path | None = None
    _owned: IO[bytes] | None = None

    @contextmanager
    def open_text(self, name: str) -> Iterator[IO[str]]:
        """The file as text: UTF-8 (a byte-order mark is dropped), universal newlines left to ``csv``."""
        member = self.files[name]
        raw: IO[bytes] = self._zip.open(member) if self._zip is not None else open(member, "rb")  # noqa: SIM115
        try:
            with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
                yield text
        finally:
            raw.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._owned is not None:
            self._owned.close()


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _csv_members(names: list[str]) -> dict[str, str]:
    """Base name -> member for the CSV files at the top, or all in one folder (the first found wins)."""
    candidates: dict[str, list[str]] = {}
    for name in names:
        path = PurePosixPath(name)
        if name.endswith("/") or any(p.startswith((".", "__MACOSX")) for p in path.parts):
            continue
        if path.suffix.lower() != ".csv":
            continue
        folder = str(path.parent)
        candidates.setdefault(folder, []).append(name)
    if not candidates:
        return {}
    # The top level if it has CSV files, else the shallowest folder that does.
    folder = min(candidates, key=lambda f: (0 if f == "." else f.count("/") + 1, f))
    return {PurePosixPath(member).name: member for member in sorted(candidates[folder])}


def open_zip(stream: BinaryIO, name: str) -> Package:
    """A package from a seekable binary stream holding a zip (an upload or an open file)."""
    sha, size = hash_stream(stream)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as error:
        raise PackageError("NOT_A_ZIP", f"{name} is not a zip file ({error}).") from None
    try:
        files = _csv_members(_within_limits(archive, name))
    except PackageError:
        archive.close()
        raise
    return Package(name=name, sha256=sha, size=size, files=files, _zip=archive)


def _within_limits(archive: zipfile.ZipFile, name: str) -> list[str]:
    """The archive's member names, once its declared sizes show it is not a zip bomb (else PackageError).

    Only the central directory is read: nothing is decompressed, so a bomb costs no time or memory."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise PackageError(
            "TOO_MANY_FILES", f"{name} has {len(infos)} entries; a roster package has at most {MAX_ENTRIES}."
        )
    total = 0
    for info in infos:
        if PurePosixPath(info.filename).suffix.lower() != ".csv":
            continue  # never opened
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise PackageError(
                "FILE_TOO_COMPRESSED",
                f"{info.filename} would expand {info.file_size // max(info.compress_size, 1)} times "
                f"(CSV expands at most about 20): the zip is refused as a zip bomb.",
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise PackageError(
            "PACKAGE_TOO_LARGE",
            f"{name}'s CSV files hold {total // 1024**2} MiB uncompressed; the limit is "
            f"{MAX_UNCOMPRESSED_BYTES // 1024**2} MiB.",
        )
    return [info.filename for info in infos]


def open_path(path: Path) -> Package:
    """A package from a zip file or a folder on disk."""
    if path.is_dir():
        digest = hashlib.sha256()
        size = 0
        files = {}
        for item in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
            if item.name.startswith("."):
                continue
            digest.update(item.name.encode() + b"\0")
            with item.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            files[item.name] = str(item)
        return Package(name=path.name, sha256=digest.hexdigest(), size=size, files=files, _folder=path)
    if not path.is_file():
        raise PackageError("NOT_FOUND", f"{path} is neither a zip file nor a folder.")
    handle = path.open("rb")
    try:
        package = open_zip(handle, path.name)
    except PackageError:
        handle.close()
        raise
    package._owned = handle
    return package

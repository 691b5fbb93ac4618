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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

MAX_MEMBER_BYTES = 4 * 1024**3
"""A zip member larger than this (uncompressed, as declared) is refused: a guard against zip bombs."""
CHUNK = 1024 * 1024


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
    for info in archive.infolist():
        if info.file_size > MAX_MEMBER_BYTES:
            archive.close()
            raise PackageError(
                "FILE_TOO_LARGE", f"{info.filename} is larger than {MAX_MEMBER_BYTES // 1024**3} GiB."
            )
    return Package(name=name, sha256=sha, size=size, files=_csv_members(archive.namelist()), _zip=archive)


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

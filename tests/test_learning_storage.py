"""The file store and the upload gate (LL 6.4.4), without a database."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from storage.files import (
    ALLOWED_EXTENSIONS,
    LocalFileStore,
    UploadRefused,
    check_upload,
    clean_file_name,
    local_store,
    storage_key,
)
from tests.factories.learning import EXE, PDF, PNG, TEXT, docx


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("a.pdf", PDF, "application/pdf"),
        ("a.PNG", PNG, "image/png"),
        ("a.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        ("a.gif", b"GIF89a" + b"\x00" * 20, "image/gif"),
        ("a.txt", TEXT, "text/plain; charset=utf-8"),
        ("a.csv", b"name,score\nAmara,7\n", "text/csv; charset=utf-8"),
        ("a.docx", docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
)
def test_allowed_files_are_accepted_with_their_type(name: str, data: bytes, media_type: str) -> None:
    """LL 6.4.4: the allowlist, by sniffed content agreeing with the extension."""
    accepted = check_upload(name, data)
    assert accepted.media_type == media_type
    assert accepted.byte_size == len(data) and len(accepted.sha256) == 64


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("a.exe", EXE, "FILE_TYPE_NOT_ALLOWED"),
        ("a.html", b"<script>alert(1)</script>", "FILE_TYPE_NOT_ALLOWED"),
        ("a.svg", b"<svg/>", "FILE_TYPE_NOT_ALLOWED"),
        ("a.pdf", EXE, "FILE_CONTENT_MISMATCH"),
        ("a.docx", PDF, "FILE_CONTENT_MISMATCH"),
        ("a.xlsx", docx(), "FILE_CONTENT_MISMATCH"),
        ("a.txt", b"\x00\x01\x02", "FILE_CONTENT_MISMATCH"),
        ("a.pdf", b"", "FILE_EMPTY"),
        ("", PDF, "FILE_NAME_REQUIRED"),
        ("a.pdf", b"%PDF-" + b"x" * 10_000, "FILE_TOO_LARGE"),
    ],
)
def test_refused_files_say_why(name: str, data: bytes, code: str) -> None:
    """LL 6.4.4: anything else is refused with a stable code and a sentence naming the file and the rule."""
    with pytest.raises(UploadRefused) as refused:
        check_upload(name, data, max_bytes=10_000)
    assert refused.value.code == code
    if code == "FILE_TYPE_NOT_ALLOWED":
        assert ", ".join(ALLOWED_EXTENSIONS) in refused.value.message
    if code == "FILE_TOO_LARGE":
        assert "at most 10,000 bytes" in refused.value.message


def test_file_names_are_cleaned() -> None:
    assert clean_file_name("../../etc/passwd.txt") == "passwd.txt"
    assert clean_file_name("C:\\Users\\me\\work (1).pdf") == "work _1_.pdf"
    assert clean_file_name(" .hidden ") == "hidden"
    assert len(clean_file_name("x" * 300 + ".pdf")) == 200
    assert clean_file_name("x" * 300 + ".pdf").endswith(".pdf")


async def test_the_local_store_puts_gets_and_deletes(tmp_path: Path) -> None:
    """Content-addressed keys under <data dir>/files; storing twice is harmless; keys cannot escape."""
    store = local_store(tmp_path)
    assert isinstance(store, LocalFileStore) and store.root == tmp_path / "files"
    accepted = check_upload("a.pdf", PDF)
    key = storage_key(uuid.uuid4(), accepted.sha256)
    await store.put(key, PDF)
    await store.put(key, PDF)
    assert await store.get(key) == PDF
    assert (tmp_path / "files" / key).read_bytes() == PDF
    assert [p.name for p in (tmp_path / "files" / key).parent.iterdir()] == [
        accepted.sha256
    ]  # no temp files left
    await store.delete(key)
    await store.delete(key)
    with pytest.raises(FileNotFoundError):
        await store.get(key)
    for bad in ("../x", "/etc/passwd", "a/../../b", "a b", ""):
        with pytest.raises(ValueError, match="not a storage key"):
            await store.get(bad)


async def test_the_local_store_writes_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new file is fsynced before it is renamed into place, and so are its directory and, when the
    school's directory is new, the store's root: after ``put`` returns, a crash cannot lose the file that
    the row about to commit names. A second put of the same key writes (and syncs) nothing."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the real fsync, recording what it was given
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = local_store(tmp_path)
    accepted = check_upload("a.pdf", PDF)
    key = storage_key(uuid.uuid4(), accepted.sha256)
    school_dir = tmp_path / "files" / key.split("/")[0]

    assert await store.put(key, PDF) is True

    assert len(synced) == 3
    assert Path(synced[0]).parent == school_dir and Path(synced[0]).name.startswith(".upload-")
    assert synced[1:] == [str(school_dir), str(tmp_path / "files")]
    assert (school_dir / accepted.sha256).read_bytes() == PDF
    synced.clear()
    assert await store.put(key, PDF) is False
    assert synced == []

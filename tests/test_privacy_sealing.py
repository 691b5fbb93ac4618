"""The one packing of every export that leaves the server (``privacy.exporter.seal``): the subject access
export and the termination export are AES-256 zips marked PROTECT (LRS 6.6, LRS 6.8) from the moment they are
built, their password sealed under the server's export key until release. Opened here with the library's
reader and with the standard command-line tools where they are installed."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import anyio
import pytest
import pyzipper

from common.errors import DomainError
from privacy.exporter import MARKING_LINE, ExportKeys, export_key, previous_export_key, reseal, seal, unseal

FILES = {
    "subject-access.json": b'{"marking": "PROTECT", "upn": "A123456789012"}\n',
    "files/homework.pdf": b"%PDF-1.4 the homework",
}


def _sealed(tmp_path: Path) -> tuple[bytes, str, Path]:
    key = export_key(tmp_path)
    sealed = seal(FILES, key)
    path = tmp_path / "export.zip"
    path.write_bytes(sealed.archive)
    return sealed.archive, unseal(sealed.sealed_password, sealed.sha256, ExportKeys(key)), path


def test_a_sealed_export_opens_with_its_password_only(tmp_path: Path) -> None:
    """LRS 6.8, LRS 6.6: the archive is WinZip AES-256, marked PROTECT, holds no plain byte of its files,
    opens with the unsealed password and not without it; the seal opens with the export key that made it,
    for that archive only (EXPORT_KEY_MISMATCH otherwise); the key file is the service account's only."""
    archive, password, _ = _sealed(tmp_path)
    assert b"A123456789012" not in archive and password.encode() not in archive
    with pyzipper.AESZipFile(io.BytesIO(archive)) as opened:
        assert opened.comment == MARKING_LINE.encode()
        assert opened.getinfo("subject-access.json").flag_bits & 0x1
        with pytest.raises(RuntimeError):
            opened.read("subject-access.json")
        opened.setpassword(b"not the password")
        with pytest.raises(RuntimeError):
            opened.read("subject-access.json")
        opened.setpassword(password.encode())
        assert {name: opened.read(name) for name in opened.namelist()} == FILES
    assert (tmp_path / "export-key").stat().st_mode & 0o077 == 0
    assert export_key(tmp_path) == export_key(tmp_path)  # made once, then read

    again = seal(FILES, export_key(tmp_path))
    with pytest.raises(DomainError) as wrong_key:
        unseal(again.sealed_password, again.sha256, ExportKeys(export_key(tmp_path / "elsewhere")))
    assert wrong_key.value.problems[0].code == "EXPORT_KEY_MISMATCH"
    with pytest.raises(DomainError):  # a seal is for its own archive
        unseal(again.sealed_password, "0" * 64, ExportKeys(export_key(tmp_path)))


def test_previous_keys_still_unseal_and_reseal_moves_a_seal_to_the_current_key(tmp_path: Path) -> None:
    """LRS 6.8: a seal made under the old key opens with ExportKeys(new, previous=(old,)); re-sealed, it opens
    with the new key alone and no longer with the old; a previous key file that is missing or not a key is
    refused by name (EXPORT_KEY_UNREADABLE), never used."""
    old, new = export_key(tmp_path, tmp_path / "old"), export_key(tmp_path, tmp_path / "new")
    sealed = seal(FILES, old)
    rotating = ExportKeys(new, (old,))
    password = unseal(sealed.sealed_password, sealed.sha256, rotating)
    with pytest.raises(DomainError) as refused:
        unseal(sealed.sealed_password, sealed.sha256, ExportKeys(new))
    assert refused.value.problems[0].code == "EXPORT_KEY_MISMATCH"
    moved = reseal(sealed.sealed_password, sealed.sha256, rotating)
    assert unseal(moved, sealed.sha256, ExportKeys(new)) == password
    with pytest.raises(DomainError):
        unseal(moved, sealed.sha256, ExportKeys(old))
    assert previous_export_key(tmp_path / "old") == old
    (tmp_path / "short").write_bytes(b"too short")
    for path in (tmp_path / "missing", tmp_path / "short"):
        with pytest.raises(DomainError) as unreadable:
            previous_export_key(path)
        assert unreadable.value.problems[0].code == "EXPORT_KEY_UNREADABLE"


async def test_a_sealed_export_opens_with_7_zip(tmp_path: Path) -> None:
    """LRS 6.8: 7-Zip, the standard tool that reads WinZip AES, tests the archive good with the password and
    refuses it with another."""
    seven_zip = shutil.which("7z") or shutil.which("7za")
    if seven_zip is None:
        pytest.skip("7-Zip (7z) is not installed here; the library reader's test above still runs")
    _, password, path = _sealed(tmp_path)
    good = await anyio.run_process([seven_zip, "t", f"-p{password}", str(path)], check=False)
    assert good.returncode == 0, good.stdout
    out = tmp_path / "out"
    extracted = await anyio.run_process([seven_zip, "x", f"-p{password}", f"-o{out}", str(path)], check=False)
    assert (
        extracted.returncode == 0
        and (out / "files" / "homework.pdf").read_bytes() == FILES["files/homework.pdf"]
    )
    bad = await anyio.run_process([seven_zip, "t", "-pwrong", str(path)], check=False)
    assert bad.returncode != 0


async def test_unzip_gets_nothing_out_without_the_password(tmp_path: Path) -> None:
    """LRS 6.8: Info-ZIP's unzip extracts nothing of the archive with a wrong password (a reader needs the
    password and WinZip AES: 7-Zip or a library; never the weak legacy ZipCrypto)."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("Info-ZIP unzip is not installed here")
    _, _, path = _sealed(tmp_path)
    out = tmp_path / "out"
    done = await anyio.run_process([unzip, "-o", "-Pwrong", str(path), "-d", str(out)], check=False)
    assert done.returncode != 0
    plain = [p.read_bytes() for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(b"A123456789012" not in data and b"%PDF" not in data for data in plain)

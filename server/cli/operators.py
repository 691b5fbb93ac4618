"""``schoolgraph operator create``: platform operator accounts (the /platform/graphql endpoint)."""

from __future__ import annotations

import asyncio

import typer

from common.clock import utcnow
from server.cli import common
from server.cli.common import console

app = typer.Typer(help="Platform operator accounts.", no_args_is_help=True)

OPTIONS = {"username": "--username", "displayName": "--name", "email": "--email", "password": "--password"}
"""Each input of ``operator create`` by the field name the service's problems use: the option that gave it."""


@app.command("create")
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

    settings = common.settings()
    urls = common.urls(settings)
    common.upgrade(settings, urls)
    auth = AuthRuntime.from_settings(settings, load_keys(settings))

    async def run() -> str:
        async with (
            common.runtime_engine(settings, urls) as engine,
            AsyncSession(engine, expire_on_commit=False) as session,
            session.begin(),
        ):
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

    try:
        chosen = asyncio.run(run())
    except DomainError as error:
        for problem in error.problems:
            option = OPTIONS.get(problem.field or "", problem.field or "input")
            console.print(f"[red]{option}: {problem.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Operator {username!r} created. Sign in at /platform/graphql.")
    if password is None:
        console.print(f"Temporary password (shown once; change it at first sign-in): [bold]{chosen}[/bold]")

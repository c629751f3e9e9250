"""``gateway clients``: the internal services allowed to call the gateway."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.common import echo_json, json_option, with_session
from gateway.clients.keys import IssuedKey
from gateway.clients.store import SCOPES, create_client, list_clients
from gateway.models import ServiceClient


@click.group()
def clients() -> None:
    """Service clients: their keys, scopes and proxy rules."""


@clients.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="Grant a scope (repeatable).",
)
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="'METHOD /pattern'",
    help="Let the client proxy matching calls (repeatable; * is one segment, ** any).",
)
@json_option
def create(name: str, scopes: tuple[str, ...], allow: tuple[str, ...], as_json: bool) -> None:
    """Create a client and print its key once, alone on the last line."""

    async def work(session: AsyncSession) -> tuple[ServiceClient, IssuedKey]:
        return await create_client(session, name, scopes, allow)

    client, issued = with_session(work)
    if as_json:
        echo_json(
            {
                "id": str(client.id),
                "name": client.name,
                "scopes": client.scopes,
                "allow": client.allow_rules,
                "key": issued.key,
            }
        )
        return
    click.echo(f"created client {client.name} ({client.id})", err=False)
    click.echo(f"scopes: {' '.join(client.scopes)}")
    click.echo(f"allow:  {', '.join(client.allow_rules) or '(nothing: proxy calls are denied)'}")
    click.echo("key (shown only now; store it in your secret manager):")
    click.echo(issued.key)


@clients.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List clients (never their keys)."""

    async def work(session: AsyncSession) -> list[dict[str, object]]:
        return [
            {
                "id": str(c.id),
                "name": c.name,
                "key_prefix": c.key_prefix,
                "scopes": c.scopes,
                "allow": c.allow_rules,
                "revoked": c.revoked_at is not None,
            }
            for c in await list_clients(session)
        ]

    rows = with_session(work)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['key_prefix']}…  {' '.join(row['scopes'])}")  # type: ignore[arg-type]

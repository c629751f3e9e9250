"""``gateway clients``: the internal services allowed to call the gateway.

A change made here reaches every running replica's cache of service keys within moments (the
database notifies them on commit; see ``gateway.proxy.cache``).
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import actor
from gateway.cli.context import echo_json, json_option, run_command, with_session
from gateway.clients.service_keys import IssuedKey
from gateway.clients.store import SCOPES, ClientChanges, find_client, list_clients
from gateway.clients.views import client_json
from gateway.management import clients as management
from gateway.management.clients import NewClient, rate_limit_of
from gateway.models import ServiceClient

RULE_HELP = "'METHOD /pattern': * is one segment, ** any number; repeatable"


@click.group()
def clients() -> None:
    """Service clients: their keys, scopes, proxy rules, user namespace and rate limit."""


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

    who = actor()

    async def work(session: AsyncSession) -> tuple[ServiceClient, IssuedKey]:
        return await management.create(session, NewClient(name, scopes, allow), actor=who)

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

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [client_json(c) for c in await list_clients(session)]

    rows = with_session(work)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "  (disabled)" if row["revoked"] else ""
        click.echo(f"{row['name']:<24} {row['key_prefix']}…  {' '.join(row['scopes'])}{state}")


@clients.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show one client: scopes, allow rules, user namespace, rate limit (never its key)."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return client_json(await find_client(session, name))

    row = with_session(work)
    if as_json:
        echo_json(row)
    else:
        _print(row)


@clients.command("update")
@click.argument("name")
@click.option(
    "--add-allow", multiple=True, metavar="'METHOD /pattern'", help=f"Add a rule ({RULE_HELP})."
)
@click.option("--remove-allow", multiple=True, metavar="'METHOD /pattern'", help="Remove a rule.")
@click.option("--add-scope", multiple=True, type=click.Choice(SCOPES), help="Grant a scope.")
@click.option("--remove-scope", multiple=True, type=click.Choice(SCOPES), help="Take a scope away.")
@click.option(
    "--own-users-only/--any-users",
    default=None,
    help="Confine the client to a space of its own connections (or lift that; existing connections stay where they are).",
)
@click.option(
    "--user-pattern",
    metavar="REGEX",
    help="Confine the client to user ids the regular expression matches in full.",
)
@click.option("--no-user-pattern", is_flag=True, help="Lift the user-id pattern.")
@click.option(
    "--rate-limit",
    metavar="RATE/UNIT",
    help="Requests per replica, e.g. 50/s, 3000/min (a token bucket in each replica).",
)
@click.option("--burst", type=int, help="Requests the bucket holds (default: one second's worth).")
@click.option("--no-rate-limit", is_flag=True, help="Lift the rate limit.")
@click.option("--disable/--enable", default=None, help="Refuse (or accept again) the client's key.")
@json_option
def update(
    name: str,
    add_allow: tuple[str, ...],
    remove_allow: tuple[str, ...],
    add_scope: tuple[str, ...],
    remove_scope: tuple[str, ...],
    own_users_only: bool | None,
    user_pattern: str | None,
    no_user_pattern: bool,
    rate_limit: str | None,
    burst: int | None,
    no_rate_limit: bool,
    disable: bool | None,
    as_json: bool,
) -> None:
    """Change a client; running gateways pick the change up within a second."""
    if user_pattern is not None and no_user_pattern:
        raise click.UsageError("--user-pattern and --no-user-pattern exclude each other")
    if rate_limit is not None and no_rate_limit:
        raise click.UsageError("--rate-limit and --no-rate-limit exclude each other")
    changes = ClientChanges(
        add_allow=add_allow,
        remove_allow=remove_allow,
        add_scopes=add_scope,
        remove_scopes=remove_scope,
        own_users_only=own_users_only,
        user_pattern=user_pattern,
        clear_user_pattern=no_user_pattern,
        rate_limit=run_command(lambda: rate_limit_of(rate_limit, burst)),
        clear_rate_limit=no_rate_limit,
        disabled=disable,
    )
    who = actor()

    async def work(session: AsyncSession) -> dict[str, Any]:
        return client_json(await management.change(session, name, changes, actor=who))

    row = with_session(work)
    if as_json:
        echo_json(row)
    else:
        _print(row)


@clients.command("revoke")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def revoke(name: str, yes: bool) -> None:
    """Stop accepting a client's key for good (running gateways stop within a second).

    `update --enable` undoes it; a new key needs a new client.
    """
    if not yes:
        click.confirm(f"Revoke client {name!r}? Its key stops working everywhere.", abort=True)
    who = actor()

    async def work(session: AsyncSession) -> dict[str, Any]:
        return client_json(await management.disable(session, name, actor=who))

    row = with_session(work)
    click.echo(f"revoked client {row['name']} ({row['id']}); its key no longer works")


@clients.command("rotate-key")
@click.argument("name")
@json_option
def rotate_key(name: str, as_json: bool) -> None:
    """Give a client a new key and print it once, alone on the last line; the old key stops
    working on every running gateway within a second."""
    who = actor()

    async def work(session: AsyncSession) -> tuple[ServiceClient, IssuedKey]:
        return await management.rotate_key(session, name, actor=who)

    client, issued = with_session(work)
    if as_json:
        echo_json({**client_json(client), "key": issued.key})
        return
    click.echo(f"new key for client {client.name} ({client.id}); the old one no longer works")
    click.echo("key (shown only now; store it in your secret manager):")
    click.echo(issued.key)


def _print(row: dict[str, Any]) -> None:
    limit = row["rate_limit"]
    namespace = [
        *(["only the connections in its own space"] if row["own_users_only"] else []),
        *([f"user ids matching {row['user_pattern']!r}"] if row["user_pattern"] else []),
    ]
    click.echo(f"client {row['name']} ({row['id']}){'  DISABLED' if row['revoked'] else ''}")
    click.echo(f"key:        {row['key_prefix']}…")
    click.echo(f"scopes:     {' '.join(row['scopes'])}")
    click.echo(f"allow:      {', '.join(row['allow']) or '(nothing: proxy calls are denied)'}")
    click.echo(f"users:      {' and '.join(namespace) or 'any'}")
    click.echo(
        "rate limit: "
        + (f"{limit['per_second']:g}/s, burst {limit['burst']} (per replica)" if limit else "none")
    )

"""``gateway connections keys``: issue, list and revoke a connection's delegated keys (keys that
may only proxy for that one connection, for a short while).

An operator at the CLI issues a key on behalf of a client (``--as``, by default the connection's
owner): the key carries that client's proxy rules (or fewer), rate limit and budget share. Audited
with the operator's login name. Exit codes: 0 done, 1 not found or refused, 2 usage.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import actor, parse_id
from gateway.cli.context import echo_json, json_option, with_session
from gateway.connections import delegated_keys, queries
from gateway.kit.pagination import MAX_LIMIT


@click.group("keys")
def keys() -> None:
    """Delegated keys: gateway keys that may only proxy for one connection, for a short while."""


@keys.command("create")
@click.argument("connection_id")
@click.option(
    "--ttl",
    "ttl_seconds",
    default=delegated_keys.DEFAULT_TTL_SECONDS,
    show_default=True,
    type=click.IntRange(1, delegated_keys.MAX_TTL_SECONDS),
    help="Seconds the key lives.",
)
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="'METHOD /pattern'",
    help="Let the key proxy matching calls (repeatable); each must be covered by one of the "
    "client's own rules. Default: the client's own rules.",
)
@click.option(
    "--as",
    "as_client",
    metavar="CLIENT",
    help="The client whose proxy power the key carries. Default: the connection's owner.",
)
@json_option
def create(
    connection_id: str,
    ttl_seconds: int,
    allow: tuple[str, ...],
    as_client: str | None,
    as_json: bool,
) -> None:
    """Issue a key for a connection and print it once, alone on the last line."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> dict[str, Any]:
        connection = await queries.get(session, wanted, for_update=True)
        issuer = await delegated_keys.client_issuer(session, connection, as_client)
        key, issued = await delegated_keys.issue(
            session,
            connection,
            issuer,
            ttl_seconds=ttl_seconds,
            allow=list(allow) or None,
            actor=actor(),
        )
        return delegated_keys.issued_json(key, issued, {issuer.client_id: issuer.name})

    answer = with_session(work)
    if as_json:
        echo_json(answer)
        return
    click.echo(f"issued delegated key {answer['id']} for connection {answer['connection_id']}")
    click.echo(f"on behalf of: {answer['client']}")
    click.echo(f"allow:        {', '.join(answer['allow']) or '(nothing)'}")
    click.echo(f"expires at:   {answer['expires_at']}")
    click.echo("key (shown only now):")
    click.echo(answer["key"])


@keys.command("list")
@click.argument("connection_id")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT), help="Page size."
)
@click.option("--cursor", help="The next_cursor a previous page printed.")
@json_option
def list_(connection_id: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """List a connection's delegated keys, newest first (never the keys themselves)."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> tuple[list[dict[str, Any]], str | None]:
        await queries.get(session, wanted)
        return await delegated_keys.listing(session, wanted, cursor=cursor, limit=limit)

    items, next_cursor = with_session(work)
    if as_json:
        echo_json({"items": items, "next_cursor": next_cursor})
        return
    if not items:
        click.echo("no delegated keys")
        return
    click.echo(f"{'ID':<36}  {'PREFIX':<11}  {'EXPIRES':<24}  {'REVOKED':<24}  ALLOW")
    for item in items:
        click.echo(
            f"{item['id']:<36}  {item['prefix']:<11}  {item['expires_at']:<24}  "
            f"{item['revoked_at'] or '-':<24}  {', '.join(item['allow'])}"
        )
    if next_cursor:
        click.echo(f"more: gateway connections keys list {wanted} --cursor {next_cursor}")


@keys.command("revoke")
@click.argument("connection_id")
@click.argument("key_id")
def revoke(connection_id: str, key_id: str) -> None:
    """Revoke a delegated key (a revoked one stays revoked); every replica drops it at once."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> None:
        await queries.get(session, wanted, for_update=True)
        await delegated_keys.revoke(session, wanted, key_id, actor=actor())

    with_session(work)
    click.echo(f"revoked delegated key {key_id}")

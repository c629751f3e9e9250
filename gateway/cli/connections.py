"""``gateway connections``: list, show, refresh, transfer users' connections and move a user's
default one (revoke: ``connections_revoke``; update and token: ``connections_update``).

Works on the database directly (the HTTP service may be down), through the same service functions
as the admin API. Exit codes: 0 done, 1 not found or refused, 2 usage.
"""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.cli.context import (
    check_startable,
    echo_json,
    json_option,
    run_command,
    settings,
    with_core,
    with_session,
)
from gateway.composition import Core
from gateway.connections import defaults, external_ids, ownership, queries
from gateway.connections.labels import Selector
from gateway.connections.on_demand import refresh_now
from gateway.connections.views import (
    connection_json,
    connections_json,
    etag,
    one_json,
    refresh_error_json,
    requested_json,
)
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.pagination import MAX_LIMIT
from gateway.models import AuditEvent, AuthMode, Connection, ConnectionStatus, PendingRevocation
from gateway.providers.spender import OPERATOR
from gateway.tokens.pending_revocations import pending_for

SHOWN_EVENTS = 10
STATUS_MEANING = {
    ConnectionStatus.ACTIVE: "usable; the gateway refreshes it ahead of expiry",
    ConnectionStatus.NEEDS_REAUTH: (
        "the provider rejected the user's grant; it is not refreshed or proxied until the user "
        "connects again (a new connect session reactivates this connection)"
    ),
    ConnectionStatus.REVOKED: (
        "revoked and its tokens erased; never refreshed or proxied (a new connect session "
        "for the user reactivates it)"
    ),
    ConnectionStatus.CREDENTIALS_UNREADABLE: (
        "its stored tokens do not open with the key ring; not refreshed or proxied until the user "
        "connects again, it is imported again, or the missing key is restored (then the refresher "
        "takes it up as it starts)"
    ),
}


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


def parse_id(text: str) -> uuid.UUID:
    """A malformed id names no connection: exit 1 like an unknown one."""
    return run_command(lambda: queries.parse_id(text))


@click.group()
def connections() -> None:
    """Users' connections: what state they are in, refresh and revoke them."""


@connections.command("list")
@click.option("--user", "user_id", help="Only this user's connections.")
@click.option("--provider", help="Only connections to this provider.")
@click.option("--status", type=click.Choice(queries.STATUSES), help="Only in this state.")
@click.option(
    "--auth-mode",
    type=click.Choice(queries.AUTH_MODES),
    help="Only connections that hold or obtain their credential so.",
)
@click.option(
    "--label",
    "selectors",
    multiple=True,
    help="Only connections with this label: key=value, or key for any value (repeatable; all "
    "must match).",
)
@click.option("--external-id", help="Only connections with this external id.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT), help="Page size."
)
@click.option("--cursor", help="The next_cursor a previous page printed.")
@json_option
def list_(
    user_id: str | None,
    provider: str | None,
    status: str | None,
    auth_mode: str | None,
    selectors: tuple[str, ...],
    external_id: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List connections, newest first."""
    try:
        labels = tuple(Selector.parse(selector) for selector in selectors)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--label") from exc
    where = queries.ConnectionFilter(
        user_id=user_id,
        provider=provider,
        status=ConnectionStatus(status) if status is not None else None,
        labels=labels,
        external_id=external_id,
        auth_mode=AuthMode(auth_mode) if auth_mode is not None else None,
    )

    async def work(session: AsyncSession) -> tuple[list[dict[str, Any]], str | None]:
        page = await queries.page(session, where, cursor=cursor, limit=limit)
        return await connections_json(session, page.items), page.next_cursor

    items, next_cursor = with_session(work)
    if as_json:
        echo_json({"items": items, "next_cursor": next_cursor})
        return
    if not items:
        click.echo("no connections match")
        return
    click.echo(f"{'ID':<36}  {'USER':<24}  {'PROVIDER':<10}  {'STATUS':<12}  ACCESS TOKEN EXPIRES")
    for item in items:
        click.echo(
            f"{item['id']:<36}  {item['user_id'][:24]:<24}  {item['provider'][:10]:<10}  "
            f"{item['status']:<12}  {item['access_token_expires_at'] or '-'}"
        )
    if next_cursor:
        click.echo(f"more: gateway connections list --cursor {next_cursor}")


@dataclass(frozen=True)
class Details:
    connection: Connection
    owner: str
    external_ids: list[str]
    pending: PendingRevocation | None
    events: list[AuditEvent]


def shown(connection: Connection) -> dict[str, Any]:
    """The connection's JSON, its owner's name and external ids read in a session of its own."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await one_json(session, connection)

    return with_session(work)


@connections.command("show")
@click.argument("connection_id")
@json_option
def show(connection_id: str, as_json: bool) -> None:
    """What state a connection is in, and what happened to it lately."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> Details:
        connection = await queries.get(session, wanted)
        pending = await pending_for(session, wanted)
        events = list(await audit.latest(session, wanted, SHOWN_EVENTS))
        owner = await ownership.owner_name(session, connection)
        ids = await external_ids.of_one(session, wanted)
        return Details(connection, owner, ids, pending, events)

    details = with_session(work)
    if as_json:
        echo_json(
            {
                **connection_json(details.connection, details.owner, details.external_ids),
                "etag": etag(details.connection),
                "pending_upstream_revocation": _pending_json(details.pending),
                "audit_events": [audit.event_json(event) for event in details.events],
            }
        )
        return
    for line in describe(details):
        click.echo(line)


@connections.command("refresh")
@click.argument("connection_id")
@json_option
def refresh(connection_id: str, as_json: bool) -> None:
    """Refresh a connection's tokens now: a fresh access token from the stored grant, obtained
    and stored (with the same lease as the refresher; never printed). Also named ``token``."""
    check_startable(settings())
    wanted = parse_id(connection_id)

    async def work(core: Core) -> Connection:
        return await refresh_now(core.db, core.refresher, wanted, OPERATOR)

    connection = with_core(work)
    if as_json:
        echo_json(shown(connection))
        return
    click.echo(
        f"refreshed connection {connection.id}: the access token now expires at "
        f"{rfc3339(connection.expires_at) or 'an unknown time'}"
    )


connections.add_command(refresh, name="token")


@connections.command("transfer")
@click.argument("connection_id")
@click.option(
    "--to",
    "to",
    required=True,
    help="The new owner: a client's name, or 'operator'. The connection moves into its space.",
)
@json_option
def transfer(connection_id: str, to: str, as_json: bool) -> None:
    """Give a connection to another owner, in that owner's space (audited)."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> tuple[Connection, dict[str, Any]]:
        connection = await ownership.transfer(session, wanted, to, actor=actor())
        return connection, await one_json(session, connection)

    connection, body = with_session(work)
    owner = body["owner"]
    if as_json:
        echo_json(body)
        return
    space = "its own space" if connection.confined_to_client_id is not None else "the shared space"
    click.echo(f"connection {connection.id} now belongs to {owner}, in {space}")


@connections.command("default")
@click.argument("connection_id")
@json_option
def default(connection_id: str, as_json: bool) -> None:
    """Make a connection its user's default for its provider and space (audited)."""
    wanted = parse_id(connection_id)

    async def work(session: AsyncSession) -> tuple[Connection, dict[str, Any]]:
        connection = await queries.get(session, wanted, for_update=True)
        connection = await defaults.make_default(
            session, ownership.AS_OPERATOR, connection, audit_actor=actor()
        )
        return connection, await one_json(session, connection)

    connection, shown = with_session(work)
    if as_json:
        echo_json(shown)
        return
    click.echo(
        f"connection {connection.id} is now {connection.user_id}'s default "
        f"{connection.provider} connection"
    )


def describe(details: Details) -> list[str]:
    """The ``show`` text: enough for an operator to tell what happened and what to do."""
    c = details.connection
    error = refresh_error_json(c.last_refresh_error)
    lines = [
        f"connection {c.id}",
        f"  user:                {c.user_id}",
        f"  provider:            {c.provider} (account {c.subject})",
        f"  owner:               {details.owner}"
        + (" (in its own space)" if c.confined_to_client_id is not None else " (shared)"),
        f"  status:              {c.status.value}: {STATUS_MEANING[c.status]}"
        + ("" if c.enabled else " (paused: the proxy refuses it; it is still refreshed)"),
        f"  auth mode:           {c.auth_mode}",
        *_requested(c),
        f"  labels:              {_pairs(c.labels) or '-'}",
        f"  external ids:        {' '.join(details.external_ids) or '-'}",
        f"  metadata keys:       {' '.join(sorted(c.metadata_)) or '-'}",
        f"  scopes:              {' '.join(c.scopes or []) or '-'}",
        f"  created:             {rfc3339(c.created_at)}",
        f"  last connected:      {rfc3339(c.connected_at)}",
        f"  updated:             {rfc3339(c.updated_at)}",
        f"  access token:        {_expiry(c, c.expires_at)}",
        f"  refresh token:       {_expiry(c, c.refresh_token_expires_at)}",
        f"  last refreshed:      {rfc3339(c.last_refreshed_at) or 'never'}",
        f"  next refresh:        {rfc3339(c.next_refresh_at) or '-'}",
        f"  failures in a row:   {c.consecutive_failures}",
    ]
    if error:
        lines.append(
            f"  last refresh error:  {error['code']}: {error['message']} (at {error['at'] or '?'})"
        )
    if details.pending is not None:
        p = details.pending
        lines.append(
            f"  upstream revocation: pending after {p.attempts} attempt(s); next at "
            f"{rfc3339(p.next_attempt_at)}; last error: {p.last_error or '-'}"
        )
    lines.append("recent events (newest first):")
    if not details.events:
        lines.append("  none")
    for event in details.events:
        extra = ", ".join(f"{k}={v}" for k, v in event.details.items())
        lines.append(
            f"  {rfc3339(event.occurred_at)}  {event.action:<40} by {event.actor}"
            + (f"  ({extra})" if extra else "")
        )
    return lines


def _requested(connection: Connection) -> list[str]:
    """What a client-credentials exchange asks for; nothing for other auth modes."""
    asked = requested_json(connection)
    if asked is None:
        return []
    return [
        f"  requested scopes:    {' '.join(asked['scopes']) or '-'}",
        f"  requested audience:  {asked['audience'] or '-'}",
        f"  requested resources: {' '.join(asked['resources']) or '-'}",
    ]


def _pairs(labels: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _expiry(connection: Connection, moment: datetime | None) -> str:
    if connection.status is ConnectionStatus.REVOKED and connection.access_token is None:
        return "none (revoked and erased)"
    if moment is None:
        return "expiry unknown"
    left = (moment - utcnow()).total_seconds()
    when = rfc3339(moment)
    if left <= 0:
        return f"expired at {when}"
    hours, rest = divmod(int(left), 3600)
    return f"expires at {when} (in {hours}h {rest // 60:02d}m)"


def _pending_json(pending: PendingRevocation | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    return {
        "attempts": pending.attempts,
        "next_attempt_at": rfc3339(pending.next_attempt_at),
        "last_error": pending.last_error,
    }

"""``gateway subscriptions``: an operator manages any service client's subscriptions to outbound
events, as the admin API lets a client manage its own (``gateway.subscriptions``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import actor
from gateway.cli.context import (
    EXIT_FAILED,
    echo_json,
    json_option,
    run_command,
    with_core,
    with_session,
)
from gateway.clients.store import find_client
from gateway.composition import Core
from gateway.events import subscriptions as stored
from gateway.kit.pagination import MAX_LIMIT
from gateway.subscriptions import checks, store
from gateway.subscriptions.store import DELIVERY_STATES

event_type_option = click.option(
    "--event-type",
    "event_types",
    multiple=True,
    metavar="TYPE",
    help="An event type, a prefix ending .* (connection.*), or * (repeatable).",
)
label_option = click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY[=VALUE]",
    help="A label selector term the connection's labels must hold (repeatable).",
)


@click.group()
def subscriptions() -> None:
    """Service clients' subscriptions to outbound events: URLs, types, labels, secrets."""


def parse_id(text: str) -> uuid.UUID:
    return run_command(lambda: store.parse_id(text))


def echo_subscription(item: dict[str, Any]) -> None:
    state = "enabled" if item["enabled"] else "disabled"
    click.echo(f"{item['id']}  {state}  client {item['client_id']}")
    click.echo(f"  url:    {item['url']}")
    click.echo(f"  types:  {' '.join(item['event_types'])}")
    click.echo(f"  labels: {' '.join(item['label_selector']) or '(any)'}")
    for secret in item["secrets"]:
        click.echo(f"  secret: expires {secret['expires_at'] or 'at the next rotation'}")


def echo(item: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(item)
    else:
        echo_subscription(item)


def echo_secret(item: dict[str, Any], secret: str, as_json: bool) -> None:
    """The subscription, then its new secret alone on the last line (shown only now)."""
    echo({**item, "secret": secret} if as_json else item, as_json)
    if as_json:
        return
    click.echo("signing secret (shown only now; give it to the receiving service):")
    click.echo(secret)


@subscriptions.command("create")
@click.option("--client", "client_name", required=True, help="The service client's name.")
@click.option("--url", required=True, help="https URL the events are POSTed to.")
@event_type_option
@label_option
@click.option("--disabled", is_flag=True, help="Create it disabled (nothing is sent).")
@json_option
def create(
    client_name: str,
    url: str,
    event_types: tuple[str, ...],
    labels: tuple[str, ...],
    disabled: bool,
    as_json: bool,
) -> None:
    """Subscribe a client; prints its first signing secret once, alone on the last line."""

    async def work(core: Core) -> tuple[dict[str, Any], str]:
        policy = stored.egress_policy(core.settings)
        spec = await checks.checked_spec(policy, url, event_types, labels, enabled=not disabled)
        async with core.db.transaction() as session:
            client = await find_client(session, client_name)
            item, secret = await stored.create(session, core.keys, client.id, spec)
            store.audited(session, actor(), "created", item.id)
            return store.as_json(item, [None]), secret

    item, secret = with_core(work)
    echo_secret(item, secret, as_json)


@subscriptions.command("list")
@click.option("--client", "client_name", help="Only this client's.")
@click.option("--limit", default=MAX_LIMIT, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@json_option
def list_command(client_name: str | None, limit: int, as_json: bool) -> None:
    """List subscriptions, newest first (never a secret)."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        owner = (await find_client(session, client_name)).id if client_name else None
        found = await store.page(session, owner, cursor=None, limit=limit)
        return [store.as_json(item) for item in found.items]

    items = with_session(work)
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("no subscriptions")
    for item in items:
        state = "" if item["enabled"] else "  (disabled)"
        click.echo(f"{item['id']}  {item['url']}  {' '.join(item['event_types'])}{state}")


@subscriptions.command("show")
@click.argument("subscription_id")
@json_option
def show(subscription_id: str, as_json: bool) -> None:
    """Show one subscription and when its secrets expire (never a secret)."""
    wanted = parse_id(subscription_id)

    async def work(session: AsyncSession) -> dict[str, Any]:
        item = await store.find(session, wanted, None)
        return store.as_json(item, await stored.secret_expiries(session, item.id))

    item = with_session(work)
    echo(item, as_json)


@subscriptions.command("update")
@click.argument("subscription_id")
@click.option("--url", help="A new URL (for events written from now on).")
@event_type_option
@label_option
@click.option("--any-labels", is_flag=True, help="Drop the label selector.")
@click.option("--enable/--disable", "enabled", default=None, help="Send (or hold) deliveries.")
@json_option
def update(
    subscription_id: str,
    url: str | None,
    event_types: tuple[str, ...],
    labels: tuple[str, ...],
    any_labels: bool,
    enabled: bool | None,
    as_json: bool,
) -> None:
    """Change a subscription: what is given replaces what was."""
    wanted = parse_id(subscription_id)
    if labels and any_labels:
        raise click.UsageError("pass --label or --any-labels, not both")

    async def work(core: Core) -> dict[str, Any]:
        changes = await checks.checked_changes(
            stored.egress_policy(core.settings),
            url=url,
            event_types=event_types or None,
            label_selector=labels or ([] if any_labels else None),
            enabled=enabled,
        )
        async with core.db.transaction() as session:
            item = await store.find(session, wanted, None, for_update=True)
            changes.apply(item)
            store.audited(session, actor(), "updated", item.id)
            await session.flush()
            await session.refresh(item)
            return store.as_json(item, await stored.secret_expiries(session, item.id))

    item = with_core(work)
    echo(item, as_json)


@subscriptions.command("delete")
@click.argument("subscription_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(subscription_id: str, yes: bool) -> None:
    """Delete a subscription and its delivery log."""
    wanted = parse_id(subscription_id)
    if not yes:
        click.confirm(f"Delete subscription {wanted} and its delivery log?", abort=True)

    async def work(session: AsyncSession) -> None:
        item = await store.find(session, wanted, None, for_update=True)
        await session.delete(item)
        store.audited(session, actor(), "deleted", wanted)

    with_session(work)
    click.echo(f"deleted subscription {wanted}")


@subscriptions.command("rotate-secret")
@click.argument("subscription_id")
@click.option(
    "--overlap-seconds",
    type=click.IntRange(0, 30 * 24 * 3600),
    help="How long the current secrets keep signing [default: "
    "GATEWAY_SUBSCRIPTION_SECRET_OVERLAP_SECONDS].",
)
@json_option
def rotate_secret(subscription_id: str, overlap_seconds: int | None, as_json: bool) -> None:
    """Add a new signing secret (printed once, alone on the last line); the current ones keep
    signing until the overlap ends."""
    wanted = parse_id(subscription_id)

    async def work(core: Core) -> tuple[dict[str, Any], str]:
        seconds = overlap_seconds
        if seconds is None:
            seconds = core.settings.subscription_secret_overlap_seconds
        async with core.db.transaction() as session:
            item = await store.find(session, wanted, None, for_update=True)
            secret = await stored.rotate(
                session, core.keys, item.id, overlap=timedelta(seconds=seconds)
            )
            store.audited(session, actor(), "secret_rotated", item.id)
            return store.as_json(item, await stored.secret_expiries(session, item.id)), secret

    item, secret = with_core(work)
    echo_secret(item, secret, as_json)


@subscriptions.command("ping")
@click.argument("subscription_id")
def ping(subscription_id: str) -> None:
    """Send a gateway.ping event to the subscription now; exit 1 unless it was delivered."""
    wanted = parse_id(subscription_id)

    async def work(core: Core) -> dict[str, Any]:
        deliverer = store.deliverer(core.db, core.http, core.keys, core.settings)
        return await store.ping(core.db, deliverer, wanted, None)

    result = with_core(work)
    if result["delivered"]:
        click.echo(f"delivered (webhook-id {result['event_id']})")
        return
    click.echo(f"not delivered: {result['error']}", err=True)
    raise click.exceptions.Exit(EXIT_FAILED)


@subscriptions.command("deliveries")
@click.argument("subscription_id")
@click.option("--state", type=click.Choice(DELIVERY_STATES), help="Only deliveries in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@json_option
def deliveries(subscription_id: str, state: str | None, limit: int, as_json: bool) -> None:
    """The subscription's delivery log, newest event first."""
    wanted = parse_id(subscription_id)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        await store.find(session, wanted, None)
        return await store.deliveries(session, wanted, state, limit)  # type: ignore[arg-type]

    items = with_session(work)
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("no deliveries")
    for item in items:
        error = f"  last: {item['last_error']}" if item["last_error"] else ""
        click.echo(
            f"{item['id']}  {item['event_type']:<32} {item['state']:<9} "
            f"{item['attempts']} attempts{error}"
        )


@subscriptions.command("replay")
@click.argument("subscription_id")
@click.argument("delivery_id")
def replay(subscription_id: str, delivery_id: str) -> None:
    """Send an abandoned delivery again, with a fresh set of attempts and the same webhook-id."""
    wanted = parse_id(subscription_id)
    try:
        delivery = uuid.UUID(delivery_id)
    except ValueError as exc:
        raise click.UsageError(f"not a delivery id: {delivery_id[:64]}") from exc

    async def work(session: AsyncSession) -> None:
        await store.find(session, wanted, None)
        await store.replay(session, wanted, delivery)
        store.audited(session, actor(), "delivery_replayed", wanted)

    with_session(work)
    click.echo(f"delivery {delivery} queued again")

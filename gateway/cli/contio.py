"""``gateway contio webhooks``: Contio's webhook to the gateway, managed through its admin API.

Every command uses the gateway's partner credentials (``GATEWAY_CONTIO_ADMIN_API_KEY``, and
``GATEWAY_CONTIO_CLIENT_ID`` sent as ``X-Client-ID``) at ``GATEWAY_CONTIO_API_URL``, over the
providers' HTTP client of the composition root. ``filter --sync`` reads the subscriptions from the
gateway's database first, in a transaction of its own, and only then calls Contio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from gateway import composition
from gateway.cli.context import echo_json, json_option, run_command, settings, with_session
from gateway.events.subscriptions import subscribed_patterns
from gateway.providers.contio_admin import (
    PENDING_DISPOSITIONS,
    ContioAdmin,
    WebhookFilter,
    WebhookSettings,
    contio_admin,
)
from gateway.webhooks.catalogue import contio_filter_for

T = TypeVar("T")


@click.group()
def contio() -> None:
    """Contio's partner settings, through its admin API (GATEWAY_CONTIO_ADMIN_API_KEY)."""


@contio.group()
def webhooks() -> None:
    """Contio's webhook to the gateway: its state, its event filter, turning it on and off."""


@webhooks.command()
@json_option
def status(as_json: bool) -> None:
    """Show whether Contio sends events, where, its filter and its deliveries by status."""

    async def work(admin: ContioAdmin) -> tuple[WebhookSettings, dict[str, int]]:
        return await admin.webhook_settings(), await admin.delivery_totals()

    found, totals = _with_admin(work)
    if as_json:
        echo_json({**_as_json(found), "deliveries": totals})
        return
    _show(found)
    click.echo("deliveries: " + ", ".join(f"{name} {count}" for name, count in totals.items()))


@webhooks.command("filter")
@click.argument("event_types", nargs=-1)
@click.option("--exclude", is_flag=True, help="Send every type but these (default: only these).")
@click.option("--remove", is_flag=True, help="Remove the filter: Contio sends every type.")
@click.option(
    "--sync",
    is_flag=True,
    help="Include exactly the types some subscription wants, plus user.connection.revoked.",
)
@json_option
def filter_command(
    event_types: tuple[str, ...], exclude: bool, remove: bool, sync: bool, as_json: bool
) -> None:
    """Show Contio's event filter, or set it to EVENT_TYPES, --remove it or --sync it."""
    if sum([bool(event_types), remove, sync]) > 1 or (exclude and not event_types):
        raise click.UsageError("name event types (with --exclude, if wanted), --remove or --sync")
    if sync:
        chosen: WebhookFilter | None = WebhookFilter(
            "include", tuple(contio_filter_for(with_session(subscribed_patterns)))
        )
    elif event_types:
        chosen = WebhookFilter("exclude" if exclude else "include", event_types)
    else:
        chosen = None

    async def work(admin: ContioAdmin) -> WebhookSettings:
        if not (sync or event_types or remove):
            return await admin.webhook_settings()
        return await admin.set_webhook_filter(chosen)

    found = _with_admin(work)
    if as_json:
        echo_json(_as_json(found))
        return
    _show(found)


@webhooks.command()
@click.option(
    "--pending",
    type=click.Choice(PENDING_DISPOSITIONS),
    default="deliver",
    show_default=True,
    help="What Contio does with the events it held while the webhook was off.",
)
def enable(pending: str) -> None:
    """Turn Contio's webhook on again (after Contio turned it off, or `disable`)."""

    async def work(admin: ContioAdmin) -> WebhookSettings:
        return await admin.set_webhook_enabled(True, pending)

    _show(_with_admin(work))


@webhooks.command()
def disable() -> None:
    """Turn Contio's webhook off: Contio holds the events until `enable`."""

    async def work(admin: ContioAdmin) -> WebhookSettings:
        return await admin.set_webhook_enabled(False)

    _show(_with_admin(work))


def _with_admin(work: Callable[[ContioAdmin], Awaitable[T]]) -> T:
    config = settings()
    run_command(lambda: config.require("contio_admin_api_key"))

    async def main() -> T:
        async with composition.provider_http(config) as http:
            admin = contio_admin(config, http)
            assert admin is not None  # the key is set
            return await work(admin)

    return run_command(lambda: asyncio.run(main()))


def _as_json(found: WebhookSettings) -> dict[str, object]:
    shown = found.filter
    return {
        "enabled": found.enabled,
        "url": found.url,
        "filter": None if shown is None else {"type": shown.type, "events": list(shown.events)},
    }


def _show(found: WebhookSettings) -> None:
    click.echo(f"webhook: {'on' if found.enabled else 'off'}")
    click.echo(f"url: {found.url or '(none)'}")
    shown = found.filter
    if shown is None:
        click.echo("filter: none (every event type is sent)")
    else:
        click.echo(f"filter: {shown.type} {', '.join(shown.events) or '(no types)'}")

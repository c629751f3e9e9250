"""``gateway events``: the dead-letter list of events nobody received, and re-sending them; the
provider webhook events that matched no connection."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import composition
from gateway.cli.context import (
    EXIT_FAILED,
    echo_json,
    json_option,
    run_command,
    settings,
    with_session,
)
from gateway.events.dead_letters import DeadLetter, list_dead, replay
from gateway.kit.crypto import DecryptionError
from gateway.webhooks import unmatched


@click.group()
def events() -> None:
    """Events for internal services: what could not be delivered, and provider events that
    matched no connection."""


@events.command("dead")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def dead(limit: int, as_json: bool) -> None:
    """List deliveries abandoned after their last attempt, newest first."""

    async def work(session: AsyncSession) -> list[DeadLetter]:
        return await list_dead(session, limit)

    letters = with_session(work)
    if as_json:
        echo_json([letter.__dict__ for letter in letters])
        return
    if not letters:
        click.echo("no undeliverable events")
        return
    for letter in letters:
        click.echo(
            f"{letter.delivery_id}  {letter.event_type:<28} {letter.endpoint}  "
            f"{letter.attempts} attempts, last: {letter.last_error or '?'}  "
            f"abandoned {letter.abandoned_at:%Y-%m-%d %H:%M}Z"
        )


@events.command("replay")
@click.argument("delivery_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Re-send every abandoned delivery.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation with --all.")
def replay_command(delivery_ids: tuple[str, ...], replay_all: bool, yes: bool) -> None:
    """Re-send abandoned deliveries (by id from `gateway events dead`, or --all).

    The events keep their ids, so receivers that deduplicate on webhook-id stay safe.
    """
    if bool(delivery_ids) == replay_all:
        raise click.UsageError("name delivery ids or pass --all (not both)")
    try:
        ids = [uuid.UUID(value) for value in delivery_ids] if delivery_ids else None
    except ValueError as exc:
        raise click.UsageError(f"not a delivery id: {exc}") from exc
    if replay_all and not yes:
        click.confirm("Re-send every abandoned delivery?", abort=True)

    async def work(session: AsyncSession) -> int:
        return await replay(session, ids)

    count = with_session(work)
    click.echo(f"{count} deliver{'y' if count == 1 else 'ies'} queued again")
    if ids is not None and count < len(ids):
        raise click.exceptions.Exit(EXIT_FAILED)


@events.command("unmatched")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--type", "event_type", help="Only events of this provider event type.")
@click.option(
    "--show-data", is_flag=True, help="Also print each event's data (it may name people)."
)
@json_option
def unmatched_command(limit: int, event_type: str | None, show_data: bool, as_json: bool) -> None:
    """List provider webhook events that matched no connection, newest first (never forwarded;
    kept for GATEWAY_UNMATCHED_EVENT_RETENTION_DAYS)."""
    keys = run_command(lambda: composition.key_ring(settings())) if show_data else None

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        page = await unmatched.page(session, event_type=event_type, cursor=None, limit=limit)
        rows = []
        for event in page.items:
            row = unmatched.event_json(event)
            if keys is not None:
                try:
                    row["data"] = unmatched.opened_data(keys, event)
                except DecryptionError:
                    row["data"] = "(does not open with the key ring)"
            rows.append(row)
        return rows

    rows = with_session(work)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no unmatched events")
        return
    for row in rows:
        click.echo(
            f"{row['received_at']}  {row['provider']}  {row['event_type']:<36} "
            f"{row['event_id']}  user {row['subject'] or '-'}"
        )
        if "data" in row:
            click.echo(f"    {json.dumps(row['data'])}")

"""``gateway events``: the dead-letter list of events nobody received, and re-sending them."""

from __future__ import annotations

import uuid

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.context import EXIT_FAILED, echo_json, json_option, with_session
from gateway.events.dead_letters import DeadLetter, list_dead, replay


@click.group()
def events() -> None:
    """Events for internal services: what could not be delivered."""


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

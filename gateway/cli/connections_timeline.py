"""``gateway connections timeline``: what happened to a connection, newest first (the same timeline
entries as ``GET /v1/connections/{id}/events``)."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import parse_id
from gateway.cli.context import echo_json, json_option, with_session
from gateway.connections import queries
from gateway.connections.timeline import sources
from gateway.connections.timeline.entries import KINDS, OUTBOUND_EVENT, TimelineEntry, entry_json
from gateway.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

DETAILS_WIDTH = 100


@click.command("timeline")
@click.argument("connection_id")
@click.option(
    "--limit",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=click.IntRange(1, MAX_LIMIT),
    help="Entries per page.",
)
@click.option("--cursor", help="The next_cursor a previous page printed.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Only entries of this kind (repeatable).",
)
@json_option
def timeline(
    connection_id: str, limit: int, cursor: str | None, kinds: tuple[str, ...], as_json: bool
) -> None:
    """What happened to a connection, newest first: refreshes, changes, webhooks, events sent."""
    wanted = parse_id(connection_id)
    where = sources.TimelineFilter(kinds=frozenset(kinds) if kinds else None)

    async def work(session: AsyncSession) -> Page[TimelineEntry]:
        await queries.get(session, wanted)
        return await sources.page(session, wanted, where, cursor=cursor, limit=limit)

    page = with_session(work)
    items = [entry_json(entry) for entry in page.items]
    if as_json:
        echo_json({"items": items, "next_cursor": page.next_cursor})
        return
    if not items:
        click.echo("nothing in this connection's timeline")
        return
    click.echo(f"{'AT':<24}  {'KIND':<22}  {'ACTOR':<24}  DETAILS")
    for item in items:
        click.echo(
            f"{item['at']:<24}  {item['kind']:<22}  {(item['actor'] or '-')[:24]:<24}  "
            f"{summary(item)}"
        )
    if page.next_cursor:
        click.echo(f"more: gateway connections timeline {wanted} --cursor {page.next_cursor}")


def summary(item: dict[str, Any]) -> str:
    """The details on one line: ``key=value`` pairs; an outbound event's deliveries as
    ``endpoint: state``."""
    details = dict(item["details"])
    deliveries = details.pop("deliveries", None) if item["kind"] == OUTBOUND_EVENT else None
    parts = [f"{key}={_value(value)}" for key, value in details.items() if value is not None]
    if deliveries is not None:
        parts += [f"{d['endpoint']}: {d['state']}" for d in deliveries] or ["no endpoints"]
    line = ", ".join(parts)
    return line if len(line) <= DETAILS_WIDTH else line[: DETAILS_WIDTH - 1] + "…"


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

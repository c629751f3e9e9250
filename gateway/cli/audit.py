"""``gateway audit tail``: the audit trail as it is written, who did what to which connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta

import click
from sqlalchemy import func, select

from gateway import composition
from gateway.audit import store as audit
from gateway.cli.context import json_option, run_command, settings
from gateway.composition import database_url
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.pagination import MAX_LIMIT
from gateway.models import AuditEvent

# Rows carry their transaction's start time, so one committed late can be older than one already
# shown: each poll looks back this far and skips what it printed.
OVERLAP = timedelta(seconds=30)


@click.group()
def audit_group() -> None:
    """The audit trail: who did what to which connection or client, and when."""


@audit_group.command("tail")
@click.option("-n", "--lines", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--connection", "connection_id", type=click.UUID, help="Only this connection.")
@click.option("--action", help="Only this action, e.g. connection.revoked.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.1, 60))
@json_option
def tail(
    lines: int,
    connection_id: uuid.UUID | None,
    action: str | None,
    follow: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Print the newest audit events, oldest first; with --follow, keep printing new ones."""
    url = run_command(lambda: database_url(settings(), migrate_embedded=True))

    async def main() -> None:
        async with composition.database(url, pool_size=1) as db:
            async with db.transaction() as session:
                started = await session.scalar(select(func.now())) or utcnow()
                newest = await audit.page(
                    session, connection_id=connection_id, action=action, cursor=None, limit=lines
                )
                # Older events within the look-back are not new: never print them when following.
                recent = await audit.since(
                    session, started - OVERLAP, connection_id=connection_id, action=action
                )
            shown = list(reversed(newest.items))
            _print(shown, as_json)
            seen = {event.id for event in [*shown, *recent]}
            while follow:
                await asyncio.sleep(interval)
                last = shown[-1].occurred_at if shown else started
                async with db.transaction() as session:
                    fresh = [
                        e
                        for e in await audit.since(
                            session, last - OVERLAP, connection_id=connection_id, action=action
                        )
                        if e.id not in seen
                    ]
                _print(fresh, as_json)
                seen.update(e.id for e in fresh)
                shown.extend(fresh)

    with contextlib.suppress(KeyboardInterrupt):
        run_command(lambda: asyncio.run(main()))


def _print(events: Sequence[AuditEvent], as_json: bool) -> None:
    for event in events:
        if as_json:
            click.echo(json.dumps(audit.event_json(event)))
            continue
        extra = ", ".join(f"{k}={v}" for k, v in event.details.items())
        target = f" connection {event.connection_id}" if event.connection_id else ""
        click.echo(
            f"{rfc3339(event.occurred_at)}  {event.action:<36} by {event.actor}{target}"
            + (f"  ({extra})" if extra else "")
        )

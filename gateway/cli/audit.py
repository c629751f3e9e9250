"""``gateway audit``: the audit trail as it is written (``tail``), its hash chain (``seal``,
``verify``) and its entries for other systems (``export``)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import io
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import click
from sqlalchemy import func, select

from gateway import composition
from gateway.audit import chain
from gateway.audit import store as audit
from gateway.audit import stream as audit_stream
from gateway.cli.context import json_option, run_command, settings
from gateway.composition import database_url
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.pagination import MAX_LIMIT
from gateway.models import AuditEvent, AuditSegment

# Rows carry their transaction's start time, so one committed late can be older than one already
# shown: each poll looks back this far and skips what it printed.
OVERLAP = timedelta(seconds=30)
EXPORT_BATCH = 1000
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "connection_id",
    "source_address",
    "user_agent",
    "details",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Moment(click.ParamType[datetime, Any]):
    """An RFC 3339 time; one without an offset is taken as UTC."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


MOMENT = Moment()


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
                chosen = audit.Filter(connection_id=connection_id, action=action)
                newest = await audit.page(session, chosen, cursor=None, limit=lines)
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


@audit_group.command("seal")
def seal() -> None:
    """Seal the committed entries no segment holds yet into the next chained segment now (the
    worker does this every GATEWAY_AUDIT_SEAL_INTERVAL_SECONDS)."""
    url = run_command(lambda: database_url(settings(), migrate_embedded=True))

    async def main() -> AuditSegment | None:
        async with composition.database(url, pool_size=1) as db:
            return await audit_stream.seal(db)

    segment = run_command(lambda: asyncio.run(main()))
    if segment is None:
        click.echo("nothing to seal")
    else:
        click.echo(
            f"sealed segment {segment.seq}: {segment.entries} entries, anchor {segment.anchor}"
        )


@audit_group.command("verify")
@click.option(
    "--anchors",
    type=click.File("r"),
    help="The audit stream (JSON lines): also check the stored anchors against the ones it has.",
)
@json_option
def verify(anchors: TextIO | None, as_json: bool) -> None:
    """Recompute the hash chain of every sealed segment; exit 1 at the first break, naming it."""
    url = run_command(lambda: database_url(settings(), migrate_embedded=True))
    published = _published_anchors(anchors) if anchors is not None else []

    async def main() -> chain.Verification:
        async with composition.database(url, pool_size=1) as db:
            result = await db.read(chain.verify)
            if result.first_break is not None or not published:
                return result
            differs = await db.read(lambda session: chain.compare_anchors(session, published))
            return dataclasses.replace(result, first_break=differs)

    result = run_command(lambda: asyncio.run(main()))
    found = result.first_break
    if as_json:
        click.echo(
            json.dumps(
                {
                    "intact": found is None,
                    "segments": result.segments,
                    "entries": result.entries,
                    "unsealed": result.unsealed,
                    "first_break": None
                    if found is None
                    else {
                        "segment": found.segment,
                        "entry_id": str(found.entry_id) if found.entry_id else None,
                        "reason": found.reason,
                    },
                }
            )
        )
    elif found is None:
        click.echo(
            f"intact: {result.segments} segments, {result.entries} entries"
            f" ({result.unsealed} not sealed yet)"
        )
    else:
        entry = f", entry {found.entry_id}" if found.entry_id else ""
        click.echo(f"broken at segment {found.segment}{entry}: {found.reason}")
    if found is not None:
        raise SystemExit(1)


@audit_group.command("export")
@click.option("--since", required=True, type=MOMENT, help="From this time (RFC 3339), inclusive.")
@click.option("--until", type=MOMENT, help="Up to this time (RFC 3339), exclusive.")
@click.option("--format", "output", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--actor", help="Only this actor, e.g. client:billing or cli:alice.")
@click.option("--action", help="Only this action, e.g. connection.revoked.")
@click.option("--connection", "connection_id", type=click.UUID, help="Only this connection.")
def export(
    since: datetime,
    until: datetime | None,
    output: str,
    actor: str | None,
    action: str | None,
    connection_id: uuid.UUID | None,
) -> None:
    """Write the chosen audit entries to stdout, oldest first, as JSON lines or CSV."""
    url = run_command(lambda: database_url(settings(), migrate_embedded=True))
    chosen = audit.Filter(connection_id, action, actor, since, until)
    write = _csv_writer() if output == "csv" else _jsonl

    async def main() -> None:
        async with composition.database(url, pool_size=1) as db:
            after: tuple[datetime, uuid.UUID] | None = None
            while True:
                async with db.transaction() as session:
                    batch = await audit.oldest_first(
                        session, chosen, after=after, limit=EXPORT_BATCH
                    )
                for event in batch:
                    write(audit.event_json(event))
                if len(batch) < EXPORT_BATCH:
                    return
                after = (batch[-1].occurred_at, batch[-1].id)

    run_command(lambda: asyncio.run(main()))


def _published_anchors(stream: TextIO) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise click.ClickException(f"line {number} of the stream is not JSON") from exc
        if isinstance(item, dict) and item.get("type") == "audit.anchor":
            found.append((int(item["segment"]), str(item["anchor"])))
    return found


def _jsonl(entry: dict[str, Any]) -> None:
    click.echo(json.dumps(entry, separators=(",", ":")))


def _csv_writer() -> Callable[[dict[str, Any]], None]:
    def row(cells: Iterable[str]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        click.echo(buffer.getvalue(), nl=False)

    row(CSV_COLUMNS)
    return lambda entry: row(_cell(entry[column]) for column in CSV_COLUMNS)


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading ``'``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return "'" + text if text.startswith(FORMULA_STARTS) else text

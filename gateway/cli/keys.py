"""``gateway keys``: make a key, see what each key seals, and re-seal everything under the active key."""

from __future__ import annotations

import sys

import click
from click._termui_impl import ProgressBar

from gateway.cli.context import EXIT_FAILED, echo_json, json_option, run_command, with_core
from gateway.composition import Core
from gateway.keys import check, rotation
from gateway.kit.crypto import KeyRing, generate_key_entry


@click.group()
def keys() -> None:
    """Encryption keys for secrets at rest (runbook: README, "Rotating the encryption key")."""


@keys.command("generate")
@click.option("--id", "key_id", default="k1", show_default=True, help="Key id ([A-Za-z0-9_-]+).")
def generate(key_id: str) -> None:
    """Print a new KEY_ID:BASE64 entry for GATEWAY_ENCRYPTION_KEYS."""
    click.echo(run_command(lambda: generate_key_entry(key_id)))


@keys.command("status")
@json_option
def status(as_json: bool) -> None:
    """How many stored values each key seals (the active key is marked, a key the ring lacks is
    named), and how many connections' tokens do not open with the ring (every value is opened)."""

    async def work(core: Core) -> tuple[dict[str, int], check.Findings, KeyRing]:
        counts = dict(await rotation.usage(core.db))
        return counts, await check.check(core.db, core.keys), core.keys

    counts, findings, ring = with_core(work)
    active = ring.active_key_id
    missing = sorted(key_id for key_id in counts if key_id not in ring.key_ids)
    if as_json:
        echo_json(
            {
                "active_key": active,
                "values_by_key": counts,
                "keys_not_in_ring": missing,
                "unreadable_connections": len(findings.connections),
                "unreadable_rows_by_table": findings.rows,
            }
        )
        return
    if not counts:
        click.echo(f"nothing is sealed yet; the active key is {active}")
    for key_id, count in sorted(counts.items()):
        note = "  (active)" if key_id == active else ""
        if key_id in missing:
            note = "  (not in the key ring: these values cannot be opened)"
        click.echo(f"{key_id:<16} {count:>10}{note}")
    click.echo(f"connections whose tokens do not open: {len(findings.connections)}")
    for table, rows in sorted(findings.rows.items()):
        click.echo(f"  {table}: {rows} row(s) with a value that does not open")
    if findings.connections:
        click.echo(
            "  see `gateway connections list --status credentials_unreadable`; a re-connect or an "
            "import fixes each, or restore the missing key and restart the worker"
        )


@keys.command("rotate")
def rotate() -> None:
    """Re-seal every stored secret under GATEWAY_ENCRYPTION_ACTIVE_KEY, while the service serves.

    Safe to interrupt and run again: it picks up what is still sealed under another key. It never
    overwrites a fresher token written by a refresh meanwhile.
    """

    async def work(core: Core) -> tuple[rotation.Report, str]:
        total = await rotation.count_stale(core.db, core.keys)
        bar: ProgressBar[int] = click.progressbar(length=total, label="re-sealing", file=sys.stderr)
        with bar:
            report = await rotation.rotate(core.db, core.keys, bar.update)
        return report, core.keys.active_key_id

    report, active = with_core(work)
    click.echo(f"re-sealed {report.rotated} rows under {active}")
    if report.unreadable:
        found = ", ".join(
            f"{table}: {len(ids)}" for table, ids in sorted(report.unreadable.items())
        )
        click.echo(
            f"left as they are, rows with a value that does not open with the key ring ({found}); "
            "`gateway keys status` counts them",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_FAILED)
    if report.remaining:
        left = ", ".join(f"{key_id}: {count}" for key_id, count in sorted(report.remaining.items()))
        click.echo(
            f"still sealed under other keys ({left}): is every replica running with "
            f"GATEWAY_ENCRYPTION_ACTIVE_KEY={active}? Run `gateway keys rotate` again.",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_FAILED)
    click.echo(
        "no stored value uses any other key: old keys can be removed from GATEWAY_ENCRYPTION_KEYS"
    )

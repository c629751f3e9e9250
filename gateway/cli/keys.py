"""``gateway keys``: make a key, see what each key seals, and re-seal everything under the active key."""

from __future__ import annotations

import sys

import click
from click._termui_impl import ProgressBar

from gateway.cli.common import EXIT_FAILED, echo_json, json_option, run_command
from gateway.cli.runtime import Runtime, with_runtime
from gateway.keys import rotation
from gateway.kit.crypto import generate_key_entry


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
    """How many stored values each key seals; the active key is marked."""

    async def work(runtime: Runtime) -> tuple[dict[str, int], str]:
        return dict(await rotation.usage(runtime.db)), runtime.keys.active_key_id

    counts, active = with_runtime(work)
    if as_json:
        echo_json({"active_key": active, "values_by_key": counts})
        return
    if not counts:
        click.echo(f"nothing is sealed yet; the active key is {active}")
    for key_id, count in sorted(counts.items()):
        click.echo(f"{key_id:<16} {count:>10}{'  (active)' if key_id == active else ''}")


@keys.command("rotate")
def rotate() -> None:
    """Re-seal every stored secret under GATEWAY_ENCRYPTION_ACTIVE_KEY, while the service serves.

    Safe to interrupt and run again: it picks up what is still sealed under another key. It never
    overwrites a fresher token written by a refresh meanwhile.
    """

    async def work(runtime: Runtime) -> tuple[rotation.Report, str]:
        total = await rotation.count_stale(runtime.db, runtime.keys)
        bar: ProgressBar[int] = click.progressbar(length=total, label="re-sealing", file=sys.stderr)
        with bar:
            report = await rotation.rotate(runtime.db, runtime.keys, bar.update)
        return report, runtime.keys.active_key_id

    report, active = with_runtime(work)
    click.echo(f"re-sealed {report.rotated} rows under {active}")
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

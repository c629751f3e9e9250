"""``gateway apply FILE``: configuration as code for service clients, their policies and their
subscriptions (the file's format: ``gateway.declarative.document``).

All or nothing: one transaction, audited as the operating-system user. A new client's key is
written to its ``key_file`` (mode 0600, never over an existing file) just before the commit, and
removed again if the commit fails, so a key on disk is always a key the database holds.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from gateway.cli.connections import actor
from gateway.cli.context import echo_json, json_option, run_command, with_core
from gateway.composition import Core
from gateway.declarative.document import DeclarationError, read_declaration
from gateway.declarative.reconcile import NewKey, Outcome, Reconciler, checked_specs
from gateway.events.subscriptions import egress_policy


class _DryRun(Exception):
    """Not an error: how a dry run leaves its transaction, rolled back."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("dry run")
        self.outcome = outcome


@click.command("apply")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Also disable the clients and delete the subscriptions the file leaves out.",
)
@json_option
def apply(file: Path, dry_run: bool, prune: bool, as_json: bool) -> None:
    """Make the database's service clients and subscriptions what FILE (YAML or JSON) declares.

    Prints each change (+ create, ~ update field by field, - disable or delete); applying the same
    file again changes nothing. Secrets are references in the file and never printed.
    """
    declared = run_command(lambda: read_declaration(file))
    who = actor()

    async def work(core: Core) -> Outcome:
        specs = await checked_specs(egress_policy(core.settings), declared)
        overlap = timedelta(seconds=core.settings.subscription_secret_overlap_seconds)
        written: list[Path] = []
        try:
            async with core.db.transaction() as session:
                reconciler = Reconciler(session, core.keys, actor=who, secret_overlap=overlap)
                outcome = await reconciler.run(declared, specs, prune=prune)
                if dry_run:
                    raise _DryRun(outcome)
                for new_key in outcome.new_keys:
                    _write_once(new_key)
                    written.append(new_key.path)
            return outcome
        except _DryRun as stopped:
            return stopped.outcome
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise

    outcome = with_core(work)
    if as_json:
        echo_json(_as_json(outcome, dry_run))
        return
    for change in outcome.changes:
        for line in change.lines():
            click.echo(line)
    count = len(outcome.changes)
    if not count:
        click.echo("no changes")
    elif dry_run:
        click.echo(f"dry run: {count} change{'s' * (count != 1)}, nothing applied")
    else:
        click.echo(f"applied {count} change{'s' * (count != 1)}")


def _write_once(new_key: NewKey) -> None:
    """Write the key to a new file only its owner reads; refuse an existing file."""
    try:
        descriptor = os.open(new_key.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise DeclarationError(
            f"cannot write the new key to {new_key.path}: {exc.strerror}"
        ) from exc
    with os.fdopen(descriptor, "w", encoding="utf-8") as key_file:
        key_file.write(new_key.key + "\n")


def _as_json(outcome: Outcome, dry_run: bool) -> dict[str, Any]:
    return {"dry_run": dry_run, "changes": [change.as_json() for change in outcome.changes]}
